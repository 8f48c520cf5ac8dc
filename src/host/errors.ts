/**
 * Every error code an HTTP client can see, its status, and its fixed message, in one table.
 * docs/errors.md lists the same codes (a test keeps them in sync). Enclave codes map through
 * here too; 5xx and crypto failures always answer their fixed message, never an internal one.
 */
import { isRpcErrorCode, type RpcErrorCode } from '../protocol/rpc/errors.js';

export const HTTP_ERRORS = {
  VALIDATION_FAILED: [400, 'the request does not match the schema'],
  BODY_INVALID_JSON: [400, 'the request body is not valid JSON'],
  BODY_TOO_LARGE: [413, 'the request body exceeds the size limit'],
  REQUEST_MALFORMED: [400, 'the request is not valid HTTP'],
  HEADERS_TOO_LARGE: [431, 'the request headers exceed the size limit'],
  REQUEST_TIMEOUT: [408, 'the request was not received in time'],
  CONNECTION_CLOSED: [400, 'the connection closed before the request was served'],
  UNSUPPORTED_MEDIA_TYPE: [415, 'the request body must be application/json'],
  NOT_FOUND: [404, 'no such route'],
  METHOD_NOT_ALLOWED: [405, 'method not allowed'],
  RATE_LIMITED: [429, 'too many requests; retry after the time in Retry-After'],
  SESSION_NOT_FOUND: [404, 'no active session with this id'],
  ENVELOPE_INVALID: [400, 'the envelope could not be opened'],
  ENVELOPE_REPLAYED: [409, 'this envelope was already submitted; encrypt the credentials again'],
  ENVELOPE_STALE: [400, 'issued_at is outside the accepted window; encrypt the credentials again'],
  ENVELOPE_BEFORE_START: [
    425,
    'the enclave restarted recently: encrypt again with issued_at at or after error.not_before',
  ],
  ENVELOPE_EXCHANGE_MISMATCH: [400, 'the exchange inside the envelope differs from the metadata'],
  ENVELOPE_LABEL_MISMATCH: [400, 'the label inside the envelope differs from the metadata'],
  ENVELOPE_UNKNOWN_KEY: [
    400,
    'key_id names no enclave key that is still accepted; fetch a new attestation',
  ],
  ENVELOPE_UNSUPPORTED_ALG: [400, 'unsupported envelope algorithm'],
  LOG_RANGE_INVALID: [400, 'the index, size or range is outside the log'],
  LOG_NOT_WITNESSED: [404, 'no checkpoint has been cosigned by a witness yet'],
  TTL_TOO_LONG: [400, 'ttl exceeds the maximum the enclave accepts'],
  CREDENTIAL_SUBJECT_MISMATCH: [
    403,
    'the credential was sealed for another user than the one this session belongs to',
  ],
  AGGREGATES_WINDOW_INVALID: [
    400,
    'the window must satisfy from < to <= now and be no longer than the maximum window',
  ],
  JOB_NOT_FOUND: [404, 'no aggregates job with this id'],
  AGGREGATES_TOO_MANY_FILLS: [
    422,
    'the window holds more fills than one result may cover (AGGREGATES_MAX_FILLS); narrow it',
  ],
  EXCHANGE_KEY_REJECTED: [
    422,
    'the exchange rejected the API key; the session is now invalid and its ciphertext deleted',
  ],
  EXCHANGE_RATE_LIMITED: [429, 'the exchange is rate limiting requests; retry after Retry-After'],
  EXCHANGE_UNAVAILABLE: [502, 'the exchange could not be reached; retry later'],
  EXCHANGE_BAD_RESPONSE: [502, 'the exchange answered with an invalid response'],
  EXCHANGE_TIMEOUT: [504, 'the exchange did not answer in time; retry later'],
  AGGREGATES_BUSY: [503, 'the enclave is running as many aggregates jobs as it may; retry later'],
  AGGREGATES_TOO_MANY_JOBS: [
    429,
    'this user or session already has as many aggregates jobs as allowed; retry after Retry-After',
  ],
  AGGREGATES_QUEUE_FULL: [503, 'the aggregates queue is full; retry after the time in Retry-After'],
  AUTH_REQUIRED: [401, 'this route needs an access token (Authorization: Bearer)'],
  AUTH_TOKEN_INVALID: [401, 'the access token is invalid, expired or revoked'],
  AUTH_FORBIDDEN: [403, 'the access token lacks the role this route needs'],
  CSRF_REFUSED: [
    403,
    'a cookie-authenticated request from another origin is refused; send it from an allowed origin',
  ],
  AUTH_INVALID_CREDENTIALS: [401, 'email or password is wrong'],
  AUTH_PASSWORD_TOO_SHORT: [400, 'the password must have at least 12 characters'],
  AUTH_EMAIL_TAKEN: [409, 'an account with this email exists'],
  USER_NOT_FOUND: [404, 'no account with this email'],
  AUTH_ENVELOPE_MISMATCH: [400, 'the envelope was made for another action or account'],
  AUTH_REFRESH_INVALID: [401, 'the refresh token is invalid, expired or revoked; log in again'],
  AUTH_REFRESH_REUSED: [
    401,
    'the refresh token was already used; every session of this account is revoked',
  ],
  AUTH_SIWE_INVALID: [
    400,
    'the SIWE message is malformed (EIP-4361) or names another domain, URI or chain',
  ],
  AUTH_SIWE_NONCE_INVALID: [
    401,
    'the SIWE nonce is unknown, expired or already used; get a new one from GET /auth/siwe/nonce',
  ],
  AUTH_SIWE_EXPIRED: [401, 'the SIWE message is expired, not yet valid or issued in the future'],
  AUTH_SIWE_SIGNATURE_INVALID: [
    401,
    'the signature is malformed or does not come from the address in the message',
  ],
  AUTH_OTP_INVALID: [401, 'the code is wrong, expired or was never sent'],
  AUTH_OTP_LOCKED: [429, 'too many wrong codes; ask for a new one with POST /auth/otp/start'],
  AUTH_METHOD_NOT_FOUND: [404, 'this account has no login method with this id'],
  AUTH_RECOVERY_NOT_FOUND: [404, 'this account has no pending recovery'],
  AUTH_RECOVERY_LOCKED: [
    409,
    'the recovery time-lock (AUTH_RECOVERY_DELAY_SECONDS) has not run out; see GET /auth/recovery',
  ],
  AUTH_RECOVERY_INVALID: [409, 'the pending recovery was altered or not made by this enclave'],
  AUTH_RECOVERY_REQUIRED: [
    409,
    'this account has a second factor or a pending recovery: use account recovery (POST /auth/recovery/start)',
  ],
  AUTH_METHOD_TAKEN: [409, 'this login method is already linked to an account'],
  AUTH_PASSWORD_EXISTS: [
    409,
    'this account already has a password; change it with POST /auth/password/change',
  ],
  AUTH_EMAIL_REQUIRED: [
    409,
    'a password logs in with the account email: link an email first (POST /auth/methods/link)',
  ],
  AUTH_LAST_METHOD: [409, 'the last login method of an account cannot be unlinked'],
  STEP_UP_REQUIRED: [
    401,
    'this operation needs a recent login (AUTH_STEP_UP_SECONDS); details name the acceptable factors',
  ],
  AUTH_PASSKEY_INVALID: [
    401,
    'the passkey ceremony did not verify (challenge, origin, RP id, signature or counter)',
  ],
  AUTH_MFA_REQUIRED: [
    401,
    'this account has a second factor: send totp_code or recovery_code with the login',
  ],
  AUTH_MFA_INVALID: [401, 'the second-factor code is wrong, already used or expired'],
  AUTH_TOTP_ENROLLED: [409, 'this account already has an authenticator app; remove it first'],
  AUTH_TOTP_NOT_PENDING: [404, 'no authenticator enrolment is waiting for confirmation'],
  AUTH_LOGIN_LOCKED: [429, 'too many failed logins for this account; retry after Retry-After'],
  AUTH_BUSY: [503, 'too many password checks are in progress; retry after Retry-After'],
  WALLET_NOT_FOUND: [404, 'no wallet with this id'],
  WALLET_SHARE_INVALID: [400, 'the share does not reconstruct this wallet'],
  WALLET_SHARE_WRONG_WALLET: [400, 'the share belongs to another wallet'],
  WALLET_SHARE_WRONG_KIND: [400, 'this action does not accept a share of this kind'],
  WALLET_BINDS_MISMATCH: [400, 'the share is bound to another request; seal it for this body'],
  WALLET_REQUEST_INVALID: [400, 'the signing request or body is invalid'],
  WALLET_ADDRESS_UNKNOWN: [400, 'the address is not an account of this wallet'],
  POLICY_DENIED: [403, 'a policy rule refused the request (see rule)'],
  WALLET_STATE_INVALID: [409, 'the stored wallet state fails its enclave MAC; nothing was done'],
  WALLET_STATE_STALE: [
    409,
    'the stored wallet state is older than the enclave issued; nothing was done',
  ],
  WALLET_CONFLICT: [409, 'the wallet changed during the operation; retry'],
  WALLET_RECOVERY_NOT_STARTED: [409, 'no recovery is in progress for this wallet'],
  WALLET_RECOVERY_IN_PROGRESS: [409, 'a recovery is already in progress for this wallet'],
  WALLET_RECOVERY_LOCKED: [409, 'the recovery time-lock has not elapsed yet'],
  WALLET_NOT_READY: [503, 'the wallet keyring is not loaded yet; retry later'],
  ENCLAVE_UNAVAILABLE: [503, 'the enclave is restarting; retry after the time in Retry-After'],
  ENCLAVE_BUSY: [503, 'the enclave is behind on its work; retry after the time in Retry-After'],
  SERVER_CLOSING: [503, 'this instance is shutting down; retry after the time in Retry-After'],
  DATABASE_UNAVAILABLE: [503, 'the database is unavailable; retry later'],
  LOG_UNAVAILABLE: [503, 'the transparency log cannot record the operation now; nothing was done'],
  CLUSTER_LOCKED: [
    503,
    'this instance waits for its cluster quorum (docs/operations/cluster.md); nothing was done',
  ],
  CLUSTER_EXISTS: [409, 'this deployment already has a cluster'],
  CLUSTER_GENESIS_REFUSED: [
    409,
    'this build (genesis policy fresh-only) runs genesis only on a fresh deployment; nothing was done',
  ],
  CLUSTER_NOT_LOCKED: [409, 'this instance is not awaiting shares'],
  CLUSTER_ID_MISMATCH: [422, 'the share belongs to another cluster'],
  CLUSTER_ROOT_INVALID: [422, 'the shares do not combine into a root'],
  CLUSTER_MANIFEST_MISMATCH: [409, 'the share was made for another manifest; fetch a new quote'],
  CLUSTER_SHARE_INVALID: [
    422,
    'the share submission could not be opened; fetch a new quote and resubmit',
  ],
  CLUSTER_SHARE_ALTERED: [422, 'the share does not match its commitment in the manifest'],
  CLUSTER_SHARE_SUPERSEDED: [422, 'the share belongs to a superseded split'],
  CLUSTER_APPROVALS_INSUFFICIENT: [
    403,
    'the manifest change lacks valid approvals by a threshold of the current operators',
  ],
  CLUSTER_PROPOSAL_STALE: [409, 'the manifest change is for another cluster or an older epoch'],
  CLUSTER_PEER_REFUSED: [
    403,
    'the enclave evidence does not satisfy the cluster manifest; nothing was forwarded',
  ],
  INTERNAL: [500, 'internal error'],
} as const satisfies Record<string, readonly [number, string]>;

export type HttpErrorCode = keyof typeof HTTP_ERRORS;
export const HTTP_ERROR_CODES = Object.keys(HTTP_ERRORS) as HttpErrorCode[];

/**
 * The body of every error answer: `{ "error": { code, message, ... } }`, the message the code's
 * fixed one (docs/errors.md). The error handler, Fastify's `frameworkErrors` and the answers
 * written on the socket (http/client-errors.ts) all build it here.
 */
export function errorBody(
  code: HttpErrorCode,
  extra: { details?: { path: string; issue: string }[]; not_before?: number } = {},
): { error: { code: HttpErrorCode; message: string } & typeof extra } {
  return { error: { code, message: HTTP_ERRORS[code][1], ...extra } };
}

/** A failure the host reports to the client. `details` must never hold input values. */
export class HostError extends Error {
  constructor(
    readonly code: HttpErrorCode,
    readonly details?: { path: string; issue: string }[],
    /** Seconds for a Retry-After header (else 503s get the supervisor's estimate). */
    readonly retryAfterSeconds?: number,
    /** ENVELOPE_BEFORE_START: the enclave's earliest accepted issued_at (`error.not_before`). */
    readonly notBefore?: number,
  ) {
    super(HTTP_ERRORS[code][1]);
    this.name = 'HostError';
  }
  get statusCode(): number {
    return HTTP_ERRORS[this.code][0];
  }
}

/** Enclave codes a client may see as such; everything else is the host's fault or a bug. */
const CLIENT_FACING_RPC: ReadonlySet<RpcErrorCode> = new Set<RpcErrorCode>([
  'ENVELOPE_INVALID',
  'ENVELOPE_REPLAYED',
  'ENVELOPE_STALE',
  'ENVELOPE_BEFORE_START',
  'ENVELOPE_EXCHANGE_MISMATCH',
  'ENVELOPE_LABEL_MISMATCH',
  'ENVELOPE_UNKNOWN_KEY',
  'ENVELOPE_UNSUPPORTED_ALG',
  'TTL_TOO_LONG',
  'CREDENTIAL_SUBJECT_MISMATCH',
  'AGGREGATES_WINDOW_INVALID',
  'AGGREGATES_TOO_MANY_FILLS',
  'EXCHANGE_KEY_REJECTED',
  'EXCHANGE_RATE_LIMITED',
  'EXCHANGE_UNAVAILABLE',
  'EXCHANGE_BAD_RESPONSE',
  'EXCHANGE_TIMEOUT',
  'AUTH_INVALID_CREDENTIALS',
  'AUTH_PASSWORD_TOO_SHORT',
  'AUTH_ENVELOPE_MISMATCH',
  'AUTH_REFRESH_INVALID',
  'AUTH_REFRESH_REUSED',
  'WALLET_SHARE_INVALID',
  'WALLET_SHARE_WRONG_WALLET',
  'WALLET_SHARE_WRONG_KIND',
  'WALLET_BINDS_MISMATCH',
  'WALLET_REQUEST_INVALID',
  'WALLET_ADDRESS_UNKNOWN',
  'WALLET_STATE_INVALID',
  'WALLET_STATE_STALE',
  'WALLET_RECOVERY_NOT_STARTED',
  'WALLET_RECOVERY_IN_PROGRESS',
  'WALLET_RECOVERY_LOCKED',
  'WALLET_NOT_READY',
  'CLUSTER_GENESIS_REFUSED',
  'CLUSTER_ID_MISMATCH',
  'CLUSTER_ROOT_INVALID',
  'CLUSTER_MANIFEST_MISMATCH',
  'CLUSTER_SHARE_INVALID',
  'CLUSTER_SHARE_ALTERED',
  'CLUSTER_SHARE_SUPERSEDED',
  'CLUSTER_PEER_REFUSED',
  'CLUSTER_APPROVALS_INSUFFICIENT',
  'CLUSTER_PROPOSAL_STALE',
  'AUTH_SIWE_INVALID',
  'AUTH_SIWE_NONCE_INVALID',
  'AUTH_SIWE_EXPIRED',
  'AUTH_SIWE_SIGNATURE_INVALID',
  'AUTH_OTP_INVALID',
  'AUTH_OTP_LOCKED',
  'AUTH_TOKEN_INVALID',
  'AUTH_MFA_REQUIRED',
  'AUTH_MFA_INVALID',
  'AUTH_PASSKEY_INVALID',
  'AUTH_RECOVERY_LOCKED',
  'AUTH_RECOVERY_INVALID',
]);

export function fromRpcCode(code: string, notBefore?: number): HostError {
  if (code === 'ENVELOPE_BEFORE_START')
    return new HostError('ENVELOPE_BEFORE_START', undefined, undefined, notBefore);
  if (code === 'JOBS_BUSY') return new HostError('AGGREGATES_BUSY', undefined, 5);
  if (code === 'AUTH_BUSY') return new HostError('AUTH_BUSY', undefined, 2);
  if (code === 'EXCHANGE_RATE_LIMITED')
    return new HostError('EXCHANGE_RATE_LIMITED', undefined, 30);
  if (isRpcErrorCode(code) && CLIENT_FACING_RPC.has(code))
    return new HostError(code as HttpErrorCode);
  return new HostError('INTERNAL');
}
