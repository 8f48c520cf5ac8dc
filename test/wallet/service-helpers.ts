/**
 * Helpers for the wallet service tests: an authenticated user on the real service, shares sealed
 * for a request the way an outside client would (credential envelope to the attested key), and
 * an independent check of what two shares reconstruct (own GF(2^8), @scure/bip39, viem, own
 * SLIP-0010 over @noble/hashes) that shares no code with src/.
 */
import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { mnemonicToSeedSync, entropyToMnemonic } from '@scure/bip39';
import { wordlist } from '@scure/bip39/wordlists/english.js';
import { getBase58Decoder } from '@solana/kit';
import { mnemonicToAccount } from 'viem/accounts';
import { encryptWalletShare } from '../../src/client/wallet/encrypt-share.js';
import { newReplyKeyPair, openSealedShare } from '../../src/client/wallet/open-share.js';
import type { WalletAction } from '../../src/protocol/wallet/binds.js';
import { enclaveKey } from '../helpers/security-util.js';
import type { TestService } from '../helpers/service.js';
import { interpolateAtZero } from './gf256.js';

export interface User {
  token: string;
  id: string;
}

export async function newUser(ts: TestService): Promise<User> {
  const email = `w-${randomUUID()}@example.com`;
  const password = `pw-${randomUUID()}`;
  const reg = await ts.service.app.inject({
    method: 'POST',
    url: '/auth/register',
    payload: { email, password },
  });
  assert.equal(reg.statusCode, 201, reg.body);
  const login = await ts.service.app.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { email, password },
  });
  assert.equal(login.statusCode, 200, login.body);
  return { token: login.json().access_token, id: reg.json().user_id };
}

export function api(ts: TestService, user: User) {
  return (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: object) =>
    ts.service.app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${user.token}` },
      ...(payload ? { payload: payload as Record<string, unknown> } : {}),
    });
}

/**
 * SDK options for `user` whose fetch is routed into the app. `rewrite`, when it returns a body,
 * replaces the app's answer: the host relaying something else (client attack review).
 */
export async function sdkOptions(
  ts: TestService,
  user: User,
  rewrite?: (path: string, status: number, body: string) => unknown,
) {
  const key = await enclaveKey(ts);
  const inject: typeof fetch = async (input, init) => {
    const url = new URL(String(input));
    const res = await ts.service.app.inject({
      method: (init?.method ?? 'GET') as 'GET',
      url: url.pathname,
      headers: init?.headers as Record<string, string>,
      ...(init?.body ? { payload: String(init.body) } : {}),
    });
    const swapped = rewrite?.(url.pathname, res.statusCode, res.body);
    return swapped === undefined
      ? new Response(res.body, { status: res.statusCode })
      : new Response(JSON.stringify(swapped), { status: res.statusCode });
  };
  return {
    baseUrl: 'http://cloister.test',
    accessToken: user.token,
    enclaveKey: { publicKey: key.pub, keyId: key.keyId },
    fetch: inject,
  };
}

/** EIP-712 typed data the wallet tests sign. */
export const MAIL = {
  types: {
    EIP712Domain: [
      { name: 'name', type: 'string' },
      { name: 'chainId', type: 'uint256' },
    ],
    Mail: [
      { name: 'to', type: 'address' },
      { name: 'contents', type: 'string' },
    ],
  },
  primaryType: 'Mail',
  domain: { name: 'Cloister', chainId: 1 },
  message: { to: '0x00000000000000000000000000000000000000aa', contents: 'gm' },
};

/** A body with `share` sealed (credential envelope) for exactly this body and action. */
export async function withShare(
  ts: TestService,
  walletId: string,
  kind: 'device' | 'recovery',
  share: Uint8Array,
  action: WalletAction,
  body: Record<string, unknown>,
  opts: { issuedAt?: number; sealFor?: Record<string, unknown>; walletIdInside?: string } = {},
): Promise<Record<string, unknown>> {
  const { pub, keyId } = await enclaveKey(ts);
  const envelope = await encryptWalletShare(
    {
      walletId: opts.walletIdInside ?? walletId,
      kind,
      share: Uint8Array.from(share),
      action,
      body: opts.sealFor ?? body,
    },
    pub,
    { keyId, ...(opts.issuedAt !== undefined ? { issuedAt: opts.issuedAt } : {}) },
  );
  return { ...body, share: envelope };
}

export interface Opened {
  walletId: string;
  device: Uint8Array;
  recovery: Uint8Array;
  generation: number;
}

/** Opens both sealed shares of a create / recovery / reshare response (client SDK). */
export function openBoth(
  response: { wallet_id: string; shares: { device: unknown; recovery: unknown } },
  replyPriv: Uint8Array,
): Opened {
  const d = openSealedShare(response.shares.device, replyPriv);
  const r = openSealedShare(response.shares.recovery, replyPriv);
  assert.equal(d.kind, 'device');
  assert.equal(r.kind, 'recovery');
  assert.equal(d.generation, r.generation);
  return {
    walletId: response.wallet_id,
    device: Uint8Array.from(d.share),
    recovery: Uint8Array.from(r.share),
    generation: d.generation,
  };
}

export const reply = () => newReplyKeyPair();

/** SLIP-0010 ed25519, written here from the spec (no src/ code). */
function slip10(seed: Uint8Array, path: number[]): Uint8Array {
  let I = hmac(sha512, new TextEncoder().encode('ed25519 seed'), seed);
  for (const index of path) {
    const data = new Uint8Array(37);
    data.set(I.subarray(0, 32), 1);
    new DataView(data.buffer).setUint32(33, (index | 0x80000000) >>> 0);
    I = hmac(sha512, I.subarray(32), data);
  }
  return I.subarray(0, 32);
}

/** Independently: entropy from two shares, the mnemonic, and the first addresses. */
export function independentWallet(a: Uint8Array, b: Uint8Array) {
  const entropy = interpolateAtZero([a, b]);
  const mnemonic = entropyToMnemonic(entropy, wordlist);
  const eth = (i: number) => mnemonicToAccount(mnemonic, { addressIndex: i });
  const seed = mnemonicToSeedSync(mnemonic);
  const solKey = (i: number) => slip10(seed, [44, 501, i, 0]);
  const solAddress = (i: number) => getBase58Decoder().decode(ed25519.getPublicKey(solKey(i)));
  return { entropy, mnemonic, eth, seed, solKey, solAddress };
}
