/**
 * The fixed parameters of wallet custody (docs/protocol/wallet-shares.md). One place, so the
 * enclave that splits and the client that combines can never disagree.
 */
import { utf8 } from '../encoding.js';

/** BIP-39 entropy drawn by the enclave: 32 bytes, a 24-word mnemonic. */
export const WALLET_ENTROPY_BYTES = 32;
/** Vault share format: one y byte per secret byte, then the x byte. */
export const WALLET_SHARE_BYTES = WALLET_ENTROPY_BYTES + 1;
export const WALLET_THRESHOLD = 2;
export const WALLET_SHARES = 3;

export const SHARE_KINDS = ['server', 'device', 'recovery'] as const;
export type ShareKind = (typeof SHARE_KINDS)[number];
/** The kinds a client holds, and so the only kinds that ever leave or enter the enclave. */
export const CLIENT_SHARE_KINDS = ['device', 'recovery'] as const;
export type ClientShareKind = (typeof CLIENT_SHARE_KINDS)[number];

/** HKDF info of the key that seals a share to a client's reply_pub. */
export const SEALED_SHARE_INFO = utf8.encode('cloister/wallet-share/v1');
/** HKDF info prefix of the per-user DEK that wraps server shares (the user id follows). */
export const WALLET_DEK_INFO = 'cloister/wallet-dek/v1';
/** Domain tag of the entropy commitment kept inside the server-share record. */
export const WALLET_COMMIT_TAG = 'cloister/wallet-commit/v1';

export const CHAINS = ['ethereum', 'solana'] as const;
export type Chain = (typeof CHAINS)[number];

/** Account indexes stay below the hardened offset: every path level is then a valid uint31. */
export const MAX_ACCOUNT_INDEX = 0x7fffffff;

/** Accounts one wallet record holds at most (its schema; the enclave refuses to add more). */
export const WALLET_MAX_ACCOUNTS = 1000;
