/**
 * A share sent to the enclave rides in a credential envelope whose plaintext is
 *   { purpose: "wallet_share", wallet_id, kind, share, binds, issued_at }
 * `binds` = lowercase hex SHA-256 of JCS({ action, wallet_id, body }), where `body` is the HTTP
 * request body without its `share` field. The host is untrusted and sees every access token:
 * without this binding it could pair a user's share with a request of its own (another
 * transaction, a policy that allows everything, a recovery to its own reply_pub).
 */
import { sha256 } from '../sha256.js';
import { z } from 'zod';
import { base64Bytes, bytesEqual, bytesToHex, hexBytes, utf8 } from '../encoding.js';
import { jcsBytes } from '../jcs.js';
import { CLIENT_SHARE_KINDS, WALLET_SHARE_BYTES } from './constants.js';
import { WalletError } from './errors.js';
import { WalletIdSchema } from './sealed-share.js';

export const WALLET_ACTIONS = [
  'sign',
  'policy',
  'recovery',
  'recovery_cancel',
  'recovery_complete',
  'reshare',
  'delete',
  /** POST /wallets/:id/accounts for a Solana account (hardened path: needs the secret). */
  'account',
] as const;
export type WalletAction = (typeof WALLET_ACTIONS)[number];

/**
 * Which share kinds each action accepts (the issue: policy and cancel need the device share).
 * Delete needs the device share too: with the recovery share it would purge the server share at
 * once, skipping the time-lock in which the owner objects to what that share alone does
 * (test/wallet/attack-recovery-delete.test.ts).
 */
export const ACTION_SHARE_KINDS: Record<WalletAction, readonly ('device' | 'recovery')[]> = {
  sign: ['device', 'recovery'],
  policy: ['device'],
  recovery: ['recovery'],
  recovery_cancel: ['device'],
  recovery_complete: ['recovery'],
  reshare: ['device'],
  delete: ['device'],
  account: ['device', 'recovery'],
};

export const WalletSharePlaintextSchema = z
  .object({
    purpose: z.literal('wallet_share'),
    wallet_id: WalletIdSchema,
    kind: z.enum(CLIENT_SHARE_KINDS),
    share: base64Bytes(WALLET_SHARE_BYTES),
    binds: hexBytes(32),
    issued_at: z.number().int().nonnegative(),
  })
  .strict();
export type WalletSharePlaintext = z.infer<typeof WalletSharePlaintextSchema>;

/** The request body as bound: the HTTP body minus its `share` field. */
export function bindableBody(body: Record<string, unknown>): Record<string, unknown> {
  const { share: _share, ...rest } = body;
  return rest;
}

export function computeBinds(action: WalletAction, walletId: string, body: unknown): string {
  return bytesToHex(sha256(jcsBytes({ action, wallet_id: walletId, body })));
}

/**
 * The enclave's checks on an opened wallet_share plaintext against the request it came with:
 * same wallet, a kind this action accepts, and `binds` equal (constant time) to the digest of
 * this very request. Freshness and replay are the envelope layer's (same rules as credentials).
 */
export function checkWalletShareFor(
  plaintext: WalletSharePlaintext,
  request: { action: WalletAction; walletId: string; body: Record<string, unknown> },
): void {
  if (plaintext.wallet_id !== request.walletId) throw new WalletError('WALLET_SHARE_WRONG_WALLET');
  if (!ACTION_SHARE_KINDS[request.action].includes(plaintext.kind))
    throw new WalletError('WALLET_SHARE_WRONG_KIND');
  const expected = computeBinds(request.action, request.walletId, bindableBody(request.body));
  if (!bytesEqual(utf8.encode(expected), utf8.encode(plaintext.binds)))
    throw new WalletError('WALLET_BINDS_MISMATCH');
}

/** What `wallet.signed` logs about a request: its digest, never its content's secrets. */
export function signRequestDigest(request: unknown): string {
  return bytesToHex(sha256(jcsBytes(request)));
}
