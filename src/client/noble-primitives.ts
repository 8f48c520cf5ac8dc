/**
 * Envelope primitives for the isomorphic SDK: audited pure-JS @noble/* only (no `node:` import,
 * no reliance on WebCrypto X25519, which older browsers lack). Sealing one envelope costs a few
 * milliseconds, which is nothing on a client.
 */
import { gcm } from '@noble/ciphers/aes.js';
import { x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { randomBytes } from '@noble/hashes/utils.js';
import type { EnvelopePrimitives } from '../protocol/envelope/primitives.js';

/** The interface's AES-GCM: 128- or 256-bit keys, 12-byte nonces, 16-byte tags, like node's. */
function checkGcm(key: Uint8Array, nonce: Uint8Array, tag?: Uint8Array): void {
  if (key.length !== 16 && key.length !== 32)
    throw new RangeError('AES-GCM key must be 16 or 32 bytes');
  if (nonce.length !== 12) throw new RangeError('AES-GCM nonce must be 12 bytes');
  // Without this, bytes could move between ciphertext and tag unauthenticated.
  if (tag && tag.length !== 16) throw new RangeError('AES-GCM tag must be 16 bytes');
}

export const noblePrimitives: EnvelopePrimitives = {
  x25519: (priv, pub) => x25519.getSharedSecret(priv, pub),
  x25519PublicKey: (priv) => x25519.getPublicKey(priv),
  hkdfSha256: (ikm, salt, info, length) => hkdf(sha256, ikm, salt, info, length),
  aesGcmSeal(key, nonce, plaintext, aad) {
    checkGcm(key, nonce);
    const sealed = gcm(key, nonce, aad).encrypt(plaintext);
    return { ciphertext: sealed.slice(0, -16), tag: sealed.slice(-16) };
  },
  aesGcmOpen(key, nonce, ciphertext, tag, aad) {
    checkGcm(key, nonce, tag);
    const joined = new Uint8Array(ciphertext.length + tag.length);
    joined.set(ciphertext);
    joined.set(tag, ciphertext.length);
    return gcm(key, nonce, aad).decrypt(joined);
  },
  randomBytes: (n) => randomBytes(n),
};
