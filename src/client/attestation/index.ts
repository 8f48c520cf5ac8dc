/** Evidence verification for every evidence kind (docs/verification/). Named exports only. */
export { verifyEvidence, MAX_EVIDENCE_BYTES } from './verify-evidence.js';
export {
  EVIDENCE_KINDS,
  FAILURE_CODES,
  TCB_STATUS_ORDER,
  type Evidence,
  type EvidenceKind,
  type EvidencePolicy,
  type EvidenceResult,
  type FailureCode,
  type FailureReason,
  type SnpTcbMinimum,
  type TcbStatus,
} from './types.js';
