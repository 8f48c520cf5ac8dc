/**
 * What the CLI trusts: the expected measurement(s) and, for the simulated platform, the vendor
 * key. Both must be given explicitly; the CLI never trusts what the server says about itself.
 */
import { readFileSync } from 'node:fs';
import { CryptoHelper, type AttestationVerification } from '../client/index.js';
import { requestJson } from './http.js';

export interface TrustOptions {
  url: string;
  expectMeasurement?: string[];
  trustSimulatedKey?: string[];
  trustSimulatedKeyFile?: string[];
  maxAge?: number;
  /** `--expect-cluster`: the cluster id the enclave must prove (docs/protocol/cluster.md). */
  expectCluster?: string;
}

export function trustedVendorKeys(o: TrustOptions): string[] {
  return [
    ...(o.trustSimulatedKey ?? []),
    ...(o.trustSimulatedKeyFile ?? []).map((f) => readFileSync(f, 'utf8').trim()),
  ];
}

export async function attest(
  o: TrustOptions,
): Promise<{ verification: AttestationVerification; attestation: unknown }> {
  const nonce = CryptoHelper.newNonce();
  const attestation = await requestJson(`${o.url}/attestation/quote?nonce=${nonce}`);
  const verification = await CryptoHelper.verifyAttestation(
    attestation,
    o.expectMeasurement ?? [],
    {
      nonce,
      trustedSimulatedVendorKeys: trustedVendorKeys(o),
      ...(o.maxAge ? { maxAgeSeconds: o.maxAge } : {}),
      ...(o.expectCluster ? { expectClusterId: o.expectCluster } : {}),
    },
  );
  return { verification, attestation };
}
