/**
 * Abuse limits and cookies: per-account backoff after repeated failures (429
 * AUTH_LOGIN_LOCKED with Retry-After, no Argon2id work while locked), per-address login and
 * registration limits (429 RATE_LIMITED), and AUTH_COOKIES: Secure, HttpOnly, SameSite=Strict
 * cookies that authenticate and refresh without a header or body.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestService, type TestService } from '../helpers/service.js';

describe('login and registration limits', () => {
  let ts: TestService;
  const post = (url: string, payload: Record<string, unknown>) =>
    ts.service.app.inject({ method: 'POST', url, payload });
  before(async () => {
    ts = await startTestService('pglite', {
      AUTH_LOGIN_FAILURES_BEFORE_BACKOFF: '3',
      AUTH_LOGIN_MAX_PER_IP: '8',
      AUTH_REGISTER_MAX_PER_IP: '2',
    });
  });
  after(async () => {
    await ts?.stop();
  });

  it('backs off an account after repeated failures, before any Argon2id work', async () => {
    const password = 'limits-password-0001';
    assert.equal(
      (await post('/auth/register', { email: 'v@example.com', password })).statusCode,
      201,
    );
    for (let i = 0; i < 3; i++) {
      const r = await post('/auth/login', {
        email: 'v@example.com',
        password: `wrong-${password}`,
      });
      assert.equal(r.statusCode, 401);
    }
    const before = await ts.service.enclave.call('auth.stats', {});
    const locked = await post('/auth/login', { email: 'v@example.com', password });
    assert.equal(locked.statusCode, 429);
    assert.equal(locked.json().error.code, 'AUTH_LOGIN_LOCKED');
    assert.ok(Number(locked.headers['retry-after']) >= 1);
    assert.equal(
      (await ts.service.enclave.call('auth.stats', {})).argon2_verifies,
      before.argon2_verifies,
    );
    // Another account is not affected.
    const other = await post('/auth/login', { email: 'w@example.com', password });
    assert.equal(other.statusCode, 401);
  });

  it('limits logins and registrations per client address', async () => {
    // One registration happened above; the limit is 2 per address per hour.
    assert.equal(
      (await post('/auth/register', { email: 'x0@example.com', password: 'limits-password-0009' }))
        .statusCode,
      201,
    );
    const reg = await post('/auth/register', {
      email: 'x@example.com',
      password: 'limits-password-0002',
    });
    assert.equal(reg.statusCode, 429);
    assert.equal(reg.json().error.code, 'RATE_LIMITED');
    // A different account every time, so the per-account backoff never fires: a 429 here can
    // only come from the per-address login limit.
    const codes: string[] = [];
    for (let i = 0; i < 8; i++) {
      const r = await post('/auth/login', {
        email: `ip-limit-${i}@example.com`,
        password: 'limits-password-03',
      });
      codes.push(r.statusCode === 429 ? r.json().error.code : String(r.statusCode));
    }
    assert.ok(codes.includes('RATE_LIMITED'), codes.join(','));
    assert.ok(!codes.includes('AUTH_LOGIN_LOCKED'), codes.join(','));
  });
});

describe('AUTH_COOKIES', () => {
  let ts: TestService;
  before(async () => {
    ts = await startTestService('pglite', {
      AUTH_COOKIES: 'true',
      AUTH_DISABLED_FOR_DEVELOPMENT: 'false',
    });
  });
  after(async () => {
    await ts?.stop();
  });

  it('sets Secure HttpOnly SameSite=Strict cookies that authenticate and refresh', async () => {
    const password = 'cookie-password-00001';
    await ts.service.app.inject({
      method: 'POST',
      url: '/auth/register',
      payload: { email: 'c@example.com', password },
    });
    const login = await ts.service.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email: 'c@example.com', password },
    });
    const cookies = [login.headers['set-cookie']].flat() as string[];
    assert.equal(cookies.length, 2);
    for (const c of cookies) assert.match(c, /; Secure; HttpOnly; SameSite=Strict$/);
    const jar = cookies.map((c) => c.split(';')[0]).join('; ');
    const refreshed = await ts.service.app.inject({
      method: 'POST',
      url: '/auth/refresh',
      headers: { cookie: jar },
    });
    assert.equal(refreshed.statusCode, 200, refreshed.body);
    const status = await ts.service.app.inject({
      method: 'GET',
      url: `/enclave/sessions/${crypto.randomUUID()}`,
      headers: { cookie: jar },
    });
    assert.equal(status.json().error.code, 'SESSION_NOT_FOUND'); // authenticated, then 404
  });

  it('names both cookies __Host- with what the prefix requires (Secure, Path=/, no Domain), at login, refresh and logout', async () => {
    const password = 'cookie-password-00002';
    const email = 'host-prefix@example.com';
    const post = (url: string, headers: Record<string, string> = {}, payload?: object) =>
      ts.service.app.inject({ method: 'POST', url, headers, ...(payload ? { payload } : {}) });
    await post('/auth/register', {}, { email, password });
    const login = await post('/auth/login', {}, { email, password });
    const check = (res: { headers: Record<string, unknown> }, what: string) => {
      const lines = [res.headers['set-cookie']].flat() as string[];
      assert.deepEqual(
        lines.map((c) => c.split('=')[0]),
        ['__Host-cloister_access', '__Host-cloister_refresh'],
        what,
      );
      for (const c of lines) {
        const attrs = c
          .split(';')
          .slice(1)
          .map((a) => a.trim().toLowerCase());
        assert.ok(attrs.includes('path=/') && attrs.includes('secure'), `${what}: ${c}`);
        assert.ok(!attrs.some((a) => a.startsWith('domain')), `${what}: ${c}`);
        assert.ok(!attrs.some((a) => a.startsWith('path=') && a !== 'path=/'), `${what}: ${c}`);
      }
      return lines.map((c) => c.split(';')[0]).join('; ');
    };
    const jar = check(login, 'login');
    const refreshed = await post('/auth/refresh', { cookie: jar });
    assert.equal(refreshed.statusCode, 200, refreshed.body);
    const next = check(refreshed, 'refresh');
    // The CSRF check reads the new names: a cross-site POST carrying them is refused.
    const cross = await post('/auth/logout', { cookie: next, origin: 'https://evil.example' });
    assert.equal(cross.statusCode, 403, cross.body);
    const out = await post('/auth/logout', { cookie: next });
    assert.equal(out.statusCode, 200, out.body);
    check(out, 'logout');
  });
});

describe('per-account backoff in Redis (REDIS_URL), when a Redis answers on 127.0.0.1:6379', () => {
  it('counts failures across throttle instances and clears on success', async (t) => {
    const { tcpReachable } = await import('../helpers/security-util.js');
    if (!(await tcpReachable('127.0.0.1', 6379))) return t.skip('no Redis on 127.0.0.1:6379');
    const { Redis } = await import('ioredis');
    const { createLoginThrottle } = await import('../../src/host/auth/login-throttle.js');
    const redis = new Redis('redis://127.0.0.1:6379', {
      lazyConnect: false,
      maxRetriesPerRequest: 1,
    });
    try {
      const email = `redis-${crypto.randomUUID()}@example.com`;
      const a = createLoginThrottle(2, redis);
      const b = createLoginThrottle(2, redis); // another host, same Redis
      assert.equal(await a.waitMs(email), 0);
      await a.failed(email);
      await b.failed(email);
      assert.ok((await b.waitMs(email)) > 0);
      assert.ok((await a.waitMs(email)) <= 1000);
      await a.succeeded(email);
      assert.equal(await b.waitMs(email), 0);
    } finally {
      redis.disconnect();
    }
  });
});
