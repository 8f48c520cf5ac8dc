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
  /** A sign request that is not one of the known types, or an invalid transaction. */
  | 'WALLET_REQUEST_INVALID'
  /** The address is not an account of this wallet. */
  | 'WALLET_ADDRESS_UNKNOWN'
  /** A policy rule refused the request; `rule` says which. */
  | 'POLICY_DENIED';

export const WALLET_ERROR_MESSAGES: Record<WalletErrorCode, string> = {
  WALLET_SHARE_INVALID: 'the share does not reconstruct this wallet',
  WALLET_SHARE_WRONG_WALLET: 'the share belongs to another wallet',
  WALLET_SHARE_WRONG_KIND: 'this action does not accept a share of this kind',
  WALLET_BINDS_MISMATCH: 'the share is bound to another request',
  WALLET_SEALED_SHARE_INVALID: 'the sealed share could not be opened',
  WALLET_CREATION_MISMATCH: 'the creation response does not match its shares',
  WALLET_REQUEST_INVALID: 'the signing request is invalid',
  WALLET_ADDRESS_UNKNOWN: 'the address is not an account of this wallet',
  POLICY_DENIED: 'a policy rule refused the request',
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
