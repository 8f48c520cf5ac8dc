/**
 * Raw key bytes out of node:crypto's DER exports, by their fixed RFC 8410 / RFC 5480 / SEC 1
 * prefixes. Why not `KeyObject.export({ format: 'jwk' })`: on Node 20 that call, right after
 * `generateKeyPairSync`, can deadlock with the garbage collector; DER export does not, and a
 * fixed prefix checked byte for byte is as strict as a JWK parse.
 */
import type { KeyObject } from 'node:crypto';
import { bytesEqual } from '../../protocol/encoding.js';

const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));

/** PKCS#8 (RFC 8410) prefixes: the raw 32-byte private key follows. */
export const PKCS8_PREFIX = {
  x25519: hex('302e020100300506032b656e04220420'),
  ed25519: hex('302e020100300506032b657004220420'),
} as const;

/** SPKI prefixes: the raw public key follows (for P-256: 0x04 ‖ x ‖ y, the 0x04 included here). */
const SPKI_PREFIX = {
  x25519: hex('302a300506032b656e032100'),
  ed25519: hex('302a300506032b6570032100'),
  p256: hex('3059301306072a8648ce3d020106082a8648ce3d03010703420004'),
} as const;

/** SEC 1 ECPrivateKey of a P-256 key: version 1, then the 32-byte private scalar. */
const SEC1_P256_PREFIX = hex('30770201010420');

/** A copy of `der[prefix.length, prefix.length + length)`; `der` is wiped. */
function slice(der: Uint8Array, prefix: Uint8Array, length: number, exact: boolean): Uint8Array {
  try {
    const fits = exact
      ? der.length === prefix.length + length
      : der.length >= prefix.length + length;
    if (!fits || !bytesEqual(der.subarray(0, prefix.length), prefix))
      throw new TypeError('unexpected key encoding');
    return der.slice(prefix.length, prefix.length + length);
  } finally {
    der.fill(0);
  }
}

const der = (key: KeyObject, type: 'pkcs8' | 'spki' | 'sec1') =>
  new Uint8Array(key.export({ format: 'der', type }));

/** Raw 32-byte private key of an X25519 or Ed25519 KeyObject (the caller wipes it). */
export function rawOkpPrivate(key: KeyObject, curve: 'x25519' | 'ed25519'): Uint8Array {
  return slice(der(key, 'pkcs8'), PKCS8_PREFIX[curve], 32, true);
}

/** Raw 32-byte public key of an X25519 or Ed25519 public KeyObject. */
export function rawOkpPublic(publicKey: KeyObject, curve: 'x25519' | 'ed25519'): Uint8Array {
  return slice(der(publicKey, 'spki'), SPKI_PREFIX[curve], 32, true);
}

/** The 32-byte private scalar of a P-256 private KeyObject (the caller wipes it). */
export function rawP256Private(key: KeyObject): Uint8Array {
  return slice(der(key, 'sec1'), SEC1_P256_PREFIX, 32, false);
}

/** x ‖ y (64 bytes) of a P-256 public KeyObject. */
export function rawP256Public(publicKey: KeyObject): Uint8Array {
  return slice(der(publicKey, 'spki'), SPKI_PREFIX.p256, 64, true);
}
