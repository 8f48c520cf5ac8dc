/**
 * Fast in-process tests of src/host/auth for the mutation run (docs/mutation-testing.md): the
 * service tests exercise these modules too, but each takes minutes, too slow to run against
 * every mutant. Tokens come from a real in-process enclave (its own ES256 signer), the JWKS
 * from `auth.jwks`; the database and the guard are small fakes.
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { after, before, describe, it, mock } from 'node:test';
import type { FastifyRequest } from 'fastify';
import { Redis } from 'ioredis';
import { exportJWK, generateKeyPair } from 'jose';
import {
  ACCESS_COOKIE,
  createAuthGuard,
  readCookie,
  REFRESH_COOKIE,
} from '../../src/host/auth/guard.js';
import { createLoginThrottle } from '../../src/host/auth/login-throttle.js';
import { createSessionAccess } from '../../src/host/auth/session-access.js';
import {
  createTokenVerifier,
  RELOAD_MIN_MS,
  SESSION_CACHE_MS,
} from '../../src/host/auth/verifier.js';
import { dispatchFrame } from '../../src/enclave/dispatcher.js';
import type { AccessClaims } from '../../src/protocol/auth.js';
import type { MethodResult } from '../../src/protocol/rpc/methods.js';
import { testEnclave, type TestEnclave } from '../helpers/enclave-state.js';
import { signTestToken } from '../helpers/test-jwt.js';

/**
 * The token with one character well inside its signature changed (the last ones carry padding
 * bits), always to a different one: picking by the last character left it unchanged 1 time in 64.
 */
function flipSignature(tok: string): string {
  const [h, p, s] = tok.split('.') as [string, string, string];
  const i = s.length - 10;
  return `${h}.${p}.${s.slice(0, i)}${s[i] === 'A' ? 'B' : 'A'}${s.slice(i + 1)}`;
}

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
    const flipped = flipSignature(tok);
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

  it('an active session is cached for SESSION_CACHE_MS, not one millisecond more', async () => {
    const { token: tok } = await token();
    const { v, calls } = verifier();
    mock.timers.enable({ apis: ['Date'], now: Date.now() });
    try {
      await v.verify(tok);
      mock.timers.tick(SESSION_CACHE_MS - 1);
      await v.verify(tok);
      assert.equal(calls.length, 1, 'still cached');
      mock.timers.tick(1);
      await v.verify(tok);
      assert.equal(calls.length, 2, 'expired at SESSION_CACHE_MS exactly');
    } finally {
      mock.timers.reset();
    }
  });

  it('a verifier without keys publishes an empty key set', () => {
    const bare = createTokenVerifier({
      issuer: 'https://issuer.test',
      audience: 'aud-test',
      isSessionActive: async () => true,
    });
    assert.deepEqual(bare.jwks(), { keys: [] });
  });
});

/**
 * Tokens signed here with a key of the test's own (jose), for what the enclave never signs: a
 * kid the verifier does not know yet, a header without a kid, many sessions.
 */
describe('token verifier: key reload and session cache', () => {
  const issuer = 'https://issuer.test';
  const audience = 'aud-test';
  let priv: CryptoKey;
  let pub: Record<string, unknown>;
  let other: Record<string, unknown>;

  before(async () => {
    const kp = await generateKeyPair('ES256');
    priv = kp.privateKey;
    pub = { ...(await exportJWK(kp.publicKey)), kid: 'kid-new', alg: 'ES256', use: 'sig' };
    const o = await generateKeyPair('ES256');
    other = { ...(await exportJWK(o.publicKey)), kid: 'kid-old', alg: 'ES256', use: 'sig' };
  });

  function sign(opts: { sid?: string; kid?: string | null } = {}): Promise<string> {
    const kid = opts.kid === undefined ? 'kid-new' : opts.kid;
    return signTestToken(priv, { issuer, audience, kid, ...(opts.sid ? { sid: opts.sid } : {}) });
  }

  function make(keys: Record<string, unknown>[], sessionCacheMax?: number) {
    const lookups: string[] = [];
    const v = createTokenVerifier({
      issuer,
      audience,
      isSessionActive: async (sid) => (lookups.push(sid), true),
      ...(sessionCacheMax === undefined ? {} : { sessionCacheMax }),
    });
    v.setJwks({ keys } as never);
    return { v, lookups };
  }

  it('an unknown kid reloads the keys once and verifies against the new set', async () => {
    const { v } = make([other]);
    let reloads = 0;
    v.setReload(async () => {
      reloads++;
      v.setJwks({ keys: [other, pub] } as never);
    });
    const claims = await v.verify(await sign());
    assert.equal(claims.iss, issuer);
    assert.equal(reloads, 1);
    // Known now: no further reload.
    await v.verify(await sign());
    assert.equal(reloads, 1);
  });

  it('requests arriving during a reload wait for it, and share it', async () => {
    const { v } = make([other]);
    let reloads = 0;
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    v.setReload(async () => {
      reloads++;
      await gate;
      v.setJwks({ keys: [other, pub] } as never);
    });
    const [a, b] = [await sign(), await sign()];
    const both = Promise.all([v.verify(a), v.verify(b)]);
    // Both checks reach the unknown kid (jose fails it without any I/O) before the reload ends.
    await new Promise((r) => setImmediate(r));
    open();
    const [ca, cb] = await both;
    assert.ok(ca.sid && cb.sid);
    assert.equal(reloads, 1);
  });

  it('at most one reload per RELOAD_MIN_MS, however many unknown kids arrive', async () => {
    const { v } = make([other]);
    let reloads = 0;
    v.setReload(async () => {
      reloads++;
    });
    const tok = await sign();
    mock.timers.enable({ apis: ['Date'], now: Date.now() });
    try {
      const refused = { code: 'AUTH_TOKEN_INVALID' };
      await assert.rejects(v.verify(tok), refused);
      assert.equal(reloads, 1);
      await assert.rejects(v.verify(tok), refused);
      assert.equal(reloads, 1, 'not again at once');
      mock.timers.tick(RELOAD_MIN_MS - 1);
      await assert.rejects(v.verify(tok), refused);
      assert.equal(reloads, 1, 'not before RELOAD_MIN_MS');
      mock.timers.tick(1);
      await assert.rejects(v.verify(tok), refused);
      assert.equal(reloads, 2, 'again at RELOAD_MIN_MS');
    } finally {
      mock.timers.reset();
    }
  });

  it('a failed reload is a refusal, and the next one is allowed after the interval', async () => {
    const { v } = make([other]);
    let reloads = 0;
    v.setReload(async () => {
      reloads++;
      throw new Error('database down');
    });
    const tok = await sign();
    mock.timers.enable({ apis: ['Date'], now: Date.now() });
    try {
      await assert.rejects(v.verify(tok), { code: 'AUTH_TOKEN_INVALID' });
      mock.timers.tick(RELOAD_MIN_MS);
      await assert.rejects(v.verify(tok), { code: 'AUTH_TOKEN_INVALID' });
      assert.equal(reloads, 2);
    } finally {
      mock.timers.reset();
    }
  });

  it('only an unknown kid reloads: a bad signature or claims do not', async () => {
    const { v } = make([pub]);
    let reloads = 0;
    v.setReload(async () => {
      reloads++;
    });
    const flipped = flipSignature(await sign());
    await assert.rejects(v.verify(flipped), { code: 'AUTH_TOKEN_INVALID' });
    await assert.rejects(v.verify('not.a.jwt'), { code: 'AUTH_TOKEN_INVALID' });
    assert.equal(reloads, 0);
  });

  it('a token without a kid is refused, even when the key set has one key that verifies it', async () => {
    const { v } = make([pub]);
    await v.verify(await sign()); // the same key, with its kid: accepted
    await assert.rejects(v.verify(await sign({ kid: null })), { code: 'AUTH_TOKEN_INVALID' });
  });

  it('the session cache holds at most sessionCacheMax sessions, then starts over', async () => {
    const { v, lookups } = make([pub], 3);
    const [a, b, c, d] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    const tok = async (sid: string) => sign({ sid });
    mock.timers.enable({ apis: ['Date'], now: Date.now() });
    try {
      for (const sid of [a, b, a, c, b]) await v.verify(await tok(sid));
      assert.deepEqual(lookups, [a, b, c], 'three fit: a, b and c are cached');
      await v.verify(await tok(d)); // the fourth: the cache starts over with d
      await v.verify(await tok(d));
      await v.verify(await tok(a));
      assert.deepEqual(lookups, [a, b, c, d, a]);
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

  it("authenticate() is the guard's", async () => {
    const seen: FastifyRequest[] = [];
    const a = createSessionAccess({
      guard: {
        user: async () => null,
        authenticate: async (r: FastifyRequest) => {
          seen.push(r);
          throw Object.assign(new Error('no'), { code: 'AUTH_REQUIRED' });
        },
      },
      owners: { sessionOwner: async () => undefined, jobOwner: async () => undefined },
    });
    await assert.rejects(a.authenticate(req), { code: 'AUTH_REQUIRED' });
    assert.deepEqual(seen, [req]);
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

  it('the Authorization header is exactly `Bearer <token>`: nothing before, nothing after', async () => {
    // The fake accepts op.tok: a parser that found `Bearer op.tok` inside a longer header
    // would let these through as the operator.
    for (const h of [
      'xBearer op.tok',
      ' Bearer op.tok',
      'Basic abc, Bearer op.tok',
      'Bearer op.tok ',
      'Bearer op.tok junk',
      'Bearer op.tok,Bearer user.tok',
      'Bearer op.tok\n',
      'bearer op.tok',
      'Bearer  op.tok',
      `Bearer ${'a'.repeat(4097)}`,
    ]) {
      verifies.length = 0;
      await assert.rejects(guard().operator(req({ authorization: h })), {
        code: 'AUTH_TOKEN_INVALID',
      });
      assert.throws(() => guard().token(req({ authorization: h })), {
        code: 'AUTH_TOKEN_INVALID',
      });
      assert.deepEqual(verifies, [], `${JSON.stringify(h)} never reaches the verifier`);
    }
    // The longest token accepted: 4096 characters.
    verifies.length = 0;
    await assert.rejects(guard().user(bearer('a'.repeat(4096))), { code: 'AUTH_TOKEN_INVALID' });
    assert.deepEqual(verifies, ['a'.repeat(4096)]);
  });

  it('token(): the token as sent, from the header or the cookie; none is AUTH_REQUIRED', () => {
    assert.equal(guard().token(bearer('user.tok')), 'user.tok');
    assert.throws(() => guard().token(req({})), { code: 'AUTH_REQUIRED' });
    assert.throws(() => guard({ dev: true }).token(req({})), { code: 'AUTH_REQUIRED' });
    const cookie = req({ cookie: `${ACCESS_COOKIE}=op.tok` });
    assert.throws(() => guard().token(cookie), { code: 'AUTH_REQUIRED' });
    assert.equal(guard({ cookies: true }).token(cookie), 'op.tok');
  });

  it('authenticate() refuses what user() refuses', async () => {
    await assert.rejects(guard().authenticate(req({})), { code: 'AUTH_REQUIRED' });
    await assert.rejects(guard().authenticate(bearer('forged.tok')), {
      code: 'AUTH_TOKEN_INVALID',
    });
    await guard({ dev: true }).authenticate(req({}));
  });

  it('the cookie names, and the cookie parser: name=value pairs only, values trimmed', () => {
    assert.equal(ACCESS_COOKIE, '__Host-cloister_access');
    assert.equal(REFRESH_COOKIE, '__Host-cloister_refresh');
    const read = (header: string, name = ACCESS_COOKIE) =>
      readCookie(req({ cookie: header }), name);
    // A part without `=` is no cookie, even if it starts with the name.
    assert.equal(read('__Host-cloister_accessX'), undefined);
    assert.equal(read('__Host-cloister_access'), undefined);
    // A part that starts with `=` has no name: not even an empty name matches it.
    assert.equal(read('=x', ''), undefined);
    assert.equal(read(' __Host-cloister_access = op.tok ;x=y'), 'op.tok');
    assert.equal(read('__Host-cloister_access=a=b'), 'a=b');
    // Two of one name (one set by another subdomain): neither (SECURITY.md, tokens review).
    assert.equal(
      read('x=1; __Host-cloister_access=first; __Host-cloister_access=second'),
      undefined,
    );
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

    it('failed() alone counts and starts the wait', async () => {
      const th = make();
      const e = email();
      for (let i = 0; i < 3; i++) await th.failed(e);
      assert.equal(await th.waitMs(e), 1000);
      assert.equal(await th.begin(e), 1000);
    });

    it('a refund never takes the count below zero', async () => {
      const th = make();
      const e = email();
      await th.begin(e);
      await th.refund(e);
      await th.refund(e); // one more refund than attempts: the count stays at zero
      for (let i = 0; i < 3; i++) assert.equal(await th.begin(e), 0);
      assert.equal(await th.waitMs(e), 1000, 'three failures: the threshold');
    });
  });
}

throttleCases('memory', () => createLoginThrottle(3));

describe('login backoff (memory): the table is bounded', () => {
  before(() => mock.timers.enable({ apis: ['Date'], now: 1_900_000_000_000 }));
  after(() => mock.timers.reset());

  it('at the bound, the account counted least recently makes room', async () => {
    const th = createLoginThrottle(1, undefined, 4);
    const [a, b, c, d, e] = ['a', 'b', 'c', 'd', 'e'].map((x) => `${x}@example.test`) as [
      string,
      string,
      string,
      string,
      string,
    ];
    await th.failed(a);
    await th.failed(b);
    await th.failed(c);
    await th.failed(a); // a is counted again: now the most recent
    await th.failed(d); // four accounts: the bound, nothing dropped yet
    for (const x of [a, b, c, d]) assert.ok((await th.waitMs(x)) > 0, `${x} still counted`);
    await th.failed(e); // one more: b, the least recent, is dropped
    assert.equal(await th.waitMs(b), 0);
    assert.equal(await th.waitMs(a), 2000, 'a keeps both failures');
    for (const x of [c, d, e]) assert.equal(await th.waitMs(x), 1000, x);
  });
});

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
  describe('login backoff (redis): the stored key', () => {
    it('one hash per account under the SHA-256 of the email, expiring after 30 minutes', async () => {
      const e = `${randomUUID()}@example.test`;
      const key = `cloister-login:${createHash('sha256').update(e).digest('hex').slice(0, 32)}`;
      const th = createLoginThrottle(3, redis);
      assert.equal(await th.begin(e), 0);
      assert.equal((await redis.hgetall(key)).failures, '1');
      const ttl = await redis.pttl(key);
      assert.ok(ttl > 15 * 60_000 && ttl <= 30 * 60_000, `TTL ${ttl} ms`);
      assert.deepEqual(await redis.keys(`*${e}*`), [], 'the email is never stored as typed');
      await th.failed(e);
      assert.equal((await redis.hgetall(key)).failures, '2');
      await th.succeeded(e);
      assert.equal(await redis.exists(key), 0);
    });
  });
  after(() => redis.quit());
} else {
  redis.disconnect();
  it('login backoff (redis)', { skip: `no Redis at ${redisUrl}` }, () => {});
}
