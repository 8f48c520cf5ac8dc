/**
 * Who is calling: the access token from `Authorization: Bearer` (or the `__Host-cloister_access`
 * cookie when AUTH_COOKIES is on), verified by the TokenVerifier. `user()` answers null only
 * when AUTH_DISABLED_FOR_DEVELOPMENT is set and no token was sent; every other missing or bad
 * token is a 401. `operator()` always needs a token with the `operator` role claim (403).
 */
import type { FastifyRequest } from 'fastify';
import type { AccessClaims } from '../../protocol/auth.js';
import { HostError } from '../errors.js';
import type { TokenVerifier } from './verifier.js';

/**
 * Cookie mode's names. The `__Host-` prefix makes a browser accept them only from this very
 * host, over HTTPS, with Path=/ and no Domain (RFC 6265bis §4.1.3.2): a page on a sibling
 * subdomain can neither set them for the parent domain nor shadow them with a longer path.
 */
export const ACCESS_COOKIE = '__Host-cloister_access';
export const REFRESH_COOKIE = '__Host-cloister_refresh';

/** A Set-Cookie value for one of them, with the attributes the prefix requires (no Domain). */
export const cookieLine = (name: string, value: string, maxAgeSeconds: number) =>
  `${name}=${value}; Max-Age=${maxAgeSeconds}; Path=/; Secure; HttpOnly; SameSite=Strict`;

/**
 * The value of the one cookie called `name`; undefined when there is none, or more than one.
 * A page on another subdomain of the site could set a cookie of the same name for the parent
 * domain with a longer path, which the browser then sends first: taking the first would sign
 * the user in to that page's account (whatever they submit would land there). The `__Host-`
 * names stop that in current browsers; should two arrive anyway, which is the user's own
 * cannot be told, so neither is used.
 */
export function readCookie(request: FastifyRequest, name: string): string | undefined {
  const header = request.headers.cookie;
  if (!header) return undefined;
  let value: string | undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) {
      if (value !== undefined) return undefined;
      value = part.slice(i + 1).trim();
    }
  }
  return value;
}

export function createAuthGuard(deps: {
  verifier: Pick<TokenVerifier, 'verify'>;
  disabledForDevelopment: boolean;
  cookies: boolean;
}) {
  function tokenOf(request: FastifyRequest): string | undefined {
    const h = request.headers.authorization;
    if (h !== undefined) {
      const m = /^Bearer ([A-Za-z0-9_.-]{1,4096})$/.exec(h);
      if (!m) throw new HostError('AUTH_TOKEN_INVALID');
      return m[1];
    }
    return deps.cookies ? readCookie(request, ACCESS_COOKIE) : undefined;
  }
  // One verification per request, however many checks ask (the onRequest hook and the handler).
  const seen = new WeakMap<FastifyRequest, Promise<AccessClaims | null>>();
  async function verifyUser(request: FastifyRequest): Promise<AccessClaims | null> {
    const token = tokenOf(request);
    if (token === undefined) {
      if (deps.disabledForDevelopment) return null;
      throw new HostError('AUTH_REQUIRED');
    }
    return deps.verifier.verify(token);
  }
  const guard = {
    disabled: deps.disabledForDevelopment,
    /** The caller's claims; null only in development mode without a token. */
    user(request: FastifyRequest): Promise<AccessClaims | null> {
      let p = seen.get(request);
      if (!p) {
        p = verifyUser(request);
        seen.set(request, p);
      }
      return p;
    },
    /** The authenticated context's `onRequest` hook: refuse before the body is parsed. */
    async authenticate(request: FastifyRequest): Promise<void> {
      await guard.user(request);
    },
    /** The caller's access token as sent (for the enclave to check itself when linking). */
    token(request: FastifyRequest): string {
      const t = tokenOf(request);
      if (t === undefined) throw new HostError('AUTH_REQUIRED');
      return t;
    },
    /** The caller's claims; a token is required even in development mode. */
    async claims(request: FastifyRequest): Promise<AccessClaims> {
      const claims = await guard.user(request);
      if (!claims) throw new HostError('AUTH_REQUIRED');
      return claims;
    },
    /** The operator context's `onRequest` hook: the role is needed even in development mode. */
    async operator(request: FastifyRequest): Promise<AccessClaims> {
      const claims = await guard.claims(request);
      if (!claims.roles.includes('operator')) throw new HostError('AUTH_FORBIDDEN');
      return claims;
    },
  };
  return guard;
}
export type AuthGuard = ReturnType<typeof createAuthGuard>;
