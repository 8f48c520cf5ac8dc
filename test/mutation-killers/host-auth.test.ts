/**
 * Fast in-process tests of src/host/auth for the mutation run (docs/mutation-testing.md): the
 * service tests exercise these modules too, but each takes minutes, too slow to run against
 * every mutant. Tokens come from a real in-process enclave (its own ES256 signer), the JWKS
 * from `auth.jwks`; the database and the guard are small fakes.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it, mock } from 'node:test';
import type { FastifyRequest } from 'fastify';
import { Redis } from 'ioredis';
import { ACCESS_COOKIE, createAuthGuard, readCookie } from '../../src/host/auth/guard.js';
import { createLoginThrottle } from '../../src/host/auth/login-throttle.js';
import { createSessionAccess } from '../../src/host/auth/session-access.js';
import { createTokenVerifier, SESSION_CACHE_MS } from '../../src/host/auth/verifier.js';
import { dispatchFrame } from '../../src/enclave/dispatcher.js';
import type { AccessClaims } from '../../src/protocol/auth.js';
import type { MethodResult } from '../../src/protocol/rpc/methods.js';
import { testEnclave, type TestEnclave } from '../helpers/enclave-state.js';

async function ok<R>(t: TestEnclave, method: string, params: unknown): Promise<R> {
  const frame = await dispatchFrame(t.state, { calls: [{ id: 1, method, params }] });
  const r = (frame as { results: { ok: boolean; result?: unknown }[] }).results[0]!;
  assert.ok(r.ok, `${method}: ${JSON.stringify(r)}`);
  return r.result as R;
}

describe('token verifier', () => {
  let t: TestEnclave;
  let jwks: MethodResult<'auth.jwks'>;
  const password = 'correct horse battery staple';

  /** Logs in a fresh user at the enclave clock `at`; returns its access token. */
  async function token(
    at = Math.floor(Date.now() / 1000),
  ): Promise<{ token: string; sid: string }> {
    t.clock.now = at;
    const email = `${randomUUID()}@example.test`;
    const reg = await ok<MethodResult<'auth.register'>>(t, 'auth.register', {
      email,
      secret: { password },
    });
    const login = await ok<MethodResult<'auth.login'>>(t, 'auth.login', {
      email,
      secret: { password },
      user: { user_id: reg.user_id, password_sealed: reg.password_sealed, roles: ['operator'] },
    });
    return { token: login.access_token, sid: login.session_id };
  }

  before(async () => {
    t = testEnclave({ env: { AUTH_ISSUER: 'https://issuer.test', AUTH_AUDIENCE: 'aud-test' } });
    // The enclave's clock starts before now, so its keys are valid for tokens issued now.
    t.clock.now = Math.floor(Date.now() / 1000) - 3600;
    await ok(t, 'keyring.generate', { policy: 'signer' });
    await ok(t, 'auth.init', { sealed: null });
    jwks = await ok(t, 'auth.jwks', {});
  });

  const verifier = (over: { issuer?: string; audience?: string; active?: boolean } = {}) => {
    const calls: string[] = [];
    const v = createTokenVerifier({
      issuer: over.issuer ?? 'https://issuer.test',
      audience: over.audience ?? 'aud-test',
      isSessionActive: async (sid) => (calls.push(sid), over.active ?? true),
    });
    v.setJwks({ keys: jwks.keys });
    return { v, calls };
  };

  it('accepts a token the enclave signed for this issuer and audience', async () => {
    const { token: tok, sid } = await token();
    const { v } = verifier();
    const claims: AccessClaims = await v.verify(tok);
    assert.equal(claims.sid, sid);
    assert.deepEqual(claims.roles, ['operator']);
    assert.deepEqual(v.jwks(), { keys: jwks.keys });
  });

  it('refuses another issuer, another audience, an expired token, a revoked session', async () => {
    const { token: tok } = await token();
    const refused = { code: 'AUTH_TOKEN_INVALID' };
    await assert.rejects(verifier({ issuer: 'https://other.test' }).v.verify(tok), refused);
    await assert.rejects(verifier({ audience: 'other' }).v.verify(tok), refused);
    await assert.rejects(verifier({ active: false }).v.verify(tok), refused);
    const old = await token(Math.floor(Date.now() / 1000) - 1800); // 15-minute token, 30 min ago
    await assert.rejects(verifier().v.verify(old.token), refused);
  });

  it('refuses without a JWKS, a token altered, and a token that is not a JWT', async () => {
    const { token: tok } = await token();
    const bare = createTokenVerifier({
      issuer: 'https://issuer.test',
      audience: 'aud-test',
      isSessionActive: async () => true,
    });
    await assert.rejects(bare.verify(tok), { code: 'AUTH_TOKEN_INVALID' });
    const [h, p, s] = tok.split('.') as [string, string, string];
    // Change a character well inside the signature (the last ones carry padding bits), always
    // to a different one: picking by the last character left it unchanged 1 time in 64.
    const i = s.length - 10;
    const flipped = `${h}.${p}.${s.slice(0, i)}${s[i] === 'A' ? 'B' : 'A'}${s.slice(i + 1)}`;
    assert.notEqual(flipped, tok);
    await assert.rejects(verifier().v.verify(flipped), { code: 'AUTH_TOKEN_INVALID' });
    await assert.rejects(verifier().v.verify('not.a.jwt'), { code: 'AUTH_TOKEN_INVALID' });
    // The same claims without a kid in the header are refused too.
    const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>;
    delete header.kid;
    const noKid = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${p}.${s}`;
    await assert.rejects(verifier().v.verify(noKid), { code: 'AUTH_TOKEN_INVALID' });
  });

  it('caches an active session briefly; forget() makes the next check read again', async () => {
    const { token: tok, sid } = await token();
    const { v, calls } = verifier();
    mock.timers.enable({ apis: ['Date'], now: Date.now() });
    try {
      await v.verify(tok);
      await v.verify(tok);
      assert.deepEqual(calls, [sid], 'one lookup for a burst');
      v.forget();
      await v.verify(tok);
      assert.equal(calls.length, 2, 'forget() clears the cache');
      mock.timers.tick(SESSION_CACHE_MS + 1);
      await v.verify(tok);
      assert.equal(calls.length, 3, 'the cache expires');
    } finally {
      mock.timers.reset();
    }
  });
});

describe('session access', () => {
  const alice = randomUUID();
  const bob = randomUUID();
  const rows: Record<string, string | null> = {
    'alice-session': alice,
    'open-session': null,
  };
  const access = (sub: string | null) =>
    createSessionAccess({
      guard: {
        user: async () => (sub ? ({ sub } as AccessClaims) : null),
        authenticate: async () => undefined,
      },
      owners: {
        sessionOwner: async (id: string) => (id in rows ? rows[id] : undefined),
        jobOwner: async (id: string) => (id in rows ? rows[id] : undefined),
      },
    });
  const req = {} as FastifyRequest;

  it("a user reaches their own sessions and jobs, never another user's (404, not 403)", async () => {
    await access(alice).checkSession(req, 'alice-session');
    await access(alice).checkJob(req, 'alice-session');
    await assert.rejects(access(bob).checkSession(req, 'alice-session'), {
      code: 'SESSION_NOT_FOUND',
    });
    await assert.rejects(access(bob).checkJob(req, 'alice-session'), { code: 'JOB_NOT_FOUND' });
    await assert.rejects(access(bob).checkSession(req, 'open-session'), {
      code: 'SESSION_NOT_FOUND',
    });
  });

  it('without a token only ownerless sessions are reachable; a missing row is left to the route', async () => {
    await access(null).checkSession(req, 'open-session');
    await assert.rejects(access(null).checkSession(req, 'alice-session'), {
      code: 'SESSION_NOT_FOUND',
    });
    await assert.rejects(access(null).checkJob(req, 'alice-session'), { code: 'JOB_NOT_FOUND' });
    await access(bob).checkSession(req, 'no-such-session');
    assert.equal(await access(alice).owner(req), alice);
    assert.equal(await access(null).owner(req), null);
  });
});

describe('auth guard', () => {
  const claims = (roles: string[]) => ({ sub: randomUUID(), roles }) as unknown as AccessClaims;
  const tokens: Record<string, AccessClaims> = {
    'user.tok': claims([]),
    'op.tok': claims(['operator']),
  };
  const verifies: string[] = [];
  const verifier = {
    verify: async (tok: string) => {
      verifies.push(tok);
      const c = tokens[tok];
      if (!c) throw Object.assign(new Error('bad'), { code: 'AUTH_TOKEN_INVALID' });
      return c;
    },
  };
  const guard = (opts: { dev?: boolean; cookies?: boolean } = {}) =>
    createAuthGuard({
      verifier,
      disabledForDevelopment: opts.dev ?? false,
      cookies: opts.cookies ?? false,
    });
  const req = (headers: Record<string, string>) => ({ headers }) as unknown as FastifyRequest;
  const bearer = (tok: string) => req({ authorization: `Bearer ${tok}` });

  it('no token: 401, or null only in development mode; a malformed header is always 401', async () => {
    await assert.rejects(guard().user(req({})), { code: 'AUTH_REQUIRED' });
    assert.equal(await guard({ dev: true }).user(req({})), null);
    await assert.rejects(guard({ dev: true }).user(req({ authorization: 'Basic abc' })), {
      code: 'AUTH_TOKEN_INVALID',
    });
    await assert.rejects(guard().user(req({ authorization: 'Bearer ' })), {
      code: 'AUTH_TOKEN_INVALID',
    });
    await assert.rejects(guard({ dev: true }).claims(req({})), { code: 'AUTH_REQUIRED' });
    assert.equal(guard({ dev: true }).disabled, true);
    assert.equal(guard().disabled, false);
  });

  it('operator routes need the role, even in development mode', async () => {
    assert.equal((await guard().operator(bearer('op.tok'))).roles[0], 'operator');
    await assert.rejects(guard({ dev: true }).operator(bearer('user.tok')), {
      code: 'AUTH_FORBIDDEN',
    });
    await assert.rejects(guard({ dev: true }).operator(req({})), { code: 'AUTH_REQUIRED' });
    await assert.rejects(guard().operator(bearer('forged.tok')), { code: 'AUTH_TOKEN_INVALID' });
  });

  it('reads the cookie only when cookies are on; verifies once per request', async () => {
    const cookie = req({ cookie: `a=b; ${ACCESS_COOKIE}=user.tok; c=d` });
    assert.equal(readCookie(cookie, ACCESS_COOKIE), 'user.tok');
    assert.equal(readCookie(req({ cookie: '=x; other=y' }), ACCESS_COOKIE), undefined);
    assert.equal(readCookie(req({}), ACCESS_COOKIE), undefined);
    await assert.rejects(guard().user(cookie), { code: 'AUTH_REQUIRED' });
    const g = guard({ cookies: true });
    verifies.length = 0;
    assert.equal(await g.user(cookie), tokens['user.tok']);
    await g.authenticate(cookie);
    assert.equal(await g.user(cookie), tokens['user.tok']);
    assert.deepEqual(verifies, ['user.tok'], 'one verification per request');
    // A header wins over the cookie.
    const both = req({ authorization: 'Bearer op.tok', cookie: `${ACCESS_COOKIE}=user.tok` });
    assert.equal(await g.user(both), tokens['op.tok']);
  });
});

function throttleCases(name: string, make: () => ReturnType<typeof createLoginThrottle>) {
  describe(`login backoff (${name})`, () => {
    before(() => mock.timers.enable({ apis: ['Date'], now: 1_900_000_000_000 }));
    after(() => mock.timers.reset());
    const email = () => `${randomUUID()}@example.test`;

    it('waits 2^(failures − threshold) s after the threshold, capped at 15 min', async () => {
      const th = make();
      const e = email();
      for (let i = 0; i < 3; i++) assert.equal(await th.begin(e), 0, `attempt ${i + 1} admitted`);
      assert.equal(await th.waitMs(e), 1000);
      assert.equal(await th.begin(e), 1000, 'refused, not counted');
      mock.timers.tick(999);
      assert.equal(await th.begin(e), 1);
      mock.timers.tick(1);
      assert.equal(await th.begin(e), 0, 'admitted once the wait is over');
      assert.equal(await th.waitMs(e), 2000, 'and the wait doubles');
      for (let i = 0; i < 20; i++) await th.failed(e);
      assert.equal(await th.waitMs(e), 15 * 60_000);
      mock.timers.tick(15 * 60_000);
      assert.equal(await th.waitMs(e), 0);
    });

    it('a success clears the count; a refund gives one attempt back; accounts are separate', async () => {
      const th = make();
      const e = email();
      for (let i = 0; i < 3; i++) await th.begin(e);
      assert.equal(await th.waitMs(email()), 0, 'another account is not affected');
      await th.refund(e);
      assert.equal(await th.waitMs(e), 0, 'two failures: below the threshold');
      await th.failed(e);
      assert.equal(await th.waitMs(e), 1000);
      await th.succeeded(e);
      assert.equal(await th.waitMs(e), 0);
      await th.refund(e); // nothing to refund: stays at zero
      for (let i = 0; i < 3; i++) assert.equal(await th.begin(e), 0);
      assert.equal(await th.waitMs(e), 1000);
    });
  });
}

throttleCases('memory', () => createLoginThrottle(3));

// The Redis variant when a server answers (as in CI); its Lua scripts hold the same rule.
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const redis = new Redis(redisUrl, {
  lazyConnect: true,
  maxRetriesPerRequest: 0,
  connectTimeout: 500,
});
const redisUp = await redis.connect().then(
  () => true,
  () => false,
);
if (redisUp) {
  // Redis keeps its own clock for TTLs only; the backoff uses the host's (mocked) time.
  throttleCases('redis', () => createLoginThrottle(3, redis));
  after(() => redis.quit());
} else {
  redis.disconnect();
  it('login backoff (redis)', { skip: `no Redis at ${redisUrl}` }, () => {});
}
