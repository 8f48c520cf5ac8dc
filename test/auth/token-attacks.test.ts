/**
 * The classic JWT attacks, refused both by the host's verifier (through a protected route) and
 * by the SDK's (jose): alg none, HS256 keyed with the public key, a kid not in the JWKS, a
 * tampered payload, an expired token, wrong issuer or audience, and a token signed by a key
 * rotated out of the JWKS after its window (twice the token lifetime).
 */
import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, sign } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { verifyAccessToken } from '../../src/client/index.js';
import { AuthKeyring } from '../../src/enclave/auth/auth-keyring.js';
import { signJwt } from '../../src/enclave/auth/jwt.js';
import { startTestService, type TestService } from '../helpers/service.js';

const ISSUER = 'https://cloister.test';
const AUDIENCE = 'cloister-test';
const policy = { issuer: ISSUER, audience: AUDIENCE };
const b64u = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

describe('token attacks', () => {
  let ts: TestService;
  let token: string;
  let jwks: { keys: { kid: string; x: string; y: string }[] };
  const logout = (t: string) =>
    ts.service.app.inject({
      method: 'POST',
      url: '/auth/logout-all',
      headers: { authorization: `Bearer ${t}` },
    });

  before(async () => {
    ts = await startTestService('pglite', {
      AUTH_ISSUER: ISSUER,
      AUTH_AUDIENCE: AUDIENCE,
      AUTH_KEY_PREPUBLISH_SECONDS: '0',
    });
    const password = 'correct horse battery staple';
    const inject = (url: string, payload: Record<string, unknown>) =>
      ts.service.app.inject({ method: 'POST', url, payload });
    await inject('/auth/register', { email: 'mallory@example.com', password });
    token = (await inject('/auth/login', { email: 'mallory@example.com', password })).json()
      .access_token;
    jwks = (await ts.service.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json();
  });
  after(async () => {
    await ts?.stop();
  });

  function forged(): Record<string, string> {
    const [header, payload, sig] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const kid = JSON.parse(Buffer.from(header, 'base64url').toString()).kid;
    const pub = jwks.keys.find((k) => k.kid === kid)!;
    const hsInput = `${b64u({ alg: 'HS256', typ: 'JWT', kid })}.${payload}`;
    const pem = Buffer.from(JSON.stringify(pub));
    const own = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const ownInput = `${b64u({ alg: 'ES256', typ: 'JWT', kid: 'A'.repeat(43) })}.${payload}`;
    const sameKid = `${header}.${payload}`;
    const es = (input: string) =>
      sign('sha256', Buffer.from(input), { key: own, dsaEncoding: 'ieee-p1363' }).toString(
        'base64url',
      );
    return {
      'alg none': `${b64u({ alg: 'none', typ: 'JWT' })}.${payload}.`,
      'HS256 keyed with the public key': `${hsInput}.${createHmac('sha256', pem).update(hsInput).digest('base64url')}`,
      'unknown kid': `${ownInput}.${es(ownInput)}`,
      'own key, real kid': `${sameKid}.${es(sameKid)}`,
      'tampered payload': `${header}.${b64u({ ...claims, roles: ['operator'] })}.${sig}`,
      'wrong issuer': `${header}.${b64u({ ...claims, iss: 'https://evil.test' })}.${sig}`,
    };
  }

  it('the genuine token passes both verifiers (positive control)', async () => {
    await verifyAccessToken(token, jwks as never, policy);
    // logout-all of a throwaway login would end the session; use a read-only check instead
    const res = await ts.service.app.inject({
      method: 'POST',
      url: '/auth/logout',
      headers: { authorization: 'Bearer not-a-jwt' },
    });
    assert.equal(res.json().error.code, 'AUTH_TOKEN_INVALID');
  });

  it('the host refuses every forged token with AUTH_TOKEN_INVALID', async () => {
    for (const [name, t] of Object.entries(forged())) {
      const res = await logout(t);
      assert.equal(res.statusCode, 401, name);
      assert.equal(res.json().error.code, 'AUTH_TOKEN_INVALID', name);
    }
  });

  it('jose (the SDK verifier) refuses them too, and expiry, issuer and audience', async () => {
    for (const [name, t] of Object.entries(forged()))
      await assert.rejects(verifyAccessToken(t, jwks as never, policy), name);
    const later = new Date(Date.now() + 901_000);
    await assert.rejects(
      verifyAccessToken(token, jwks as never, { ...policy, currentDate: later }),
    );
    await assert.rejects(verifyAccessToken(token, jwks as never, { ...policy, issuer: 'x' }));
    await assert.rejects(verifyAccessToken(token, jwks as never, { ...policy, audience: 'x' }));
  });

  it('a key rotated out stays published for twice the token lifetime, then its tokens fail', async () => {
    const t0 = 1_800_000_000;
    const ttl = 900;
    const k1 = AuthKeyring.generate(t0);
    const claims = {
      iss: ISSUER,
      aud: AUDIENCE,
      sub: crypto.randomUUID(),
      sid: crypto.randomUUID(),
      iat: t0,
      exp: t0 + ttl,
      jti: crypto.randomUUID(),
      roles: [],
    };
    const old = signJwt(k1.signingKey(t0), claims);
    const k2 = k1.rotated(t0 + 10, 60, 2 * ttl);
    // Published before use: the new key is in the JWKS but the old one still signs.
    assert.equal(k2.jwks(t0 + 10, 2 * ttl).length, 2);
    assert.equal(k2.signingKey(t0 + 30).kid, k1.signingKey(t0).kid);
    assert.notEqual(k2.signingKey(t0 + 70).kid, k1.signingKey(t0).kid);
    const at = (s: number) => ({ currentDate: new Date(s * 1000) });
    const inWindow = createLocalJWKSet({ keys: k2.jwks(t0 + 70 + 2 * ttl - 1, 2 * ttl) });
    await jwtVerify(old, inWindow, { algorithms: ['ES256'], ...at(t0 + 100) });
    const afterWindow = k2.jwks(t0 + 70 + 2 * ttl, 2 * ttl);
    assert.equal(afterWindow.length, 1);
    await assert.rejects(
      jwtVerify(old, createLocalJWKSet({ keys: afterWindow }), {
        algorithms: ['ES256'],
        ...at(t0 + 100),
      }),
      { code: 'ERR_JWKS_NO_MATCHING_KEY' },
    );
    // The next rotation drops it from the sealed keyring too.
    const k3 = k2.rotated(t0 + 70 + 2 * ttl, 60, 2 * ttl);
    assert.ok(!k3.jwks(t0 + 70 + 2 * ttl, 2 * ttl).some((k) => k.kid === k1.signingKey(t0).kid));
  });

  it('on-demand rotation through the service: new kid published, old tokens still verify', async () => {
    const r = await ts.service.auth.rotateKeys();
    const next = (
      await ts.service.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })
    ).json();
    assert.ok(next.keys.some((k: { kid: string }) => k.kid === r.kid));
    assert.equal(next.keys.length, 2);
    await verifyAccessToken(token, next, policy);
    assert.equal((await logout(token)).statusCode, 200);
  });
});
