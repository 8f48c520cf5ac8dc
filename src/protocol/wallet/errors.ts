/**
 * Why a wallet operation was refused. Codes are stable (the host maps them to HTTP statuses when
 * the routes are wired); messages are fixed and never echo a share, a key or the request.
 */
export type WalletErrorCode =
  /** A share that is malformed, or that does not reconstruct this wallet's secret (corrupted,
   *  from an older generation, from another wallet's polynomial). One code: no oracle. */
  | 'WALLET_SHARE_INVALID'
  /** The share plaintext names another wallet. */
  | 'WALLET_SHARE_WRONG_WALLET'
  /** The share is of a kind this action does not accept (e.g. a recovery share for policy). */
  | 'WALLET_SHARE_WRONG_KIND'
  /** `binds` does not match the request the share arrived with. */
  | 'WALLET_BINDS_MISMATCH'
  /** A sealed share that cannot be opened, or whose plaintext is malformed (client side). */
  | 'WALLET_SEALED_SHARE_INVALID'
  /** A creation response whose addresses, wallet id or generation differ from the shares. */
  | 'WALLET_CREATION_MISMATCH'
  /** A sign answer whose signature is not by the requested address over the request (client side). */
  | 'WALLET_SIGNATURE_MISMATCH'
  /** A sign request that is not one of the known types, or an invalid transaction. */
  | 'WALLET_REQUEST_INVALID'
  /** The address is not an account of this wallet. */
  | 'WALLET_ADDRESS_UNKNOWN'
  /** A policy rule refused the request; `rule` says which. */
  | 'POLICY_DENIED'
  /** The wallet keyring has not been loaded (`wallet.init`). */
  | 'WALLET_NOT_READY'
  /** The stored wallet record or spend counter fails its enclave MAC (edited by the host). */
  | 'WALLET_STATE_INVALID'
  /** The stored record is older than one the enclave issued since it started (rollback). */
  | 'WALLET_STATE_STALE'
  /** Recovery complete or cancel without a recovery in progress. */
  | 'WALLET_RECOVERY_NOT_STARTED'
  /** A recovery is already in progress. */
  | 'WALLET_RECOVERY_IN_PROGRESS'
  /** Recovery complete before the time-lock has elapsed. */
  | 'WALLET_RECOVERY_LOCKED'
  /** The server share was purged (DELETE /wallets/:id). */
  | 'WALLET_DELETED';

export const WALLET_ERROR_MESSAGES: Record<WalletErrorCode, string> = {
  WALLET_SHARE_INVALID: 'the share does not reconstruct this wallet',
  WALLET_SHARE_WRONG_WALLET: 'the share belongs to another wallet',
  WALLET_SHARE_WRONG_KIND: 'this action does not accept a share of this kind',
  WALLET_BINDS_MISMATCH: 'the share is bound to another request',
  WALLET_SEALED_SHARE_INVALID: 'the sealed share could not be opened',
  WALLET_CREATION_MISMATCH: 'the creation response does not match its shares',
  WALLET_SIGNATURE_MISMATCH: 'the signature does not cover the request by this address',
  WALLET_REQUEST_INVALID: 'the signing request is invalid',
  WALLET_ADDRESS_UNKNOWN: 'the address is not an account of this wallet',
  POLICY_DENIED: 'a policy rule refused the request',
  WALLET_NOT_READY: 'the wallet keyring has not been loaded',
  WALLET_STATE_INVALID: 'the stored wallet state does not carry a valid enclave MAC',
  WALLET_STATE_STALE: 'the stored wallet state is older than the latest the enclave issued',
  WALLET_RECOVERY_NOT_STARTED: 'no recovery is in progress for this wallet',
  WALLET_RECOVERY_IN_PROGRESS: 'a recovery is already in progress for this wallet',
  WALLET_RECOVERY_LOCKED: 'the recovery time-lock has not elapsed yet',
  WALLET_DELETED: 'the wallet was deleted',
};

export class WalletError extends Error {
  readonly code: WalletErrorCode;
  /** For POLICY_DENIED: the refusing rule's index in the policy and its type. */
  readonly rule?: { index: number; type: string };
  constructor(code: WalletErrorCode, rule?: { index: number; type: string }) {
    super(WALLET_ERROR_MESSAGES[code]);
    this.name = 'WalletError';
    this.code = code;
    if (rule) this.rule = rule;
  }
}
