/** Ed25519 keys on node:crypto from and to their raw 32-byte form (RFC 8032 seed). */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { PKCS8_PREFIX, rawOkpPrivate, rawOkpPublic } from './der.js';

export function ed25519PrivateKeyObject(seed: Uint8Array): KeyObject {
  if (seed.length !== 32) throw new RangeError('Ed25519 seed must be 32 bytes');
  const der = Buffer.concat([PKCS8_PREFIX.ed25519, seed]);
  try {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } finally {
    der.fill(0);
  }
}

export function ed25519RawPublic(key: KeyObject): Uint8Array {
  return rawOkpPublic(createPublicKey(key), 'ed25519');
}

/** The raw seed of a private key (the caller wipes it). */
export function ed25519RawSeed(key: KeyObject): Uint8Array {
  return rawOkpPrivate(key, 'ed25519');
}
