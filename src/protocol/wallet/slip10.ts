/**
 * SLIP-0010 ed25519 derivation (satoshilabs/slips slip-0010.md), the scheme Phantom, Solflare
 * and Trezor use for Solana. No audited SLIP-0010 library is installed, and the construction is
 * two HMAC-SHA512 calls, so it is written here on @noble/hashes and pinned by the SLIP's own
 * vectors (test/wallet/hd-derivation.test.ts). ed25519 allows only hardened children.
 */
import { hmac } from '@noble/hashes/hmac.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { utf8 } from '../encoding.js';
import { HARDENED, parsePath } from './path.js';

const ED25519_SEED_KEY = utf8.encode('ed25519 seed');

export interface Slip10Node {
  /** The 32-byte ed25519 private seed (RFC 8032 secret key). The caller wipes it. */
  privateKey: Uint8Array;
  chainCode: Uint8Array;
}

function split(i: Uint8Array): Slip10Node {
  const node = { privateKey: i.slice(0, 32), chainCode: i.slice(32) };
  i.fill(0);
  return node;
}

/** Derives the node at `path` (every level hardened); wipes every intermediate key. */
export function slip10Ed25519(seed: Uint8Array, path: string): Slip10Node {
  const indexes = parsePath(path);
  let node = split(hmac(sha512, ED25519_SEED_KEY, seed));
  for (const index of indexes) {
    if (index < HARDENED) throw new RangeError('ed25519 derivation is hardened only');
    const data = new Uint8Array(37);
    data.set(node.privateKey, 1); // 0x00 ‖ k_par ‖ ser32(i)
    new DataView(data.buffer).setUint32(33, index, false);
    const next = split(hmac(sha512, node.chainCode, data));
    data.fill(0);
    node.privateKey.fill(0);
    node.chainCode.fill(0);
    node = next;
  }
  return node;
}
