/**
 * Envelope primitives on node:crypto, the enclave's hot path (research/perf-limits.md §4:
 * synchronous node:crypto is 3.3x WebCrypto and 20x pure JS for the unwrap). Public keys are
 * imported as JWK, which costs far less than a DER import.
 */
import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  hkdfSync,
  randomBytes,
  randomFillSync,
  type KeyObject,
} from 'node:crypto';
import { bytesToBase64url } from '../../protocol/encoding.js';
import type { EnvelopePrimitives } from '../../protocol/envelope/primitives.js';
import { PKCS8_PREFIX, rawOkpPrivate, rawOkpPublic } from './der.js';

export function x25519PublicKeyObject(pub: Uint8Array): KeyObject {
  if (pub.length !== 32) throw new RangeError('X25519 public key must be 32 bytes');
  return createPublicKey({
    key: { kty: 'OKP', crv: 'X25519', x: bytesToBase64url(pub) },
    format: 'jwk',
  });
}

export function x25519PrivateKeyObject(priv: Uint8Array): KeyObject {
  if (priv.length !== 32) throw new RangeError('X25519 private key must be 32 bytes');
  const der = Buffer.concat([PKCS8_PREFIX.x25519, priv]);
  try {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } finally {
    der.fill(0);
  }
}

/** Raw 32-byte public key of an X25519 KeyObject (private or public). */
export function x25519RawPublic(key: KeyObject): Uint8Array {
  return rawOkpPublic(key.type === 'private' ? createPublicKey(key) : key, 'x25519');
}

/** Raw 32-byte private key of an X25519 KeyObject (the caller wipes it). */
export function x25519RawPrivate(key: KeyObject): Uint8Array {
  return rawOkpPrivate(key, 'x25519');
}

function gcm(keyLen: number): 'aes-128-gcm' | 'aes-256-gcm' {
  if (keyLen === 32) return 'aes-256-gcm';
  if (keyLen === 16) return 'aes-128-gcm';
  throw new RangeError('AES-GCM key must be 16 or 32 bytes');
}

export const nodePrimitives: EnvelopePrimitives = {
  x25519(privateKey, publicKey) {
    return x25519WithKeyObject(x25519PrivateKeyObject(privateKey), publicKey);
  },
  x25519PublicKey(privateKey) {
    return x25519RawPublic(x25519PrivateKeyObject(privateKey));
  },
  hkdfSha256(ikm, salt, info, length) {
    return new Uint8Array(hkdfSync('sha256', ikm, salt, info, length));
  },
  aesGcmSeal(key, nonce, plaintext, aad) {
    const c = createCipheriv(gcm(key.length), key, nonce, { authTagLength: 16 });
    if (aad) c.setAAD(aad);
    const ciphertext = Buffer.concat([c.update(plaintext), c.final()]);
    return { ciphertext: new Uint8Array(ciphertext), tag: new Uint8Array(c.getAuthTag()) };
  },
  aesGcmOpen(key, nonce, ciphertext, tag, aad) {
    if (tag.length !== 16) throw new RangeError('tag must be 16 bytes');
    const d = createDecipheriv(gcm(key.length), key, nonce, { authTagLength: 16 });
    if (aad) d.setAAD(aad);
    d.setAuthTag(tag);
    const head = d.update(ciphertext);
    const tail = d.final(); // throws on a bad tag; `head` is then wiped below
    const out = new Uint8Array(head.length + tail.length);
    out.set(head);
    out.set(tail, head.length);
    head.fill(0);
    return out;
  },
  randomBytes(n) {
    // A negative or fractional length would move the block's offset back over bytes already
    // handed out (and wiped): the next value would repeat them, e.g. an all-zero GCM nonce.
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError('length must be a whole number');
    return n <= POOLED_MAX ? pooledRandom(n) : new Uint8Array(randomBytes(n));
  },
};

/**
 * Small random values (GCM nonces, refresh-token ids) come from a 4 KiB block of node:crypto
 * randomness drawn at once, as node's own `randomUUID` does: each synchronous `randomBytes` call
 * costs ~3 µs whatever its size, which was 8-10 % of an `auth.refresh` (bench/README.md). Every
 * byte is handed out once (copied out, then wiped in the block) and a used-up block is replaced
 * by a fresh one.
 */
const POOL_BYTES = 4096;
const POOLED_MAX = 64;
let pool = Buffer.alloc(0);
let poolOffset = 0;

function pooledRandom(n: number): Uint8Array {
  if (poolOffset + n > pool.length) {
    pool = randomFillSync(Buffer.allocUnsafeSlow(POOL_BYTES));
    poolOffset = 0;
  }
  const out = new Uint8Array(pool.subarray(poolOffset, poolOffset + n));
  pool.fill(0, poolOffset, poolOffset + n);
  poolOffset += n;
  return out;
}

/** X25519 with a private KeyObject the caller keeps (the enclave's credential keys). */
export function x25519WithKeyObject(privateKey: KeyObject, peer: Uint8Array): Uint8Array {
  // OpenSSL refuses an all-zero output (low-order point); deriveEnvelopeKeyV1 checks again.
  return new Uint8Array(diffieHellman({ privateKey, publicKey: x25519PublicKeyObject(peer) }));
}
