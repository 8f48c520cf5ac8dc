/**
 * An access token signed here with a key of the test's own (jose), shaped as the enclave's
 * (ES256, `typ: JWT`, the claims Cloister requires, 15 minutes): for what the enclave never
 * signs (a kid the verifier does not know, no kid, a key the host slipped into a JWKS).
 */
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';

export function signTestToken(
  priv: CryptoKey,
  opts: {
    issuer: string;
    audience: string;
    /** null: no kid in the header. */
    kid: string | null;
    sid?: string;
    roles?: string[];
  },
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ sid: opts.sid ?? randomUUID(), roles: opts.roles ?? [] })
    .setProtectedHeader({
      alg: 'ES256',
      typ: 'JWT',
      ...(opts.kid === null ? {} : { kid: opts.kid }),
    })
    .setIssuer(opts.issuer)
    .setAudience(opts.audience)
    .setSubject(randomUUID())
    .setJti(randomUUID())
    .setIssuedAt(now)
    .setExpirationTime(now + 900)
    .sign(priv);
}
