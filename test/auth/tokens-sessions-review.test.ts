/**
 * "Tokens and sessions: attack review" (SECURITY.md): what happens after sign-in, as a host that
 * relays every token, another website, and a relying party verifying Cloister tokens.
 */
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair } from 'jose';
import { verifyAccessToken } from '../../src/client/index.js';
import { AuthKeyring } from '../../src/enclave/auth/auth-keyring.js';
import { signJwt, verifyOwnClaims } from '../../src/enclave/auth/jwt.js';
import { ACCESS_COOKIE, REFRESH_COOKIE } from '../../src/host/auth/guard.js';
import { createTokenVerifier } from '../../src/host/auth/verifier.js';
import { ecThumbprint, type Jwks } from '../../src/protocol/auth.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { signTestToken } from '../helpers/test-jwt.js';
import { cliSetOperator } from './operator-helper.js';

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

  const sign = (sid: string) => signTestToken(priv, { issuer, audience, kid: 'kid-1', sid });

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

describe('tokens and sessions review: a relying party and the JWKS the host serves', () => {
  /** An ES256 key pair and its JWKS entry, kid = RFC 7638 thumbprint (as the enclave's). */
  async function key() {
    const kp = await generateKeyPair('ES256');
    const { x, y } = await exportJWK(kp.publicKey);
    const kid = ecThumbprint(x!, y!);
    const jwk = { kty: 'EC', crv: 'P-256', x: x!, y: y!, kid, use: 'sig', alg: 'ES256' } as const;
    return { priv: kp.privateKey, jwk, kid };
  }
  const token = (priv: CryptoKey, kid: string) =>
    signTestToken(priv, { issuer, audience, kid, roles: ['operator'] });

  it('a token the host minted under a JWKS key of its own is refused once the attested kids are given', async () => {
    const enclave = await key();
    const host = await key();
    const attestedKids = [enclave.kid];
    const policy = { issuer, audience, attestedKids };
    // Control: the enclave's own key, attested, verifies.
    const genuine: Jwks = { keys: [enclave.jwk] };
    await verifyAccessToken(await token(enclave.priv, enclave.kid), genuine, policy);
    // The host serves its own key, alone or beside the enclave's: well-formed (kid = its
    // thumbprint), so only the attestation tells it apart.
    const forged = await token(host.priv, host.kid);
    for (const keys of [[host.jwk], [enclave.jwk, host.jwk]])
      await assert.rejects(verifyAccessToken(forged, { keys }, policy), /attest/);
    // Without attested kids the JWKS alone decides (a JWKS the caller already trusts).
    await verifyAccessToken(forged, { keys: [host.jwk] }, { issuer, audience });
  });
});

describe('tokens and sessions review: refresh races and token types (service)', () => {
  let ts: TestService;
  const creds = { email: 'review@example.com', password: 'a long enough password' };
  const call = (url: string, token?: string, payload?: Record<string, unknown>) =>
    ts.service.app.inject({
      method: 'POST',
      url,
      ...(payload ? { payload } : {}),
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
  const reused = async () =>
    (
      await ts.service.db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM merkle_logs WHERE entry::text LIKE '%auth.refresh_reused%'",
      )
    ).rows[0]!.n;

  before(async () => {
    ts = await startTestService('pglite', {
      AUTH_LOGIN_MAX_PER_IP: '100000',
      // Every presentation below falls inside the window: none is a reuse by time.
      AUTH_REFRESH_GRACE_SECONDS: '60',
    });
    assert.equal((await call('/auth/register', undefined, creds)).statusCode, 201);
  });
  after(async () => ts?.stop());

  it('two refreshes of one token at once: one rotation, both get the same pair, no session ends', async () => {
    const login = (await call('/auth/login', undefined, creds)).json();
    const [a, b] = await Promise.all([
      call('/auth/refresh', undefined, { refresh_token: login.refresh_token }),
      call('/auth/refresh', undefined, { refresh_token: login.refresh_token }),
    ]);
    assert.equal(a!.statusCode, 200, a!.body);
    assert.equal(b!.statusCode, 200, b!.body);
    assert.equal(a!.json().refresh_token, b!.json().refresh_token);
    assert.equal(a!.json().access_token, b!.json().access_token);
    assert.equal(await reused(), 0);
    // The one successor carries on; the session is alive.
    const next = await call('/auth/refresh', undefined, { refresh_token: a!.json().refresh_token });
    assert.equal(next.statusCode, 200, next.body);
    assert.equal((await call('/auth/logout', next.json().access_token)).statusCode, 200);
  });

  it('a refresh token is no access token and an access token no refresh token', async () => {
    const login = (await call('/auth/login', undefined, creds)).json();
    const asBearer = await call('/auth/logout-all', login.refresh_token);
    assert.equal(asBearer.json().error.code, 'AUTH_TOKEN_INVALID');
    const asRefresh = await call('/auth/refresh', undefined, { refresh_token: login.access_token });
    assert.equal(asRefresh.statusCode, 400);
    // Well-formed but made up: no row, no enclave call, no session of anyone ends.
    const madeUp = `rt1.${'A'.repeat(22)}.${Math.floor(Date.now() / 1000) + 3600}.${'A'.repeat(43)}`;
    const r = await call('/auth/refresh', undefined, { refresh_token: madeUp });
    assert.equal(r.json().error.code, 'AUTH_REFRESH_INVALID');
    assert.equal(await reused(), 0);
    assert.equal((await call('/auth/logout', login.access_token)).statusCode, 200);
  });

  it('an operator whose role is taken away loses the operator routes and the session at once', async () => {
    const pair = async (email: string) => {
      await call('/auth/register', undefined, { email, password: creds.password });
      assert.equal(await cliSetOperator(ts, 'grant', email), true);
      return (await call('/auth/login', undefined, { email, password: creds.password })).json();
    };
    const [olga, uma] = [await pair('olga@example.com'), await pair('uma@example.com')];
    const metrics = (token: string) =>
      ts.service.app.inject({
        method: 'GET',
        url: '/operator/metrics',
        headers: { authorization: `Bearer ${token}` },
      });
    // Uma's session is active and cached when the role goes.
    assert.equal((await metrics(uma.access_token)).statusCode, 200);
    const revoke = await call('/operator/roles/revoke', olga.access_token, {
      email: 'uma@example.com',
    });
    assert.equal(revoke.statusCode, 200, revoke.body);
    assert.equal((await metrics(uma.access_token)).json().error.code, 'AUTH_TOKEN_INVALID');
    const r = await call('/auth/refresh', undefined, { refresh_token: uma.refresh_token });
    assert.equal(r.json().error.code, 'AUTH_REFRESH_INVALID');
    assert.equal((await metrics(olga.access_token)).statusCode, 200, 'control: the other operator');
  });

  it('after logout the access token and the refresh token of that session are refused at once', async () => {
    const login = (await call('/auth/login', undefined, creds)).json();
    // The logout's own check puts the session in the 2 s cache; the revocation clears it.
    assert.equal((await call('/auth/logout', login.access_token)).statusCode, 200);
    const again = await call('/auth/logout-all', login.access_token);
    assert.equal(again.json().error.code, 'AUTH_TOKEN_INVALID');
    const r = await call('/auth/refresh', undefined, { refresh_token: login.refresh_token });
    assert.equal(r.json().error.code, 'AUTH_REFRESH_INVALID');
    // A refresh token of an ended session is not a reuse: no other session of the user ends.
    assert.equal(await reused(), 0);
  });
});

describe('tokens and sessions review: cookies another subdomain sets (AUTH_COOKIES)', () => {
  let ts: TestService;
  const password = 'a long enough password';
  const login = async (email: string) => {
    const post = (url: string) =>
      ts.service.app.inject({ method: 'POST', url, payload: { email, password } });
    await post('/auth/register');
    const r = await post('/auth/login');
    assert.equal(r.statusCode, 200, r.body);
    const cookies = [r.headers['set-cookie']].flat() as string[];
    return Object.fromEntries(cookies.map((c) => c.split(';')[0]!.split('=') as [string, string]));
  };

  before(async () => {
    ts = await startTestService('pglite', {
      AUTH_COOKIES: 'true',
      AUTH_DISABLED_FOR_DEVELOPMENT: 'false',
      AUTH_LOGIN_MAX_PER_IP: '100000',
      AUTH_REGISTER_MAX_PER_IP: '100000',
    });
  });
  after(async () => ts?.stop());

  it("a cookie tossed under the same name beside the user's own is not used (neither is)", async () => {
    const victim = await login('victim@example.com');
    const attacker = await login('tosser@example.com');
    // Should a browser send a second cookie of the same name before the user's own (a sibling
    // subdomain's, in a browser that ignored the `__Host-` prefix), neither is used.
    const tossed = (name: string) => `${name}=${attacker[name]}; ${name}=${victim[name]}`;
    const methods = await ts.service.app.inject({
      method: 'GET',
      url: '/auth/methods',
      headers: { cookie: tossed(ACCESS_COOKIE) },
    });
    assert.equal(methods.statusCode, 401, methods.body);
    assert.ok(!methods.body.includes('tosser@example.com'));
    const refresh = await ts.service.app.inject({
      method: 'POST',
      url: '/auth/refresh',
      headers: { cookie: tossed(REFRESH_COOKIE) },
    });
    assert.equal(refresh.statusCode, 401, refresh.body);
    assert.equal(refresh.headers['set-cookie'], undefined, 'no pair of the attacker is set');
    // Control: the user's own cookie alone still works.
    const own = await ts.service.app.inject({
      method: 'GET',
      url: '/auth/methods',
      headers: { cookie: `${ACCESS_COOKIE}=${victim[ACCESS_COOKIE]}` },
    });
    assert.equal(own.statusCode, 200, own.body);
  });

  it('a cookie a sibling can set (any name without the __Host- prefix) is not read, even when the user sends none', async () => {
    const attacker = await login('tosser2@example.com');
    // What a page on a sibling subdomain can set for the parent domain: the unprefixed names
    // (the browser refuses it a `__Host-` one). The user is signed out: no cookie of their own.
    for (const name of ['cloister_access', 'Host-cloister_access', '__Secure-cloister_access']) {
      const r = await ts.service.app.inject({
        method: 'GET',
        url: '/auth/methods',
        headers: { cookie: `${name}=${attacker[ACCESS_COOKIE]}` },
      });
      assert.equal(r.statusCode, 401, `${name}: ${r.body}`);
    }
    const refresh = await ts.service.app.inject({
      method: 'POST',
      url: '/auth/refresh',
      headers: { cookie: `cloister_refresh=${attacker[REFRESH_COOKIE]}` },
    });
    assert.notEqual(refresh.statusCode, 200, refresh.body);
    assert.equal(refresh.headers['set-cookie'], undefined, 'no pair of the attacker is set');
  });
});

describe('tokens and sessions review: the enclave checking a token itself (verifyOwnClaims)', () => {
  const t0 = 1_800_000_000;
  const ttl = 900;
  const iss = 'https://cloister.test';
  const aud = 'cloister-test';
  const b64u = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const claims = (over: Record<string, unknown> = {}) => ({
    iss,
    aud,
    sub: randomUUID(),
    sid: randomUUID(),
    exp: t0 + ttl,
    iat: t0,
    jti: randomUUID(),
    roles: [],
    ...over,
  });

  it('only ES256 by a published key of this keyring, for this issuer and audience, unexpired', () => {
    const k1 = AuthKeyring.generate(t0);
    const check = (keyring: AuthKeyring, token: string, now = t0 + 1) =>
      verifyOwnClaims(token, (kid) => keyring.publishedKey(kid, now, 2 * ttl), { iss, aud, now });
    const key = k1.signingKey(t0);
    const genuine = signJwt(key, claims() as never);
    assert.ok(check(k1, genuine), 'control: the genuine token');
    const [h, p] = genuine.split('.') as [string, string, string];
    // alg none, and HS256 keyed with the public key's coordinates, on the same kid and claims.
    const none = `${b64u({ alg: 'none', typ: 'JWT', kid: key.kid })}.${p}.`;
    const hsInput = `${b64u({ alg: 'HS256', typ: 'JWT', kid: key.kid })}.${p}`;
    const hs = `${hsInput}.${createHmac('sha256', key.x + key.y)
      .update(hsInput)
      .digest('base64url')}`;
    // Another keyring's key under this key's kid: the signature does not verify.
    const other = signJwt(AuthKeyring.generate(t0).signingKey(t0), claims() as never);
    const [oh, op, os] = other.split('.') as [string, string, string];
    const kidSwapped = `${b64u({ ...JSON.parse(Buffer.from(oh, 'base64url').toString()), kid: key.kid })}.${op}.${os}`;
    for (const forged of [
      none,
      hs,
      kidSwapped,
      other,
      `${h}.${b64u(claims())}.${genuine.split('.')[2]}`,
    ])
      assert.equal(check(k1, forged), null);
    assert.equal(check(k1, signJwt(key, claims({ iss: 'https://other.test' }) as never)), null);
    assert.equal(check(k1, signJwt(key, claims({ aud: 'other' }) as never)), null);
    assert.equal(check(k1, genuine, t0 + ttl), null, 'expired');
    // Rotated out and past its retention: no longer published, so no longer accepted.
    const k2 = k1.rotated(t0 + 10, 60, 2 * ttl);
    assert.ok(check(k2, genuine, t0 + 20));
    const late = t0 + 70 + 2 * ttl + 1;
    const lateToken = signJwt(key, claims({ exp: late + ttl }) as never);
    assert.ok(check(k1, lateToken, late), 'control: the key itself is still good');
    assert.equal(check(k2, lateToken, late), null);
  });
});
