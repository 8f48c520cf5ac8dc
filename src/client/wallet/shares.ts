/**
 * What the client does with its two shares, with no server involved: check a creation (or
 * reshare) response against what the shares give, and export the mnemonic to leave Cloister.
 */
import {
  INITIAL_ACCOUNTS,
  deriveAccounts as deriveFromSeed,
  mnemonicFromEntropy,
  seedFromEntropy,
  type Account,
} from '../../protocol/wallet/derive.js';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { base64ToBytes, bytesEqual, bytesToBase64, utf8 } from '../../protocol/encoding.js';
import { WalletError } from '../../protocol/wallet/errors.js';
import {
  accountsSigningInput,
  splitAuthorizer,
  splitSigningInput,
  type ShareDigests,
} from '../../protocol/wallet/split-proof.js';
import type { OpenedShare } from '../../protocol/wallet/sealed-share.js';
import { combineShares as combine } from '../../protocol/wallet/shamir.js';
import type { Chain } from '../../protocol/wallet/constants.js';
import { wipe } from '../../protocol/wallet/wipe.js';
import { openSealedShare, shareBytes } from './open-share.js';

type ShareInput = OpenedShare | Uint8Array | string;

/** When both shares carry their metadata, they must be one wallet, one generation, two kinds. */
function checkPair(a: ShareInput, b: ShareInput): void {
  if (
    typeof a === 'object' &&
    !(a instanceof Uint8Array) &&
    typeof b === 'object' &&
    !(b instanceof Uint8Array)
  ) {
    if (a.wallet_id !== b.wallet_id || a.generation !== b.generation || a.kind === b.kind)
      throw new WalletError('WALLET_SHARE_INVALID');
  }
}

/** The wallet's 32-byte entropy from two shares. Unauthenticated (Shamir); the caller wipes it. */
export async function combineShares(a: ShareInput, b: ShareInput): Promise<Uint8Array> {
  checkPair(a, b);
  return combine([shareBytes(a), shareBytes(b)]);
}

/** Accounts derived from two shares (public data only; every secret is wiped). */
export async function deriveAccounts(
  a: ShareInput,
  b: ShareInput,
  wanted: ReadonlyArray<{ chain: Chain; index: number }> = INITIAL_ACCOUNTS,
): Promise<Account[]> {
  const entropy = await combineShares(a, b);
  const seed = seedFromEntropy(entropy);
  try {
    return deriveFromSeed(seed, wanted);
  } finally {
    wipe(entropy, seed);
  }
}

function sameAccounts(expected: readonly Account[], actual: readonly Account[]): boolean {
  const key = (a: Account) => `${a.chain}|${a.index}|${a.path}|${a.address}`;
  return expected.length === actual.length && expected.every((e, i) => key(e) === key(actual[i]!));
}

export interface CreationResponse {
  wallet_id: string;
  accounts: Account[];
  shares: { device: unknown; recovery: unknown };
  generation?: number;
  /** The enclave's signature over the split (protocol/wallet/split-proof.ts). */
  split_signature?: string;
}

/** The attested result key's signature over this response and the reply key it was sealed to. */
function splitSignatureValid(
  response: CreationResponse,
  replyPrivateKey: Uint8Array,
  generation: number,
  resultsKey: string,
  authorizedBy: Uint8Array | undefined,
): boolean {
  try {
    if (typeof response.split_signature !== 'string') return false;
    const input = splitSigningInput({
      wallet_id: response.wallet_id,
      generation,
      accounts: response.accounts,
      reply_pub: bytesToBase64(x25519.getPublicKey(replyPrivateKey)),
      shares: response.shares,
      ...(authorizedBy === undefined ? {} : { authorized_by: splitAuthorizer(authorizedBy) }),
    });
    return ed25519.verify(
      base64ToBytes(response.split_signature),
      input,
      base64ToBytes(resultsKey),
    );
  } catch {
    return false;
  }
}

/**
 * Opens both shares of POST /wallets (or of a recovery/reshare when `expect.generation` says
 * which) and refuses the response unless the wallet id, generation and every listed account
 * are what the shares give. With `expect.resultsKey` (the attested result key,
 * `verification.signingKeys.results`) it also requires the enclave's signature over the split:
 * without it, a host that made up the whole wallet (its own entropy, split and sealed to the
 * public `reply_pub`) would pass the address check and know the key. A re-split's signature
 * also names the client share that authorized it (`expect.authorizedBy`, required past
 * generation 1 with `resultsKey`): the expected accounts often come from the host (GET
 * /wallets/:id), which can have the enclave re-split a wallet of its own to this `reply_pub`.
 * `expect.walletId`, when given, must be the response's.
 */
export async function verifyWalletResponse(
  response: CreationResponse,
  replyPrivateKey: Uint8Array,
  expect: {
    generation: number;
    accounts?: readonly Account[];
    resultsKey?: string;
    walletId?: string;
    /** The share sent with a recovery completion or reshare (its bytes; not wiped here). */
    authorizedBy?: Uint8Array;
  } = {
    generation: 1,
  },
): Promise<{ device: OpenedShare; recovery: OpenedShare; accounts: Account[] }> {
  const device = openSealedShare(response.shares.device, replyPrivateKey);
  const recovery = openSealedShare(response.shares.recovery, replyPrivateKey);
  // By default the accounts a new wallet starts with, no more and no fewer.
  const accounts: readonly { chain: Chain; index: number }[] = expect.accounts ?? INITIAL_ACCOUNTS;
  let ok =
    device.kind === 'device' &&
    recovery.kind === 'recovery' &&
    device.wallet_id === response.wallet_id &&
    recovery.wallet_id === response.wallet_id &&
    device.generation === expect.generation &&
    recovery.generation === expect.generation &&
    (response.generation === undefined || response.generation === expect.generation) &&
    (expect.walletId === undefined || expect.walletId === response.wallet_id) &&
    accounts.length > 0 &&
    (expect.resultsKey === undefined ||
      ((expect.generation === 1) === (expect.authorizedBy === undefined) &&
        splitSignatureValid(
          response,
          replyPrivateKey,
          expect.generation,
          expect.resultsKey,
          expect.authorizedBy,
        )));
  if (ok) {
    const derived = await deriveAccounts(device, recovery, accounts).catch(() => undefined);
    ok =
      derived !== undefined &&
      derived.length === accounts.length &&
      sameAccounts(derived, response.accounts) &&
      (expect.accounts === undefined || sameAccounts(expect.accounts, derived));
  }
  if (!ok) {
    wipe(device.share, recovery.share);
    throw new WalletError('WALLET_CREATION_MISMATCH');
  }
  return { device, recovery, accounts: response.accounts };
}

/** What `verifyAccounts` reads of GET /wallets or GET /wallets/:id (older hosts send less). */
export interface SignedAccountsView {
  wallet_id: string;
  generation: number;
  accounts: Account[];
  share_digests?: ShareDigests | null;
  accounts_signature?: string | null;
}

/**
 * Whether the listed accounts are the ones the attested enclave signed for the wallet the
 * client's own share belongs to (docs/protocol/wallet-shares.md, "Listed accounts are
 * signed"): the result key's `accounts_signature` over { wallet_id, generation, share_digests,
 * accounts }, and `share_digests[share.kind]` equal to the digest of this share. The first
 * alone would pass a wallet the host had the enclave create under the same ids; the share's
 * digest is what the host cannot copy. `verified: false` for anything unchecked: no signature
 * (a wallet not split since signatures were kept), a wrong one, another share, another wallet.
 * A share file's `walletId` and `generation`, when given, must be the view's. The share's
 * bytes are not wiped here. Never throws.
 */
export function verifyAccounts<V extends SignedAccountsView>(
  view: V,
  share: {
    kind: 'device' | 'recovery';
    share: Uint8Array;
    walletId?: string;
    generation?: number;
  },
  resultsKey: string,
): V & { verified: boolean } {
  let verified = false;
  try {
    const digests = view.share_digests;
    const signature = view.accounts_signature;
    if (
      digests &&
      typeof signature === 'string' &&
      (share.walletId === undefined || share.walletId === view.wallet_id) &&
      (share.generation === undefined || share.generation === view.generation) &&
      digestsEqual(splitAuthorizer(share.share), digests[share.kind])
    ) {
      const input = accountsSigningInput({
        wallet_id: view.wallet_id,
        generation: view.generation,
        share_digests: digests,
        accounts: view.accounts,
      });
      verified = ed25519.verify(base64ToBytes(signature), input, base64ToBytes(resultsKey));
    }
  } catch {
    verified = false;
  }
  return { ...view, verified };
}

/** Hex digests compared without an early exit (public values, but no reason to leak). */
const digestsEqual = (a: string, b: unknown): boolean =>
  typeof b === 'string' && bytesEqual(utf8.encode(a), utf8.encode(b));

/**
 * The BIP-39 mnemonic from the device and recovery shares, computed here on the client: the
 * user's exit never depends on the operator. Shamir cannot tell a wrong share: pass the
 * wallet's known accounts to have the result checked against them.
 */
export async function exportMnemonic(
  deviceShare: ShareInput,
  recoveryShare: ShareInput,
  options: { expectedAccounts?: readonly Account[] } = {},
): Promise<string> {
  const entropy = await combineShares(deviceShare, recoveryShare);
  try {
    if (options.expectedAccounts) {
      const seed = seedFromEntropy(entropy);
      try {
        if (!sameAccounts(options.expectedAccounts, deriveFromSeed(seed, options.expectedAccounts)))
          throw new WalletError('WALLET_SHARE_INVALID');
      } finally {
        wipe(seed);
      }
    }
    return mnemonicFromEntropy(entropy);
  } finally {
    wipe(entropy);
  }
}
