/**
 * Error codes that may cross the host↔enclave boundary. A closed set with fixed messages: the
 * enclave never puts input, key material or a stack into an error frame.
 */
import { ENVELOPE_ERROR_MESSAGES, type EnvelopeErrorCode } from '../envelope/errors.js';
import { WALLET_ERROR_MESSAGES } from '../wallet/errors.js';

export const RPC_ERROR_MESSAGES = {
  ...ENVELOPE_ERROR_MESSAGES,
  ...WALLET_ERROR_MESSAGES,
  FRAME_INVALID: 'the frame could not be decoded',
  FRAME_TOO_LARGE: 'the frame exceeds the size limit',
  METHOD_UNKNOWN: 'unknown method',
  PARAMS_INVALID: 'the parameters do not match the method schema',
  PHASE_FORBIDDEN: 'the method is not allowed in the current enclave phase',
  SEAL_INVALID: 'the sealed state could not be unsealed on this platform',
  BINDING_INVALID: 'the stored credential does not match its enclave binding',
  CREDENTIAL_EXPIRED: 'the credential has expired',
  CREDENTIAL_REVOKED: 'the credential belongs to a session this enclave saw revoked',
  CREDENTIAL_SUBJECT_MISMATCH:
    'the credential was sealed for another subject than the request names',
  GENERATION_MISMATCH: 'no prepared keyring with that generation',
  TTL_TOO_LONG: 'ttl exceeds the maximum the enclave accepts',
  LOG_STATE_INVALID: 'the log state does not match a checkpoint this enclave signed',
  LOG_NOT_READY: 'the transparency log has not been started',
  LOG_PREPARED_UNKNOWN: 'no prepared log append with that id (unknown, used or evicted)',
  JOB_EXISTS: 'a job with this id already exists',
  JOBS_BUSY: 'the enclave is running as many jobs as it may; retry later',
  AGGREGATES_WINDOW_INVALID: 'the requested window is empty, reversed or too long',
  AGGREGATES_TOO_MANY_FILLS: 'the window holds more fills than one result may cover; narrow it',
  EXCHANGE_KEY_REJECTED: 'the exchange rejected the API key',
  EXCHANGE_RATE_LIMITED: 'the exchange is rate limiting requests; retry later',
  EXCHANGE_UNAVAILABLE: 'the exchange could not be reached',
  EXCHANGE_TIMEOUT: 'the exchange did not answer in time',
  EXCHANGE_BAD_RESPONSE: 'the exchange answered with something that is not a valid response',
  AUTH_BUSY: 'too many password checks are queued; retry later',
  AUTH_NOT_READY: 'the auth keyring has not been loaded',
  AUTH_INVALID_CREDENTIALS: 'email or password is wrong',
  AUTH_PASSWORD_TOO_SHORT: 'the password is shorter than the minimum length',
  AUTH_REFRESH_INVALID: 'the refresh token is not valid',
  AUTH_REFRESH_REUSED: 'the refresh token was already used',
  AUTH_ENVELOPE_MISMATCH: 'the envelope was made for another action or account',
  CLUSTER_EXISTS: 'this enclave already belongs to a cluster',
  CLUSTER_GENESIS_REFUSED: 'genesis refused: build policy fresh-only, and this enclave has history',
  CLUSTER_LOCKED: 'the cluster root has not been provided to this enclave',
  CLUSTER_ID_MISMATCH: 'the root or share belongs to another cluster',
  CLUSTER_ROOT_INVALID: 'the shares do not combine into a root',
  CLUSTER_MANIFEST_MISMATCH: 'the share was made for another manifest',
  CLUSTER_SHARE_INVALID: 'the share submission could not be opened',
  CLUSTER_SHARE_ALTERED: 'the share does not match its commitment in the manifest',
  CLUSTER_SHARE_SUPERSEDED: 'the share belongs to a superseded split',
  CLUSTER_APPROVALS_INSUFFICIENT:
    'the manifest change lacks valid approvals by a threshold of the current operators',
  CLUSTER_PROPOSAL_STALE: 'the manifest change is for another cluster or an older epoch',
  CLUSTER_PEER_REFUSED: 'the peer enclave evidence does not satisfy the cluster manifest',
  AUTH_SIWE_INVALID: 'the SIWE message is malformed or names another domain, URI or chain',
  AUTH_SIWE_NONCE_INVALID: 'the SIWE nonce is unknown, expired or already used',
  AUTH_SIWE_EXPIRED: 'the SIWE message is expired, not yet valid or issued in the future',
  AUTH_SIWE_SIGNATURE_INVALID: 'the signature does not come from the address in the message',
  AUTH_OTP_INVALID: 'the code is wrong, expired or was never sent',
  AUTH_OTP_LOCKED: 'too many wrong codes; ask for a new one',
  AUTH_OTP_SEND_LIMIT: 'too many codes were sent to this address in the last hour',
  AUTH_MAIL_UNAVAILABLE: 'the enclave could not send the mail',
  AUTH_TOKEN_INVALID: 'the access token is not one this enclave signed, or it has expired',
  AUTH_PASSKEY_INVALID: 'the passkey ceremony did not verify',
  AUTH_MFA_REQUIRED: 'this account has a second factor and none was given',
  AUTH_MFA_INVALID: 'the second-factor code is wrong, already used or expired',
  AUTH_METHOD_BINDING_INVALID:
    'the stored login method was not bound to this account by the enclave',
  AUTH_RECOVERY_INVALID: 'the pending recovery was not made by this enclave or was altered',
  AUTH_RECOVERY_LOCKED: 'the recovery time-lock has not run out yet',
  INTERNAL: 'internal enclave error',
} as const satisfies Record<EnvelopeErrorCode, string> & Record<string, string>;

export type RpcErrorCode = keyof typeof RPC_ERROR_MESSAGES;
export const RPC_ERROR_CODES = Object.keys(RPC_ERROR_MESSAGES) as RpcErrorCode[];

export interface RpcErrorBody {
  code: RpcErrorCode;
  message: string;
}

/** An error that crossed (or will cross) the boundary. Its message is always the fixed one. */
export class RpcError extends Error {
  readonly code: RpcErrorCode;
  constructor(code: RpcErrorCode) {
    super(RPC_ERROR_MESSAGES[code]);
    this.name = 'RpcError';
    this.code = code;
  }
  toBody(): RpcErrorBody {
    return { code: this.code, message: RPC_ERROR_MESSAGES[this.code] };
  }
}

export function isRpcErrorCode(code: unknown): code is RpcErrorCode {
  return typeof code === 'string' && Object.hasOwn(RPC_ERROR_MESSAGES, code);
}
