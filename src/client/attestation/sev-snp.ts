/** Placeholder until the sev-snp verifier lands: refuses all evidence. */
import type { Claims, Reasons } from './policy.js';
import type { Evidence, EvidencePolicy } from './types.js';

export function verifySevSnp(_e: Evidence, _p: EvidencePolicy, reasons: Reasons): Claims | null {
  reasons.add('UNSUPPORTED_EVIDENCE', 'sev-snp is not supported yet');
  return null;
}
