/**
 * Cloister's `simulated` evidence (docs/protocol/attestation-response.md), through the same
 * contract as hardware evidence. The vendor signature is checked with a key the caller pinned in
 * `pinnedRoots.simulatedVendorKeys`; any other key is refused, even with a valid signature.
 * Simulated evidence is always debug, so it also needs `allowDebug: true`.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { base64ToBytes, hexToBytes, utf8 } from '../../protocol/encoding.js';
import {
  SimulatedEvidenceSchema,
  simulatedEvidenceSigningInput,
  type SimulatedEvidence,
} from '../../protocol/attestation/simulated-evidence.js';
import type { Claims, Reasons } from './policy.js';
import type { Evidence, EvidencePolicy } from './types.js';

/** The messages are the ones verifyAttestationResponse has always reported. */
export const SIMULATED_MESSAGES = {
  parse: 'not a simulated evidence document',
  untrusted: 'simulated platform refused (vendor key not in trustedSimulatedVendorKeys)',
  signature: 'vendor signature does not verify',
} as const;

export function verifySimulated(
  evidence: Evidence,
  policy: EvidencePolicy,
  reasons: Reasons,
): Claims | null {
  let doc: SimulatedEvidence;
  try {
    doc = SimulatedEvidenceSchema.parse(JSON.parse(utf8.decode(evidence.quote)));
  } catch {
    reasons.add('PARSE_ERROR', SIMULATED_MESSAGES.parse);
    return null;
  }
  const trusted = policy.pinnedRoots?.simulatedVendorKeys ?? [];
  if (!Array.isArray(trusted) || !trusted.includes(doc.vendor_key))
    reasons.add('ROOT_NOT_PINNED', SIMULATED_MESSAGES.untrusted);
  const { signature, ...body } = doc;
  let ok = false;
  try {
    // RFC 8032 rules, not ZIP-215: with a small-order vendor key (R = identity, S = 0) would
    // verify for any document.
    ok = ed25519.verify(
      base64ToBytes(signature),
      simulatedEvidenceSigningInput(body),
      base64ToBytes(doc.vendor_key),
      { zip215: false },
    );
  } catch {
    ok = false;
  }
  if (!ok) reasons.add('SIGNATURE_INVALID', SIMULATED_MESSAGES.signature);
  return {
    measurements: { measurement: doc.measurement, signer: doc.signer },
    primary: 'measurement',
    reportData: hexToBytes(doc.report_data),
    tcbStatus: null,
    debug: doc.debug,
    evidenceTime: doc.timestamp,
    details: { vendorKey: doc.vendor_key },
  };
}
