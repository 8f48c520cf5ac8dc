/**
 * Stable key ids: the RFC 7638 JWK thumbprint (SHA-256, base64url) of a public key. The same
 * id a JOSE library would compute, so keys can be named across tools without a registry.
 */
import { sha256 } from './sha256.js';
import { z } from 'zod';
import { bytesToBase64url, utf8 } from './encoding.js';

/** RFC 7638 §3.2: required members only, lexicographic order, no whitespace. */
export function okpThumbprint(crv: 'X25519' | 'Ed25519', publicKey: Uint8Array): string {
  if (publicKey.length !== 32) throw new RangeError('publicKey must be 32 bytes');
  const x = bytesToBase64url(publicKey);
  return bytesToBase64url(sha256(utf8.encode(`{"crv":"${crv}","kty":"OKP","x":"${x}"}`)));
}

export const KeyIdSchema = z.string().regex(/^[A-Za-z0-9_-]{43}$/, {
  message: 'key_id must be an RFC 7638 thumbprint (43 base64url chars)',
});
