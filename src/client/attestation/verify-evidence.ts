/**
 * `verifyEvidence(evidence, policy)`: one entry point for every evidence kind
 * (docs/verification/). Each kind's verifier checks the evidence's own signatures and chains and
 * returns what it claims; the shared policy checks (measurement, report data, debug, age, TCB)
 * follow. It never throws and never hangs on hostile input: any failure, including an
 * unexpected exception, resolves to `ok: false` with a reason.
 */
import { verifyDcap } from './dcap.js';
import { verifyNitro } from './nitro.js';
import { finish, Reasons, type Claims } from './policy.js';
import { verifySevSnp } from './sev-snp.js';
import { verifySimulated } from './simulated.js';
import {
  EVIDENCE_KINDS,
  type Evidence,
  type EvidenceKind,
  type EvidencePolicy,
  type EvidenceResult,
} from './types.js';

type KindVerifier = (
  evidence: Evidence,
  policy: EvidencePolicy,
  reasons: Reasons,
) => Promise<Claims | null> | Claims | null;

const VERIFIERS: Readonly<Record<EvidenceKind, KindVerifier>> = Object.freeze({
  'sgx-dcap': verifyDcap,
  tdx: verifyDcap,
  nitro: verifyNitro,
  'sev-snp': verifySevSnp,
  simulated: verifySimulated,
});

/** Largest evidence accepted: real quotes and documents are a few KiB. */
export const MAX_EVIDENCE_BYTES = 64 * 1024;

export async function verifyEvidence(
  evidence: Evidence,
  policy: EvidencePolicy,
): Promise<EvidenceResult> {
  const reasons = new Reasons();
  const kind = (evidence as Partial<Evidence> | null)?.kind;
  const platform: EvidenceKind = EVIDENCE_KINDS.includes(kind as EvidenceKind)
    ? (kind as EvidenceKind)
    : 'simulated';
  if (platform !== kind) {
    reasons.add('UNSUPPORTED_EVIDENCE', `unknown evidence kind ${String(kind)}`);
    return finish(platform, null, safePolicy(policy), reasons);
  }
  if (!(evidence.quote instanceof Uint8Array) || evidence.quote.length === 0) {
    reasons.add('PARSE_ERROR', 'evidence.quote must be non-empty bytes');
    return finish(platform, null, safePolicy(policy), reasons);
  }
  if (evidence.quote.length > MAX_EVIDENCE_BYTES) {
    reasons.add('PARSE_ERROR', `evidence is larger than ${MAX_EVIDENCE_BYTES} bytes`);
    return finish(platform, null, safePolicy(policy), reasons);
  }
  const p = safePolicy(policy);
  if (p.now !== undefined && (typeof p.now !== 'number' || !Number.isFinite(p.now))) {
    // A caller that meant to pin the clock must not silently get the wall clock instead.
    reasons.add('POLICY_INVALID', 'policy.now must be a finite number of seconds');
    return finish(platform, null, p, reasons);
  }
  let claims: Claims | null = null;
  try {
    // A private copy: a caller mutating its buffer mid-verification cannot change the verdict.
    claims = await VERIFIERS[platform]({ ...evidence, quote: evidence.quote.slice() }, p, reasons);
  } catch (err) {
    reasons.add(
      'INTERNAL_ERROR',
      `verifier failed: ${err instanceof Error ? err.message : 'error'}`,
    );
  }
  try {
    return finish(platform, claims, p, reasons);
  } catch {
    reasons.add('INTERNAL_ERROR', 'policy checks failed');
    return finish(platform, null, {} as EvidencePolicy, reasons);
  }
}

function safePolicy(policy: EvidencePolicy): EvidencePolicy {
  return policy && typeof policy === 'object' ? policy : ({} as EvidencePolicy);
}
