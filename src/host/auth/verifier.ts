/**
 * Access-token verification in the host with jose (an implementation independent of the
 * enclave's hand-made signer): ES256 only, the JWKS the enclave publishes, issuer, audience,
 * expiry, the claims Cloister requires, and a session that has not been revoked (logout and
 * theft detection take effect at once, not after the token's 15 minutes).
 */
import { createLocalJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { AccessClaimsSchema, type AccessClaims, type Jwks } from '../../protocol/auth.js';
import { HostError } from '../errors.js';

export interface TokenVerifierDeps {
  issuer: string;
  audience: string;
  isSessionActive(sessionId: string): Promise<boolean>;
}

export function createTokenVerifier(deps: TokenVerifierDeps) {
  let keySet: JWTVerifyGetKey | null = null;
  let jwks: Jwks = { keys: [] };
  return {
    setJwks(next: Jwks): void {
      jwks = next;
      keySet = createLocalJWKSet({ keys: next.keys.map((k) => ({ ...k })) });
    },
    jwks: (): Jwks => jwks,
    async verify(token: string): Promise<AccessClaims> {
      if (!keySet) throw new HostError('AUTH_TOKEN_INVALID');
      let claims: AccessClaims;
      try {
        const { payload, protectedHeader } = await jwtVerify(token, keySet, {
          algorithms: ['ES256'],
          issuer: deps.issuer,
          audience: deps.audience,
          requiredClaims: ['exp', 'iat', 'sub', 'jti'],
          typ: 'JWT',
        });
        if (!protectedHeader.kid) throw new Error('no kid');
        claims = AccessClaimsSchema.parse(payload);
      } catch {
        throw new HostError('AUTH_TOKEN_INVALID');
      }
      if (!(await deps.isSessionActive(claims.sid))) throw new HostError('AUTH_TOKEN_INVALID');
      return claims;
    },
  };
}
export type TokenVerifier = ReturnType<typeof createTokenVerifier>;
