/**
 * Verifier for `simulated` evidence (docs/protocol/attestation-response.md). Checks the vendor
 * signature with a vendor key the caller explicitly trusts; anything else is refused. The same
 * checks real platforms get follow in verify-attestation.ts (measurement, report data, nonce).
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { base64ToBytes, utf8 } from '../../protocol/encoding.js';
import {
  SimulatedEvidenceSchema,
  simulatedEvidenceSigningInput,
  type SimulatedEvidence,
} from '../../protocol/attestation/simulated-evidence.js';
import type { EvidenceVerifier } from './types.js';

export const verifySimulatedEvidence: EvidenceVerifier = (quote, policy) => {
  let evidence: SimulatedEvidence;
  try {
    evidence = SimulatedEvidenceSchema.parse(JSON.parse(utf8.decode(quote)));
  } catch {
    return { ok: false, reasons: ['evidence: not a simulated evidence document'] };
  }
  const reasons: string[] = [];
  const trusted = policy.trustedSimulatedVendorKeys ?? [];
  if (!trusted.includes(evidence.vendor_key)) {
    reasons.push(
      'evidence: simulated platform refused (vendor key not in trustedSimulatedVendorKeys)',
    );
  }
  const { signature, ...body } = evidence;
  let signatureOk = false;
  try {
    signatureOk = ed25519.verify(
      base64ToBytes(signature),
      simulatedEvidenceSigningInput(body),
      base64ToBytes(evidence.vendor_key),
    );
  } catch {
    signatureOk = false;
  }
  if (!signatureOk) reasons.push('evidence: vendor signature does not verify');
  if (evidence.debug && policy.allowDebug === false)
    reasons.push('evidence: debug evidence not allowed');
  return {
    ok: reasons.length === 0,
    reasons,
    claims: {
      platform: 'simulated',
      measurement: evidence.measurement,
      signer: evidence.signer,
      reportData: evidence.report_data,
      timestamp: evidence.timestamp,
      debug: evidence.debug,
    },
  };
};
