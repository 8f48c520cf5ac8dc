/**
 * ES256 JWT signing (RFC 7515 / 7519 / 7518 §3.4) by hand with node:crypto's synchronous `sign`
 * in IEEE P1363 (r ‖ s) form: 2.5× jose's rate (research/perf-limits.md §1a, §4). The header is
 * fixed ({alg: ES256, typ: JWT, kid}); verification is never done here but by jose in the host
 * and the SDK, so signer and verifier are independent implementations.
 */
import { sign } from 'node:crypto';
import type { AccessClaims } from '../../protocol/auth.js';
import type { JwtKey } from './auth-keyring.js';

// Node's native base64url (the isomorphic protocol/encoding.ts helpers cost more than the sign).
const b64uJson = (v: unknown) => Buffer.from(JSON.stringify(v), 'utf8').toString('base64url');

/** Per key: its encoded header (built once) and its sign options (the prepared KeyObject). */
const prepared = new WeakMap<
  JwtKey,
  { header: string; options: { key: JwtKey['privateKey']; dsaEncoding: 'ieee-p1363' } }
>();

function prepare(key: JwtKey) {
  let p = prepared.get(key);
  if (!p) {
    p = {
      header: `${b64uJson({ alg: 'ES256', typ: 'JWT', kid: key.kid })}.`,
      options: { key: key.privateKey, dsaEncoding: 'ieee-p1363' },
    };
    prepared.set(key, p);
  }
  return p;
}

export function signJwt(key: JwtKey, claims: AccessClaims): string {
  const { header, options } = prepare(key);
  const input = header + b64uJson(claims);
  const sig = sign('sha256', Buffer.from(input, 'ascii'), options);
  return `${input}.${sig.toString('base64url')}`;
}
