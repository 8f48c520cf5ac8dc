/**
 * Verifies a `GET /attestation/quote` response end to end: the platform evidence (by the
 * verifier registered for its platform), the measurement against what the caller expects, the
 * report data against the returned keys and nonce (so the keys are the enclave's own), the key
 * id, and freshness. Fails closed: anything not proven is a reason, and `valid` means no reason.
 */
import {
  AttestationResponseSchema,
  type AttestationResponse,
  type PlatformName,
} from '../../protocol/attestation/response.js';
import { computeReportData } from '../../protocol/attestation/report-data.js';
import { base64ToBytes, bytesToHex } from '../../protocol/encoding.js';
import { okpThumbprint } from '../../protocol/key-id.js';
import { verifySimulatedEvidence } from './simulated.js';
import type { EvidenceClaims, EvidenceVerifier, VerificationPolicy } from './types.js';

const VERIFIERS: Partial<Record<PlatformName, EvidenceVerifier>> = Object.freeze({
  simulated: verifySimulatedEvidence,
});

export interface AttestationVerification {
  valid: boolean;
  reasons: string[];
  platform: PlatformName | null;
  measurement: string | null;
  debug: boolean | null;
  /** The enclave's X25519 credential key (base64) and its id: encrypt to these. */
  enclavePubkey: string | null;
  keyId: string | null;
  signingKeys: AttestationResponse['signing_keys'] | null;
  claims: EvidenceClaims | null;
}

const DEFAULT_MAX_AGE_SECONDS = 300;
const MAX_FUTURE_SKEW_SECONDS = 60;

export function verifyAttestationResponse(
  response: unknown,
  policy: VerificationPolicy,
): AttestationVerification {
  const parsed = AttestationResponseSchema.safeParse(response);
  if (!parsed.success) {
    return fail(['response: does not match the attestation response schema']);
  }
  const r = parsed.data;
  const reasons: string[] = [];
  const verifier = VERIFIERS[r.platform];
  if (!verifier)
    return fail([`evidence: platform ${r.platform} is not supported by this SDK version`]);
  const ev = verifier(base64ToBytes(r.quote), policy);
  reasons.push(...ev.reasons);
  const claims = ev.claims ?? null;

  if (claims) {
    if (claims.platform !== r.platform)
      reasons.push('evidence: platform differs from the response');
    if (claims.measurement !== r.image_hash)
      reasons.push('evidence: measurement differs from image_hash');
    const expected = policy.expectedMeasurements;
    if (!expected || expected.length === 0) {
      reasons.push('policy: no expected measurement given');
    } else if (!expected.includes(claims.measurement)) {
      reasons.push('evidence: measurement is not one of the expected measurements');
    }
    const reportData = bytesToHex(computeReportData(r));
    if (claims.reportData !== reportData || r.report_data !== reportData) {
      reasons.push('evidence: report data does not bind the returned keys and nonce');
    }
    const now = policy.now ?? Math.floor(Date.now() / 1000);
    const age = now - claims.timestamp;
    if (age > (policy.maxAgeSeconds ?? DEFAULT_MAX_AGE_SECONDS)) reasons.push('evidence: too old');
    if (-age > MAX_FUTURE_SKEW_SECONDS) reasons.push('evidence: timestamp is in the future');
  }
  if (policy.nonce !== undefined && policy.nonce !== r.nonce)
    reasons.push('response: nonce differs from the one sent');
  if (okpThumbprint('X25519', base64ToBytes(r.enclave_pubkey)) !== r.key_id) {
    reasons.push('response: key_id is not the thumbprint of enclave_pubkey');
  }

  return {
    valid: reasons.length === 0,
    reasons,
    platform: r.platform,
    measurement: claims?.measurement ?? null,
    debug: claims?.debug ?? null,
    enclavePubkey: reasons.length === 0 ? r.enclave_pubkey : null,
    keyId: reasons.length === 0 ? r.key_id : null,
    signingKeys: reasons.length === 0 ? r.signing_keys : null,
    claims,
  };
}

function fail(reasons: string[]): AttestationVerification {
  return {
    valid: false,
    reasons,
    platform: null,
    measurement: null,
    debug: null,
    enclavePubkey: null,
    keyId: null,
    signingKeys: null,
    claims: null,
  };
}
