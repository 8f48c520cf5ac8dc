/**
 * ES256 JWT signing (RFC 7515 / 7519 / 7518 §3.4) by hand with node:crypto's synchronous `sign`
 * in IEEE P1363 (r ‖ s) form: 2.5× jose's rate (research/perf-limits.md §1a, §4). The header is
 * fixed ({alg: ES256, typ: JWT, kid}). Clients and the host verify with jose; the enclave checks
 * a token itself only where it must not take the host's word for who the caller is (linking a
 * login method to the caller's account: `verifyOwnJwt`).
 */
import { createPublicKey, sign, verify } from 'node:crypto';
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

/**
 * As signJwt, but the signature is computed on libuv's thread pool (node:crypto's `sign` with a
 * callback), so the enclave's main thread frames, validates and prepares other calls meanwhile
 * (issue 17: token issuance). The header and claims are fixed before this returns: the key and
 * every claim are chosen synchronously, in call order; only the ECDSA computation is deferred.
 */
export function signJwtAsync(key: JwtKey, claims: AccessClaims): Promise<string> {
  const { header, options } = prepare(key);
  const input = header + b64uJson(claims);
  return new Promise((resolve, reject) => {
    sign('sha256', Buffer.from(input, 'ascii'), options, (err, sig) => {
      if (err) reject(err);
      else resolve(`${input}.${sig.toString('base64url')}`);
    });
  });
}

/**
 * The `sub` of an access token this enclave signed with a key still published, unexpired and
 * for this issuer and audience; null otherwise. Only the header's kid picks the key; the
 * algorithm is fixed (ES256, P1363), so no header field can change how it is checked.
 */
export function verifyOwnJwt(
  token: string,
  keyOf: (kid: string) => JwtKey | null,
  expect: { iss: string; aud: string; now: number },
): string | null {
  return verifyOwnClaims(token, keyOf, expect)?.sub ?? null;
}

/** As verifyOwnJwt, but the whole claim set (sub, sid, roles, amr...) of a valid token. */
export function verifyOwnClaims(
  token: string,
  keyOf: (kid: string) => JwtKey | null,
  expect: { iss: string; aud: string; now: number },
): (Partial<AccessClaims> & { sub: string }) | null {
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  try {
    const header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as {
      alg?: unknown;
      kid?: unknown;
    };
    if (header.alg !== 'ES256' || typeof header.kid !== 'string') return null;
    const key = keyOf(header.kid);
    if (!key) return null;
    const ok = verify(
      'sha256',
      Buffer.from(`${parts[0]}.${parts[1]}`, 'ascii'),
      { key: createPublicKey(key.privateKey), dsaEncoding: 'ieee-p1363' },
      Buffer.from(parts[2]!, 'base64url'),
    );
    if (!ok) return null;
    const c = JSON.parse(
      Buffer.from(parts[1]!, 'base64url').toString('utf8'),
    ) as Partial<AccessClaims>;
    if (c.iss !== expect.iss || c.aud !== expect.aud) return null;
    if (typeof c.exp !== 'number' || c.exp <= expect.now || typeof c.sub !== 'string') return null;
    return { ...c, sub: c.sub };
  } catch {
    return null;
  }
}
