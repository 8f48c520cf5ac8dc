/**
 * From a wallet's entropy to its accounts: BIP-39 (entropy → mnemonic → seed), BIP-32/44 on
 * secp256k1 for Ethereum with EIP-55 addresses, SLIP-0010 ed25519 for Solana with base58
 * addresses. Pure and deterministic, so the enclave (to sign) and the client (to check a
 * creation response and to export) derive with the same code.
 *
 * Secrets stay in byte arrays the caller can wipe: the mnemonic is assembled as UTF-8 bytes
 * straight from the word indexes instead of as a JS string (strings cannot be zeroed), and each
 * intermediate BIP-32 node is wiped as soon as its child exists.
 */
import { HDKey } from '@scure/bip32';
import { entropyToMnemonic, mnemonicToEntropy } from '@scure/bip39';
import { wordlist } from '@scure/bip39/wordlists/english.js';
import { base58 } from '@scure/base';
import { ed25519 } from '@noble/curves/ed25519.js';
import { pbkdf2 } from '@noble/hashes/pbkdf2.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { sha256 } from '../sha256.js';
import { addr } from 'micro-eth-signer';
import { utf8 } from '../encoding.js';
import { WALLET_ENTROPY_BYTES, type Chain } from './constants.js';
import { ETHEREUM_ACCOUNT_PARENT, accountPath, parsePath } from './path.js';
import { slip10Ed25519 } from './slip10.js';

export interface Account {
  chain: Chain;
  index: number;
  path: string;
  address: string;
}

/** A signing key for one account. The caller wipes `privateKey` after use. */
export interface AccountKey extends Account {
  privateKey: Uint8Array;
  publicKey: Uint8Array;
}

/** PBKDF2-HMAC-SHA512; the enclave passes node:crypto's (faster), the client uses @noble's. */
export type Pbkdf2Sha512 = (
  password: Uint8Array,
  salt: Uint8Array,
  iterations: number,
  length: number,
) => Uint8Array;

export const noblePbkdf2Sha512: Pbkdf2Sha512 = (password, salt, c, dkLen) =>
  pbkdf2(sha512, password, salt, { c, dkLen });

const WORD_BYTES = wordlist.map((w) => utf8.encode(w));

/**
 * The English mnemonic of `entropy` as UTF-8 bytes (BIP-39: entropy ‖ checksum in 11-bit
 * groups). Same words as @scure/bip39's entropyToMnemonic (checked for every BIP-39 vector), but
 * in a wipeable buffer. English words are ASCII, so NFKD leaves them unchanged.
 */
export function mnemonicBytesFromEntropy(entropy: Uint8Array): Uint8Array {
  if (entropy.length < 16 || entropy.length > 32 || entropy.length % 4 !== 0)
    throw new RangeError('BIP-39 entropy must be 16 to 32 bytes, a multiple of 4');
  const checksum = sha256(entropy);
  const bits = entropy.length * 8 + entropy.length / 4;
  const bit = (i: number) => {
    const byte = i < entropy.length * 8 ? entropy[i >> 3]! : checksum[(i >> 3) - entropy.length]!;
    return (byte >> (7 - (i & 7))) & 1;
  };
  const words: Uint8Array[] = [];
  for (let i = 0; i < bits; i += 11) {
    let index = 0;
    for (let j = 0; j < 11; j++) index = (index << 1) | bit(i + j);
    words.push(WORD_BYTES[index]!);
    index = 0;
  }
  checksum.fill(0);
  const out = new Uint8Array(words.reduce((n, w) => n + w.length, words.length - 1));
  let off = 0;
  for (const [i, w] of words.entries()) {
    if (i > 0) out[off++] = 0x20;
    out.set(w, off);
    off += w.length;
  }
  return out;
}

/** BIP-39 seed of `entropy`'s English mnemonic (64 bytes). The caller wipes it. */
export function seedFromEntropy(
  entropy: Uint8Array,
  passphrase = '',
  kdf: Pbkdf2Sha512 = noblePbkdf2Sha512,
): Uint8Array {
  const mnemonic = mnemonicBytesFromEntropy(entropy);
  try {
    return kdf(mnemonic, utf8.encode(`mnemonic${passphrase.normalize('NFKD')}`), 2048, 64);
  } finally {
    mnemonic.fill(0);
  }
}

/** The 24-word mnemonic as a string: only for export, on the client, where the user sees it. */
export function mnemonicFromEntropy(entropy: Uint8Array): string {
  if (entropy.length !== WALLET_ENTROPY_BYTES) throw new RangeError('wallet entropy is 32 bytes');
  return entropyToMnemonic(entropy, wordlist);
}

/** Inverse of mnemonicFromEntropy (checks the BIP-39 checksum); for importing or testing. */
export function entropyFromMnemonic(mnemonic: string): Uint8Array {
  return mnemonicToEntropy(mnemonic, wordlist);
}

/** BIP-32 on secp256k1 along `path`, wiping every intermediate private key. */
export function deriveSecp256k1(seed: Uint8Array, path: string): HDKey {
  let node = HDKey.fromMasterSeed(seed);
  for (const index of parsePath(path)) {
    const child = node.deriveChild(index);
    node.wipePrivateData();
    node = child;
  }
  return node;
}

function ethereumAddress(publicKey: Uint8Array): string {
  return addr.fromPublicKey(publicKey);
}

export function solanaAddress(publicKey: Uint8Array): string {
  return base58.encode(publicKey);
}

/** The Ethereum signing key of account `index`. */
export function deriveEthereumKey(seed: Uint8Array, index: number): AccountKey {
  const path = accountPath('ethereum', index);
  const node = deriveSecp256k1(seed, path);
  const privateKey = node.privateKey!.slice();
  const publicKey = node.publicKey!;
  node.wipePrivateData();
  return {
    chain: 'ethereum',
    index,
    path,
    address: ethereumAddress(publicKey),
    privateKey,
    publicKey,
  };
}

/** The Solana signing key of account `index` (privateKey = the 32-byte ed25519 seed). */
export function deriveSolanaKey(seed: Uint8Array, index: number): AccountKey {
  const path = accountPath('solana', index);
  const { privateKey, chainCode } = slip10Ed25519(seed, path);
  chainCode.fill(0);
  const publicKey = ed25519.getPublicKey(privateKey);
  return { chain: 'solana', index, path, address: solanaAddress(publicKey), privateKey, publicKey };
}

export function deriveAccountKey(seed: Uint8Array, chain: Chain, index: number): AccountKey {
  return chain === 'ethereum' ? deriveEthereumKey(seed, index) : deriveSolanaKey(seed, index);
}

/** Public account data only: derives each key and wipes it at once. */
export function deriveAccounts(
  seed: Uint8Array,
  wanted: ReadonlyArray<{ chain: Chain; index: number }>,
): Account[] {
  return wanted.map(({ chain, index }) => {
    const { privateKey, publicKey: _p, ...account } = deriveAccountKey(seed, chain, index);
    privateKey.fill(0);
    return account;
  });
}

/**
 * The extended public key at m/44'/60'/0'/0. Stored with the wallet, it derives every further
 * Ethereum account (non-hardened last level) without any share. Solana's path is hardened at
 * every level, so there is no equivalent: a new Solana account needs the secret.
 */
export function ethereumAccountXpub(seed: Uint8Array): string {
  const node = deriveSecp256k1(seed, ETHEREUM_ACCOUNT_PARENT);
  const xpub = node.publicExtendedKey;
  node.wipePrivateData();
  return xpub;
}

export function ethereumAccountFromXpub(xpub: string, index: number): Account {
  const path = accountPath('ethereum', index);
  const parent = HDKey.fromExtendedKey(xpub);
  if (parent.privateKey) throw new TypeError('expected an extended public key');
  const child = parent.deriveChild(index);
  return { chain: 'ethereum', index, path, address: ethereumAddress(child.publicKey!) };
}

/** The accounts every new wallet starts with (the creation response). */
export const INITIAL_ACCOUNTS: ReadonlyArray<{ chain: Chain; index: number }> = [
  { chain: 'ethereum', index: 0 },
  { chain: 'solana', index: 0 },
];
