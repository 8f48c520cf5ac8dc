/**
 * The wallet routes over HTTP (isomorphic: `fetch` only). Every share sent is sealed here, to
 * the attested enclave key the caller verified (CryptoHelper / verifyAttestationResponse), and
 * bound to the exact body it travels in; every share received is opened and checked here
 * (`verifyWalletResponse`): a response whose addresses, wallet id or generation differ from
 * what its shares give is refused. The host never sees a share in the clear.
 */
import { sendWithFreshEnvelope } from '../fresh-envelope.js';
import { ApiError, callService } from '../service-call.js';
import type { Account } from '../../protocol/wallet/derive.js';
import type { WalletAction } from '../../protocol/wallet/binds.js';
import type { OpenedShare } from '../../protocol/wallet/sealed-share.js';
import { wipe } from '../../protocol/wallet/wipe.js';
import { encryptWalletShare } from './encrypt-share.js';
import { newReplyKeyPair } from './open-share.js';
import { verifyWalletResponse } from './shares.js';
import { verifySignResult, type SignResult } from './verify-signature.js';

export interface WalletClientOptions {
  /** Service origin, e.g. `https://cloister.example`. */
  baseUrl: string;
  /** The owner's access token. */
  accessToken: string;
  /** The attested enclave key (base64 X25519) and its key id, from a verified attestation. */
  enclaveKey: { publicKey: string; keyId: string };
  /**
   * The attested result key (base64 Ed25519, `verification.signingKeys.results`). Given, every
   * split (creation, recovery, reshare) must carry the enclave's signature: pass it, or a host
   * could answer a creation with a wallet of its own.
   */
  resultsKey?: string;
  fetch?: typeof fetch;
}

/** A client share: from `openSealedShare` or a stored `{ kind, share }`. */
export interface ClientShare {
  kind: 'device' | 'recovery';
  share: Uint8Array;
}

/** The service answered with an error: `code` is the stable code of docs/errors.md. */
export class WalletApiError extends ApiError {
  override name = 'WalletApiError';
}

function call<T>(
  opts: WalletClientOptions,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  body?: Record<string, unknown>,
): Promise<T> {
  return callService<T>(
    opts,
    method,
    path,
    body,
    (status, code, details) => new WalletApiError(status, code, details),
  );
}

/**
 * `body` with `share` sealed into it, sent; a refusal by a just-restarted enclave
 * (ENVELOPE_BEFORE_START) is retried once with a fresh seal (fresh-envelope.ts).
 */
function sealedCall<T>(
  opts: WalletClientOptions,
  method: 'POST' | 'PUT' | 'DELETE',
  path: string,
  sealing: { walletId: string; share: ClientShare; action: WalletAction },
  body: Record<string, unknown>,
): Promise<T> {
  const { walletId, share, action } = sealing;
  return sendWithFreshEnvelope(
    async (issuedAt) => ({
      ...body,
      share: await encryptWalletShare(
        { walletId, kind: share.kind, share: share.share, action, body },
        opts.enclaveKey.publicKey,
        { keyId: opts.enclaveKey.keyId, issuedAt },
      ),
    }),
    (sealedBody) => call<T>(opts, method, path, sealedBody),
  );
}

export interface WalletShares {
  walletId: string;
  generation: number;
  accounts: Account[];
  device: OpenedShare;
  recovery: OpenedShare;
}

async function receiveShares(
  request: (replyPub: string) => Promise<{
    wallet_id: string;
    accounts: Account[];
    shares: { device: unknown; recovery: unknown };
    generation: number;
    split_signature?: string;
  }>,
  expect: {
    generation: number;
    accounts?: readonly Account[];
    walletId?: string;
    authorizedBy?: Uint8Array;
  },
  resultsKey: string | undefined,
): Promise<WalletShares> {
  const reply = newReplyKeyPair();
  try {
    const response = await request(reply.replyPub);
    const opened = await verifyWalletResponse(response, reply.privateKey, {
      ...expect,
      ...(resultsKey !== undefined ? { resultsKey } : {}),
    });
    return {
      walletId: response.wallet_id,
      generation: response.generation,
      accounts: opened.accounts,
      device: opened.device,
      recovery: opened.recovery,
    };
  } finally {
    wipe(reply.privateKey);
  }
}

/** POST /wallets: the two client shares, opened and checked against the listed addresses. */
export function createWallet(opts: WalletClientOptions, label = ''): Promise<WalletShares> {
  return receiveShares(
    (reply_pub) => call(opts, 'POST', '/wallets', { label, reply_pub }),
    { generation: 1 },
    opts.resultsKey,
  );
}

export interface WalletView {
  wallet_id: string;
  label: string;
  generation: number;
  accounts: Account[];
  policy: { rules: unknown[] };
  recovery: { started_at: number; unlock_at: number } | null;
  /** Digests of the generation's client shares; null before the wallet's next split. */
  share_digests?: { device: string; recovery: string } | null;
  /** The enclave's signature over the accounts: check it with `verifyAccounts`. */
  accounts_signature?: string | null;
}

export const listWallets = (opts: WalletClientOptions) =>
  call<{ wallets: WalletView[] }>(opts, 'GET', '/wallets').then((r) => r.wallets);

export const getWallet = (opts: WalletClientOptions, walletId: string) =>
  call<WalletView>(opts, 'GET', `/wallets/${walletId}`);

/** An Ethereum account needs no share; a Solana account does (its path is hardened). */
export async function addAccount(
  opts: WalletClientOptions,
  walletId: string,
  chain: 'ethereum' | 'solana',
  index: number,
  share?: ClientShare,
): Promise<Account & { accounts_signature?: string | null }> {
  const body = { chain, index };
  const path = `/wallets/${walletId}/accounts`;
  return share
    ? sealedCall(opts, 'POST', path, { walletId, share, action: 'account' }, body)
    : call(opts, 'POST', path, body);
}

export type { SignResult };

/**
 * POST /wallets/:id/sign with any request R (docs/protocol/wallet-shares.md, "Signing"). The
 * answer is returned only if its signature is by `address` over exactly R (verify-signature.ts);
 * else WalletError('WALLET_SIGNATURE_MISMATCH').
 */
export async function signWithShare(
  opts: WalletClientOptions,
  walletId: string,
  share: ClientShare,
  address: string,
  request: Record<string, unknown>,
): Promise<SignResult> {
  const answer = await sealedCall<unknown>(
    opts,
    'POST',
    `/wallets/${walletId}/sign`,
    { walletId, share, action: 'sign' },
    { address, request },
  );
  return verifySignResult(request, address, answer);
}

/** EIP-191 personal_sign: `message` is text, or `0x…` hex bytes. */
export const signWithEthereumMessage = (
  o: WalletClientOptions,
  walletId: string,
  share: ClientShare,
  address: string,
  message: string,
) => signWithShare(o, walletId, share, address, { type: 'eth_personal_sign', message });

/** EIP-712 v4 typed data (`types` including EIP712Domain, `primaryType`, `domain`, `message`). */
export const signWithEthereumTypedData = (
  o: WalletClientOptions,
  walletId: string,
  share: ClientShare,
  address: string,
  typed_data: Record<string, unknown>,
) => signWithShare(o, walletId, share, address, { type: 'eth_typed_data', typed_data });

/** EIP-1559 (maxFeePerGas, maxPriorityFeePerGas) or legacy EIP-155 (gasPrice) transaction. */
export const signWithEthereumTransaction = (
  o: WalletClientOptions,
  walletId: string,
  share: ClientShare,
  address: string,
  transaction: Record<string, unknown>,
) => signWithShare(o, walletId, share, address, { type: 'eth_transaction', transaction });

const b64 = (bytes: Uint8Array) => {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
};

export const signWithSolanaMessage = (
  o: WalletClientOptions,
  walletId: string,
  share: ClientShare,
  address: string,
  message: Uint8Array,
) => signWithShare(o, walletId, share, address, { type: 'sol_message', message: b64(message) });

/** `message`: the serialized transaction message (legacy or v0). */
export const signWithSolanaTransaction = (
  o: WalletClientOptions,
  walletId: string,
  share: ClientShare,
  address: string,
  message: Uint8Array,
) => signWithShare(o, walletId, share, address, { type: 'sol_transaction', message: b64(message) });

/** PUT /wallets/:id/policy (device share). */
export async function setPolicy(
  opts: WalletClientOptions,
  walletId: string,
  device: ClientShare,
  rules: Record<string, unknown>[],
): Promise<WalletView> {
  return sealedCall(
    opts,
    'PUT',
    `/wallets/${walletId}/policy`,
    { walletId, share: device, action: 'policy' },
    { rules },
  );
}

/** POST /wallets/:id/recovery (recovery share): starts the time-lock. */
export async function startRecovery(
  opts: WalletClientOptions,
  walletId: string,
  recovery: ClientShare,
): Promise<WalletView> {
  // The reply key here only fills the body; completion sends its own fresh key.
  const reply = newReplyKeyPair();
  wipe(reply.privateKey);
  return sealedCall(
    opts,
    'POST',
    `/wallets/${walletId}/recovery`,
    { walletId, share: recovery, action: 'recovery' },
    { reply_pub: reply.replyPub },
  );
}

/** DELETE /wallets/:id/recovery (device share). */
export async function cancelRecovery(
  opts: WalletClientOptions,
  walletId: string,
  device: ClientShare,
): Promise<WalletView> {
  return sealedCall(
    opts,
    'DELETE',
    `/wallets/${walletId}/recovery`,
    { walletId, share: device, action: 'recovery_cancel' },
    {},
  );
}

async function resplit(
  opts: WalletClientOptions,
  walletId: string,
  share: ClientShare,
  action: 'recovery_complete' | 'reshare',
  expect: { generation: number; accounts: readonly Account[] },
): Promise<WalletShares> {
  const path = action === 'reshare' ? 'reshare' : 'recovery/complete';
  // The share this re-split takes: the enclave's signature must name it, and the wallet id must
  // be the one asked for (test/wallet/attack-resplit-substitution.test.ts).
  const authorizedBy = Uint8Array.from(share.share);
  return receiveShares(
    (reply_pub) =>
      sealedCall(
        opts,
        'POST',
        `/wallets/${walletId}/${path}`,
        { walletId, share, action },
        { reply_pub },
      ),
    { ...expect, walletId, authorizedBy },
    opts.resultsKey,
  ).finally(() => wipe(authorizedBy));
}

/**
 * After the time-lock: new device and recovery shares of the same secret (generation + 1),
 * checked against the wallet's known accounts (`expect.accounts`, e.g. from `getWallet`). Those
 * come from the host; with `resultsKey`, the enclave's signature naming the share sent here
 * is what rules out a split of another wallet (test/wallet/attack-resplit-substitution.test.ts).
 */
export const completeRecovery = (
  opts: WalletClientOptions,
  walletId: string,
  recovery: ClientShare,
  expect: { generation: number; accounts: readonly Account[] },
) => resplit(opts, walletId, recovery, 'recovery_complete', expect);

export const reshare = (
  opts: WalletClientOptions,
  walletId: string,
  device: ClientShare,
  expect: { generation: number; accounts: readonly Account[] },
) => resplit(opts, walletId, device, 'reshare', expect);

/** DELETE /wallets/:id: the server share is purged; export stays possible with the two shares. */
export async function deleteWallet(
  opts: WalletClientOptions,
  walletId: string,
  share: ClientShare,
): Promise<void> {
  await sealedCall(
    opts,
    'DELETE',
    `/wallets/${walletId}`,
    { walletId, share, action: 'delete' },
    {},
  );
}
