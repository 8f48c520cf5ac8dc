/**
 * Access-token verification in the host with jose (an implementation independent of the
 * enclave's hand-made signer): ES256 only, the JWKS the enclave publishes, issuer, audience,
 * expiry, the claims Cloister requires, and a session that has not been revoked (logout and
 * theft detection take effect at once, not after the token's 15 minutes).
 *
 * A session found active is remembered for SESSION_CACHE_MS, so a burst of requests does not
 * cost one database read each (bench/auth.ts: the lookup, not the signature, was the limit).
 * Every revocation on this host clears the cache at once; another host sharing the database
 * notices a revocation within SESSION_CACHE_MS.
 */
import { createLocalJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { AccessClaimsSchema, type AccessClaims, type Jwks } from '../../protocol/auth.js';
import { HostError } from '../errors.js';

export interface TokenVerifierDeps {
  issuer: string;
  audience: string;
  isSessionActive(sessionId: string): Promise<boolean>;
  /** How many active sessions the cache holds before it starts over (tests use a small one). */
  sessionCacheMax?: number;
}

export const SESSION_CACHE_MS = 2000;
/** Least time between two key reloads an unknown kid triggers. */
export const RELOAD_MIN_MS = 5000;
const SESSION_CACHE_MAX = 100_000;

export function createTokenVerifier(deps: TokenVerifierDeps) {
  const { sessionCacheMax = SESSION_CACHE_MAX } = deps;
  let keySet: JWTVerifyGetKey | null = null;
  const active = new Map<string, number>();
  /**
   * Bumped by forget(). A lookup that started before a revocation may have read the row before
   * it was revoked: its answer still serves the request that asked, but is not cached, or the
   * ended session would pass for SESSION_CACHE_MS more.
   */
  let revocations = 0;
  async function sessionActive(sid: string): Promise<boolean> {
    const now = Date.now();
    const until = active.get(sid);
    if (until !== undefined && until > now) return true;
    const seen = revocations;
    if (!(await deps.isSessionActive(sid))) return false;
    if (seen !== revocations) return true;
    if (active.size >= sessionCacheMax) active.clear();
    active.set(sid, now + SESSION_CACHE_MS);
    return true;
  }
  let jwks: Jwks = { keys: [] };
  /** Reloads the keys from the shared store (another instance's rotation); see setReload. */
  let reload: (() => Promise<void>) | null = null;
  let lastReload = 0;
  let reloading: Promise<void> | null = null;
  /** At most one reload per RELOAD_MIN_MS, whatever kids requests name (no amplification). */
  function reloadOnce(): Promise<void> | null {
    if (!reload) return null;
    if (reloading) return reloading;
    if (Date.now() - lastReload < RELOAD_MIN_MS) return null;
    lastReload = Date.now();
    reloading = reload()
      .catch(() => undefined)
      .finally(() => {
        reloading = null;
      });
    return reloading;
  }
  async function verifyJwt(token: string) {
    return jwtVerify(token, keySet!, {
      algorithms: ['ES256'],
      issuer: deps.issuer,
      audience: deps.audience,
      requiredClaims: ['exp', 'iat', 'sub', 'jti'],
      typ: 'JWT',
    });
  }
  return {
    /**
     * Several instances: a token whose kid no key here has may come from a key another member
     * rotated to; `fn` loads the newest stored keyring into the enclave and sets the JWKS.
     */
    setReload(fn: () => Promise<void>): void {
      reload = fn;
    },
    setJwks(next: Jwks): void {
      jwks = next;
      keySet = createLocalJWKSet({ keys: next.keys.map((k) => ({ ...k })) });
    },
    jwks: (): Jwks => jwks,
    /** Called after any revocation: the next check of every session reads the database. */
    forget(): void {
      revocations++;
      active.clear();
    },
    async verify(token: string): Promise<AccessClaims> {
      if (!keySet) throw new HostError('AUTH_TOKEN_INVALID');
      let claims: AccessClaims;
      try {
        let verified: Awaited<ReturnType<typeof verifyJwt>>;
        try {
          verified = await verifyJwt(token);
        } catch (err) {
          const pending =
            (err as { code?: string }).code === 'ERR_JWKS_NO_MATCHING_KEY' ? reloadOnce() : null;
          if (!pending) throw err;
          await pending;
          verified = await verifyJwt(token);
        }
        const { payload, protectedHeader } = verified;
        if (!protectedHeader.kid) throw new Error('no kid');
        claims = AccessClaimsSchema.parse(payload);
      } catch {
        throw new HostError('AUTH_TOKEN_INVALID');
      }
      if (!(await sessionActive(claims.sid))) throw new HostError('AUTH_TOKEN_INVALID');
      return claims;
    },
  };
}
export type TokenVerifier = ReturnType<typeof createTokenVerifier>;
