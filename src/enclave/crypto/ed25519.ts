/** Ed25519 keys on node:crypto from and to their raw 32-byte form (RFC 8032 seed). */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';

/** RFC 8410 PKCS#8 prefix for an Ed25519 private key: the raw 32-byte seed follows it. */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export function ed25519PrivateKeyObject(seed: Uint8Array): KeyObject {
  if (seed.length !== 32) throw new RangeError('Ed25519 seed must be 32 bytes');
  const der = Buffer.concat([ED25519_PKCS8_PREFIX, seed]);
  try {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } finally {
    der.fill(0);
  }
}

export function ed25519RawPublic(key: KeyObject): Uint8Array {
  const x = createPublicKey(key).export({ format: 'jwk' }).x;
  if (!x) throw new TypeError('not an Ed25519 key');
  return new Uint8Array(Buffer.from(x, 'base64url'));
}

export function ed25519RawSeed(key: KeyObject): Uint8Array {
  const d = key.export({ format: 'jwk' }).d;
  if (!d) throw new TypeError('not an Ed25519 private key');
  return new Uint8Array(Buffer.from(d, 'base64url'));
}
