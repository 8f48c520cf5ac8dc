/**
 * Cloister client SDK (isomorphic: browsers and Node). Named exports only.
 */
export {
  CryptoHelper,
  type ExchangeCredentials,
  type EncryptOptions,
  type VerifyOptions,
} from './crypto-helper.js';
export { ClientError, type ClientErrorCode } from './errors.js';
export { sendWithFreshEnvelope, envelopeNotBeforeOf } from './fresh-envelope.js';
export { ENVELOPE_NOT_BEFORE_HEADER } from '../protocol/envelope/not-before.js';
export {
  verifyAttestationResponse,
  pinEntryFor,
  type AttestationVerification,
} from './verify/verify-attestation.js';
export type { VerificationPolicy, EvidenceClaims } from './verify/types.js';
export {
  verifyEvidence,
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
} from './attestation/index.js';
export { EXCHANGES, type Exchange } from '../protocol/credentials.js';
export type { EnvelopeV1 } from '../protocol/envelope/v1.js';
export type { HpkeEnvelope, HpkeAlg } from '../protocol/envelope/hpke.js';
export type { AttestationResponse } from '../protocol/attestation/response.js';
export {
  verifyLogCheckpoint,
  verifyEntryInclusion,
  verifyCheckpointConsistency,
  type LogTrust,
  type WitnessKey,
  type VerifiedCheckpoint,
  type CheckpointVerification,
} from './log/verify-log.js';
export {
  LogClient,
  LogMonitor,
  type EntryAudit,
  type VerifiedEntry,
  type MonitorReport,
} from './log/log-client.js';
export { sessionLogSubject, type LogEntry } from '../protocol/log/entry.js';
export {
  verifySignedAggregates,
  verifyAggregatesInclusion,
  OFFICIAL_API_HOSTS,
  type AggregatesTrust,
  type AggregatesVerification,
  type AggregatesLogProof,
  type AggregatesInclusion,
} from './aggregates/verify.js';
export { fetchAggregatesLogProof } from './aggregates/log-proof.js';
export {
  openAccountCommitment,
  subjectIsUser,
  coverageWarning,
  summarizeAggregates,
  aggregatesRequestMismatches,
  COMPUTED_AT_SKEW_SECONDS,
  type AggregatesRequest,
} from './aggregates/binding.js';
export {
  aggregatesDigest,
  aggregatesSigningInput,
  AGGREGATES_VERSION,
  AGGREGATES_VERSION_V2,
  AGGREGATES_VERSION_V1,
  accountCommitment,
  aggregatesSubject,
  type AggregatesPayload,
  type SignedAggregates,
  type AggregateFigures,
  type DailyRow,
} from '../protocol/aggregates.js';
export {
  encryptPassword,
  accessTokenVerifier,
  verifyAccessToken,
  jwksIsAttested,
  fetchJwks,
  type PasswordEnvelopeInput,
  type TokenPolicy,
} from './auth/index.js';
export {
  authClient,
  AuthApiError,
  type AuthClient,
  type AuthClientOptions,
  type AuthTokens,
  type SecondFactorInput,
} from './auth/http-client.js';
export {
  newReplyKeyPair,
  openSealedShare,
  combineShares,
  deriveAccounts,
  exportMnemonic,
  verifyAccounts,
  verifyWalletResponse,
  encryptWalletShare,
  computeBinds,
  WalletError,
  type ReplyKeyPair,
  type CreationResponse,
  type SignedAccountsView,
  type WalletShareRequest,
  type WalletShareOptions,
  type WalletErrorCode,
  type WalletAction,
  type Account,
  type OpenedShare,
  type SealedShare,
} from './wallet/index.js';
export {
  createWallet,
  listWallets,
  getWallet,
  addAccount,
  signWithShare,
  signWithEthereumMessage,
  signWithEthereumTypedData,
  signWithEthereumTransaction,
  signWithSolanaMessage,
  signWithSolanaTransaction,
  setPolicy,
  startRecovery,
  cancelRecovery,
  completeRecovery,
  reshare,
  deleteWallet,
  WalletApiError,
  type ClientShare,
  type WalletClientOptions,
  type WalletShares,
  type WalletView,
} from './wallet/index.js';
