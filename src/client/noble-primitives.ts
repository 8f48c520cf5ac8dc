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

export const noblePrimitives: EnvelopePrimitives = {
  x25519: (priv, pub) => x25519.getSharedSecret(priv, pub),
  x25519PublicKey: (priv) => x25519.getPublicKey(priv),
  hkdfSha256: (ikm, salt, info, length) => hkdf(sha256, ikm, salt, info, length),
  aesGcmSeal(key, nonce, plaintext, aad) {
    const sealed = gcm(key, nonce, aad).encrypt(plaintext);
    return { ciphertext: sealed.slice(0, -16), tag: sealed.slice(-16) };
  },
  aesGcmOpen(key, nonce, ciphertext, tag, aad) {
    const joined = new Uint8Array(ciphertext.length + tag.length);
    joined.set(ciphertext);
    joined.set(tag, ciphertext.length);
    return gcm(key, nonce, aad).decrypt(joined);
  },
  randomBytes: (n) => randomBytes(n),
};
