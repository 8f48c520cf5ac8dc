/** Placeholder until the nitro verifier lands: refuses all evidence. */
import type { Claims, Reasons } from './policy.js';
import type { Evidence, EvidencePolicy } from './types.js';

export function verifyNitro(_e: Evidence, _p: EvidencePolicy, reasons: Reasons): Claims | null {
  reasons.add('UNSUPPORTED_EVIDENCE', 'nitro is not supported yet');
  return null;
}
