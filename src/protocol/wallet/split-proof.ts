/**
 * The enclave's signature over a split (creation, recovery completion, reshare): without it a
 * host could answer POST /wallets with a wallet of its own, since sealing a share needs only
 * the client's public `reply_pub`, and the shares would combine to the addresses it lists.
 * The enclave signs, with its attested Ed25519 result key,
 *   "cloister/wallet-split/v1\n" ‖ JCS({ wallet_id, generation, accounts, reply_pub,
 *                                        shares: { device, recovery } })
 * where `device` and `recovery` are the lowercase hex SHA-256 of the JCS of each sealed share.
 * A re-split (recovery completion, reshare) also signs `authorized_by`, the digest of the client
 * share that authorized it (`splitAuthorizer`): the host can have the enclave re-split a wallet
 * of its own (made under the victim's ids, whose shares it opened) to the victim's `reply_pub`,
 * with the addresses it lists; only a re-split of the victim's wallet took the victim's share.
 * The client checks it against the result key of a verified attestation
 * (docs/protocol/wallet-shares.md, "Creation cannot be substituted").
 */
import { sha256 } from '../sha256.js';
import { bytesToHex, concatBytes, utf8 } from '../encoding.js';
import { jcsBytes } from '../jcs.js';

export const WALLET_SPLIT_CONTEXT = 'cloister/wallet-split/v1\n';
export const WALLET_SPLIT_AUTHORIZER_TAG = 'cloister/wallet-split-authorizer/v1\n';

/** hex SHA-256(tag ‖ the 33 share bytes): which client share authorized a re-split. */
export function splitAuthorizer(share: Uint8Array): string {
  const pre = concatBytes(utf8.encode(WALLET_SPLIT_AUTHORIZER_TAG), share);
  try {
    return bytesToHex(sha256(pre));
  } finally {
    pre.fill(0);
  }
}

type PublicAccount = { chain: string; index: number; path: string; address: string };

/** Exactly the four public fields of each account, in order (what both signatures cover). */
const publicAccounts = (accounts: readonly PublicAccount[]) =>
  accounts.map((a) => ({ chain: a.chain, index: a.index, path: a.path, address: a.address }));

export interface SplitProofInput {
  wallet_id: string;
  generation: number;
  accounts: readonly PublicAccount[];
  /** The base64 X25519 key the shares were sealed to. */
  reply_pub: string;
  shares: { device: unknown; recovery: unknown };
  /** Re-splits only: `splitAuthorizer` of the client share the enclave re-split with. */
  authorized_by?: string;
}

/** The bytes the enclave signs for a split. */
export function splitSigningInput(p: SplitProofInput): Uint8Array {
  const digest = (sealed: unknown) => bytesToHex(sha256(jcsBytes(sealed)));
  return concatBytes(
    utf8.encode(WALLET_SPLIT_CONTEXT),
    jcsBytes({
      wallet_id: p.wallet_id,
      generation: p.generation,
      accounts: publicAccounts(p.accounts),
      reply_pub: p.reply_pub,
      shares: { device: digest(p.shares.device), recovery: digest(p.shares.recovery) },
      ...(p.authorized_by === undefined ? {} : { authorized_by: p.authorized_by }),
    }),
  );
}

/**
 * The enclave's signature over a wallet's account list, so that `GET /wallets` cannot show an
 * address of the host's (docs/protocol/wallet-shares.md, "Listed accounts are signed"):
 *   "cloister/wallet-accounts/v1\n" ‖ JCS({ wallet_id, generation, share_digests, accounts })
 * signed by the attested result key on every record that has `share_digests` whenever its
 * accounts or generation change. `share_digests` are `splitAuthorizer` of the generation's two
 * client shares, kept in the MACed record: the client holds one of them, the anchor a host
 * cannot copy. A wallet the host had the enclave create under the victim's ids is signed too,
 * but over the host's share digests, which no share of the victim's matches.
 */
export const WALLET_ACCOUNTS_CONTEXT = 'cloister/wallet-accounts/v1\n';

export interface ShareDigests {
  device: string;
  recovery: string;
}

export interface AccountsProofInput {
  wallet_id: string;
  generation: number;
  share_digests: ShareDigests;
  accounts: readonly PublicAccount[];
}

/** The bytes the enclave signs for a wallet's account list. */
export function accountsSigningInput(p: AccountsProofInput): Uint8Array {
  return concatBytes(
    utf8.encode(WALLET_ACCOUNTS_CONTEXT),
    jcsBytes({
      wallet_id: p.wallet_id,
      generation: p.generation,
      share_digests: { device: p.share_digests.device, recovery: p.share_digests.recovery },
      accounts: publicAccounts(p.accounts),
    }),
  );
}
