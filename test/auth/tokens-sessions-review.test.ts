/**
 * "Tokens and sessions: attack review" (SECURITY.md): what happens after sign-in, as a host that
 * relays every token, another website, and a relying party verifying Cloister tokens.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { createTokenVerifier } from '../../src/host/auth/verifier.js';

const issuer = 'https://issuer.test';
const audience = 'aud-test';

describe('tokens and sessions review: the session cache and revocation', () => {
  let priv: CryptoKey;
  let pub: Record<string, unknown>;

  before(async () => {
    const kp = await generateKeyPair('ES256');
    priv = kp.privateKey;
    pub = { ...(await exportJWK(kp.publicKey)), kid: 'kid-1', alg: 'ES256', use: 'sig' };
  });

  async function sign(sid: string): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ sid, roles: [] })
      .setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid: 'kid-1' })
      .setIssuer(issuer)
      .setAudience(audience)
      .setSubject(randomUUID())
      .setJti(randomUUID())
      .setIssuedAt(now)
      .setExpirationTime(now + 900)
      .sign(priv);
  }

  it('a check in flight across a logout does not keep the ended session cached', async () => {
    // The session row: active until the logout below revokes it.
    let revoked = false;
    let lookups = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const v = createTokenVerifier({
      issuer,
      audience,
      async isSessionActive() {
        lookups++;
        // The first lookup reads the row before the logout commits and answers after it.
        const answer = !revoked;
        if (lookups === 1) await gate;
        return answer;
      },
    });
    v.setJwks({ keys: [pub] } as never);
    const token = await sign(randomUUID());
    const inFlight = v.verify(token);
    // Let the check reach its database read.
    while (lookups === 0) await new Promise((r) => setImmediate(r));
    // The logout: the row is revoked, then the cache forgotten (auth-service.ts logout).
    revoked = true;
    v.forget();
    release();
    await inFlight; // it read the row before the logout: it may pass
    await assert.rejects(v.verify(token), { code: 'AUTH_TOKEN_INVALID' });
    assert.equal(lookups, 2, 'the next request reads the row again');
  });
});
