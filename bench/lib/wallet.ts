/** The attested enclave key a bench client seals to (verified like a real client would). */
import { CryptoHelper } from '../../src/client/index.js';
import type { BenchService } from './service.js';

export async function enclaveKeyOf(s: BenchService): Promise<{ pub: string; keyId: string }> {
  const nonce = CryptoHelper.newNonce();
  const res = await s.service.app.inject({
    method: 'GET',
    url: `/attestation/quote?nonce=${nonce}`,
  });
  const v = await CryptoHelper.verifyAttestation(res.json(), [s.measurement], {
    nonce,
    trustedSimulatedVendorKeys: [s.vendorKey],
  });
  if (!v.valid) throw new Error(`attestation refused: ${v.reasons.join(', ')}`);
  return { pub: v.enclavePubkey!, keyId: v.keyId! };
}
