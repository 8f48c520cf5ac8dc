/**
 * The wallet operations the enclave's RPC methods call (wired in a later change): each one
 * takes what the host stores (ciphertext, xpub, generation, policy) plus the client's share
 * from an opened and bind-checked wallet_share envelope, does its work on secrets that live for
 * this call only, and wipes them before returning. Nothing here does I/O.
 */
import { pbkdf2Sync } from 'node:crypto';
import type { EnvelopePrimitives } from '../../protocol/envelope/primitives.js';
import {
  WALLET_SHARE_BYTES,
  type Chain,
  type ClientShareKind,
} from '../../protocol/wallet/constants.js';
import {
  INITIAL_ACCOUNTS,
  deriveAccountKey,
  deriveAccounts,
  ethereumAccountXpub,
  seedFromEntropy,
  type Account,
  type AccountKey,
  type Pbkdf2Sha512,
} from '../../protocol/wallet/derive.js';
import { WalletError } from '../../protocol/wallet/errors.js';
import type { PolicyRule, SignRequest } from '../../protocol/wallet/requests.js';
import { sealShare, shareToBase64, type SealedShare } from '../../protocol/wallet/sealed-share.js';
import { combineShares } from '../../protocol/wallet/shamir.js';
import { splitAuthorizer, type ShareDigests } from '../../protocol/wallet/split-proof.js';
import { wipe } from '../../protocol/wallet/wipe.js';
import { nodePrimitives } from '../crypto/node-primitives.js';
import { evaluatePolicy, type PolicyVerdict } from './policy.js';
import {
  commitmentMatches,
  entropyCommitment,
  openServerShare,
  sealServerShare,
  type ServerShareContext,
  type ServerShareRecord,
} from './server-share.js';
import { signEthTransaction, signPersonalMessage, signTypedData } from './sign-ethereum.js';
import { signSolanaMessage, signSolanaTransaction } from './sign-solana.js';
import { drawWalletEntropy, splitEntropy, wipeShares } from './split.js';

/** node:crypto's PBKDF2 (BIP-39 seed), several times faster than pure JS on the signing path. */
export const nodePbkdf2Sha512: Pbkdf2Sha512 = (password, salt, iterations, length) => {
  const out = pbkdf2Sync(password, salt, iterations, length, 'sha512');
  const copy = Uint8Array.from(out);
  out.fill(0);
  return copy;
};

export interface WalletKeys {
  /** The keyring's wallet master key (32 bytes). Not wiped here: the keyring owns it. */
  masterKey: Uint8Array;
}

export interface SplitResult {
  generation: number;
  serverShare: ServerShareRecord;
  sealed: { device: SealedShare; recovery: SealedShare };
  /** `splitAuthorizer` of each new client share: kept in the record, signed with its accounts. */
  shareDigests: ShareDigests;
}

export interface CreatedWallet extends SplitResult {
  accounts: Account[];
  /** Extended public key at m/44'/60'/0'/0: later Ethereum accounts need no share. */
  ethereumXpub: string;
}

async function splitAndSeal(
  keys: WalletKeys,
  ctx: ServerShareContext,
  entropy: Uint8Array,
  replyPub: Uint8Array,
  prims: EnvelopePrimitives,
): Promise<SplitResult> {
  const shares = await splitEntropy(entropy);
  const commitment = entropyCommitment(ctx.walletId, entropy);
  try {
    const seal = (kind: ClientShareKind, share: Uint8Array) =>
      sealShare(prims, replyPub, {
        wallet_id: ctx.walletId,
        kind,
        share: shareToBase64(share),
        threshold: 2,
        shares: 3,
        generation: ctx.generation,
      });
    return {
      generation: ctx.generation,
      serverShare: sealServerShare(keys.masterKey, ctx, shares.server, commitment, {
        device: shares.device[WALLET_SHARE_BYTES - 1]!,
        recovery: shares.recovery[WALLET_SHARE_BYTES - 1]!,
      }),
      sealed: {
        device: seal('device', shares.device),
        recovery: seal('recovery', shares.recovery),
      },
      shareDigests: {
        device: splitAuthorizer(shares.device),
        recovery: splitAuthorizer(shares.recovery),
      },
    };
  } finally {
    wipeShares(shares);
    wipe(commitment);
  }
}

/** POST /wallets: fresh entropy, split, accounts, server share sealed at rest, generation 1. */
export async function createWallet(
  keys: WalletKeys,
  args: { userId: string; walletId: string; replyPub: Uint8Array },
  prims: EnvelopePrimitives = nodePrimitives,
): Promise<CreatedWallet> {
  const entropy = drawWalletEntropy();
  const seed = seedFromEntropy(entropy, '', nodePbkdf2Sha512);
  try {
    const ctx = { userId: args.userId, walletId: args.walletId, generation: 1 };
    const split = await splitAndSeal(keys, ctx, entropy, args.replyPub, prims);
    return {
      ...split,
      accounts: deriveAccounts(seed, INITIAL_ACCOUNTS),
      ethereumXpub: ethereumAccountXpub(seed),
    };
  } finally {
    wipe(entropy, seed);
  }
}

export interface StoredWallet extends ServerShareContext {
  serverShare: ServerShareRecord;
}

/** A client share and the kind its sender claims (checked against the sealed x coordinates). */
export interface ClientShare {
  kind: ClientShareKind;
  /** 33 bytes, Vault format; consumed (zeroed) by the function it is given to. */
  share: Uint8Array;
}

/**
 * The wallet's entropy from its server share and one client share, checked against the
 * commitment sealed with the server share (Shamir itself would accept a corrupted, foreign or
 * old-generation share and return a different secret). The share's x coordinate must be the
 * one sealed for the kind it claims: a recovery share cannot pose as the device share
 * (WALLET_SHARE_WRONG_KIND). The caller wipes the result.
 *
 * Every function here that takes a client share consumes it: it is zeroed before returning,
 * on success and on failure alike.
 */
export async function reconstructEntropy(
  keys: WalletKeys,
  wallet: StoredWallet,
  client: ClientShare,
): Promise<Uint8Array> {
  const clientShare = client.share;
  let share: Uint8Array | undefined;
  let commitment: Uint8Array | undefined;
  let entropy: Uint8Array | undefined;
  try {
    let clientXs;
    ({ share, commitment, clientXs } = openServerShare(keys.masterKey, wallet, wallet.serverShare));
    entropy = await combineShares([share, clientShare]);
    if (!commitmentMatches(wallet.walletId, entropy, commitment))
      throw new WalletError('WALLET_SHARE_INVALID');
    // A genuine share of this generation, but is it the kind it claims?
    if (clientShare[WALLET_SHARE_BYTES - 1] !== clientXs[client.kind])
      throw new WalletError('WALLET_SHARE_WRONG_KIND');
    const ok = entropy;
    entropy = undefined;
    return ok;
  } finally {
    wipe(share, commitment, entropy, clientShare);
  }
}

/** Runs `fn` with the wallet's BIP-39 seed, wiping entropy and seed afterwards. */
async function withSeed<T>(
  keys: WalletKeys,
  wallet: StoredWallet,
  clientShare: ClientShare,
  fn: (seed: Uint8Array) => T,
): Promise<T> {
  const entropy = await reconstructEntropy(keys, wallet, clientShare);
  let seed: Uint8Array | undefined;
  try {
    seed = seedFromEntropy(entropy, '', nodePbkdf2Sha512);
    return fn(seed);
  } finally {
    wipe(entropy, seed);
  }
}

/**
 * Proof of possession for actions that change no key (policy set, recovery start and cancel,
 * delete): the share must reconstruct this wallet. Wipes everything it reconstructed.
 */
export async function verifyClientShare(
  keys: WalletKeys,
  wallet: StoredWallet,
  clientShare: ClientShare,
): Promise<void> {
  wipe(await reconstructEntropy(keys, wallet, clientShare));
}

/**
 * Recovery complete and reshare: the same secret, a fresh polynomial and fresh x coordinates,
 * generation + 1. The new server share record replaces the old; the old client shares then
 * combine with it to garbage, which the commitment refuses.
 */
export async function resplitWallet(
  keys: WalletKeys,
  wallet: StoredWallet,
  clientShare: ClientShare,
  replyPub: Uint8Array,
  prims: EnvelopePrimitives = nodePrimitives,
): Promise<SplitResult> {
  const entropy = await reconstructEntropy(keys, wallet, clientShare);
  try {
    const ctx = {
      userId: wallet.userId,
      walletId: wallet.walletId,
      generation: wallet.generation + 1,
    };
    return await splitAndSeal(keys, ctx, entropy, replyPub, prims);
  } finally {
    wipe(entropy);
  }
}

/** A Solana account (hardened path: needs the secret). Ethereum: use ethereumAccountFromXpub. */
export async function deriveAccountWithShare(
  keys: WalletKeys,
  wallet: StoredWallet,
  clientShare: ClientShare,
  chain: Chain,
  index: number,
): Promise<Account> {
  return withSeed(
    keys,
    wallet,
    clientShare,
    (seed) => deriveAccounts(seed, [{ chain, index }])[0]!,
  );
}

const CHAIN_OF: Record<SignRequest['type'], Chain> = {
  eth_personal_sign: 'ethereum',
  eth_typed_data: 'ethereum',
  eth_transaction: 'ethereum',
  sol_message: 'solana',
  sol_transaction: 'solana',
};

export type SignResult = { signature: string } | { signed_transaction: string; hash: string };

function signWithKey(key: AccountKey, request: SignRequest): SignResult {
  switch (request.type) {
    case 'eth_personal_sign':
      return signPersonalMessage(key.privateKey, request.message);
    case 'eth_typed_data':
      return signTypedData(key.privateKey, request.typed_data);
    case 'eth_transaction':
      return signEthTransaction(key.privateKey, request.transaction);
    case 'sol_message':
      return signSolanaMessage(key.privateKey, request.message);
    case 'sol_transaction':
      return signSolanaTransaction(key.privateKey, key.publicKey, request.message);
  }
}

export interface SignArgs {
  /** The account the host says holds `address`; re-derived and compared, so a lie fails. */
  account: { chain: Chain; index: number };
  address: string;
  request: SignRequest;
  rules: readonly PolicyRule[];
  spentTodayWei: bigint;
}

export type SignOutcome =
  | { verdict: Extract<PolicyVerdict, { allowed: true }>; result: SignResult }
  | { verdict: Extract<PolicyVerdict, { allowed: false }> };

/**
 * POST /wallets/:id/sign. The policy is evaluated before any secret is reconstructed, so a
 * refused request touches no share; the verdict is returned for the log either way. Throws
 * POLICY_DENIED only through the caller (it decides how to log before answering 403).
 */
export async function signWithShares(
  keys: WalletKeys,
  wallet: StoredWallet,
  clientShare: ClientShare,
  args: SignArgs,
): Promise<SignOutcome> {
  if (CHAIN_OF[args.request.type] !== args.account.chain) {
    wipe(clientShare.share);
    throw new WalletError('WALLET_REQUEST_INVALID');
  }
  const verdict = evaluatePolicy(args.rules, args.request, { spentTodayWei: args.spentTodayWei });
  if (!verdict.allowed) {
    wipe(clientShare.share);
    return { verdict };
  }
  return withSeed(keys, wallet, clientShare, (seed) => {
    const key = deriveAccountKey(seed, args.account.chain, args.account.index);
    try {
      const same =
        key.chain === 'ethereum'
          ? key.address.toLowerCase() === args.address.toLowerCase()
          : key.address === args.address;
      if (!same) throw new WalletError('WALLET_ADDRESS_UNKNOWN');
      return { verdict, result: signWithKey(key, args.request) };
    } finally {
      wipe(key.privateKey);
    }
  });
}
