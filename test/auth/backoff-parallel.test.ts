/**
 * Per-account backoff under parallel guesses (docs/protocol/auth.md "Login"): the attempt is
 * counted, atomically, before the enclave's Argon2id check, so N wrong passwords sent at once
 * for one account cannot all be checked. Bound proven here: with threshold T and every attempt
 * arriving within the first backoff step (1 s), exactly T attempts reach Argon2id and the other
 * N − T get 429 AUTH_LOGIN_LOCKED. A success clears the count; an attempt that fails for another
 * reason than the password is refunded. Checked in memory and, when one answers, in Redis.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLoginThrottle, type LoginThrottle } from '../../src/host/auth/login-throttle.js';
import { startTestService, type TestService } from '../helpers/service.js';

const THRESHOLD = 3;
const N = 20;

describe('per-account backoff with parallel guesses', () => {
  let ts: TestService;
  const post = (url: string, payload: Record<string, unknown>) =>
    ts.service.app.inject({ method: 'POST', url, payload });
  const verifies = async () =>
    (await ts.service.enclave.call('auth.stats', {})).argon2_verifies as number;

  before(async () => {
    ts = await startTestService('pglite', {
      AUTH_LOGIN_FAILURES_BEFORE_BACKOFF: String(THRESHOLD),
      AUTH_LOGIN_MAX_PER_IP: '100000',
      AUTH_REGISTER_MAX_PER_IP: '100000',
    });
  });
  after(async () => {
    await ts?.stop();
  });

  it(`${N} parallel wrong passwords: ${THRESHOLD} reach Argon2id, the rest are locked`, async () => {
    const password = 'parallel-password-0001';
    const email = 'p@example.com';
    assert.equal((await post('/auth/register', { email, password })).statusCode, 201);
    const before = await verifies();
    const res = await Promise.all(
      Array.from({ length: N }, (_, i) => post('/auth/login', { email, password: `wrong-${i}` })),
    );
    const codes = res.map((r) => r.json().error?.code as string);
    const checked = codes.filter((c) => c === 'AUTH_INVALID_CREDENTIALS').length;
    const locked = codes.filter((c) => c === 'AUTH_LOGIN_LOCKED').length;
    assert.equal(checked, THRESHOLD, codes.join(','));
    assert.equal(locked, N - THRESHOLD, codes.join(','));
    assert.equal((await verifies()) - before, THRESHOLD);
    for (const r of res.filter((x) => x.statusCode === 429))
      assert.ok(Number(r.headers['retry-after']) >= 1);
  });

  it('a correct password while counted attempts are in flight clears the count', async () => {
    const password = 'parallel-password-0002';
    const email = 'q@example.com';
    await post('/auth/register', { email, password });
    // THRESHOLD − 1 wrong ones and the right one together: all are checked, the right one wins.
    const res = await Promise.all([
      ...Array.from({ length: THRESHOLD - 1 }, (_, i) =>
        post('/auth/login', { email, password: `wrong-${i}` }),
      ),
      post('/auth/login', { email, password }),
    ]);
    assert.equal(res.at(-1)!.statusCode, 200, res.at(-1)!.body);
    // Cleared: another THRESHOLD wrong ones are checked again before the lock.
    for (let i = 0; i < THRESHOLD; i++)
      assert.equal((await post('/auth/login', { email, password: `w${i}` })).statusCode, 401);
    assert.equal((await post('/auth/login', { email, password })).statusCode, 429);
  });
});

async function parallelBegins(throttle: LoginThrottle, email: string): Promise<number[]> {
  return Promise.all(Array.from({ length: N }, () => throttle.begin(email)));
}

describe('LoginThrottle.begin counts before the check, atomically', () => {
  it('in memory: exactly the threshold is admitted, refund and success give attempts back', async () => {
    const t = createLoginThrottle(THRESHOLD);
    const email = 'm@example.com';
    const waits = await parallelBegins(t, email);
    assert.equal(waits.filter((w) => w === 0).length, THRESHOLD);
    assert.ok(waits.filter((w) => w > 0).every((w) => w <= 1000));
    await t.refund(email);
    assert.equal(await t.begin(email), 0); // the refunded slot
    assert.ok((await t.begin(email)) > 0);
    await t.succeeded(email);
    assert.equal(await t.waitMs(email), 0);
    assert.equal(await t.begin(email), 0);
  });

  it('in Redis (two hosts, one Redis), when a Redis answers on 127.0.0.1:6379', async (ctx) => {
    const { tcpReachable } = await import('../helpers/security-util.js');
    if (!(await tcpReachable('127.0.0.1', 6379))) return ctx.skip('no Redis on 127.0.0.1:6379');
    const { Redis } = await import('ioredis');
    const redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
    try {
      const email = `redis-${crypto.randomUUID()}@example.com`;
      const a = createLoginThrottle(THRESHOLD, redis);
      const b = createLoginThrottle(THRESHOLD, redis);
      const waits = await Promise.all(
        Array.from({ length: N }, (_, i) => (i % 2 ? a : b).begin(email)),
      );
      assert.equal(waits.filter((w) => w === 0).length, THRESHOLD, waits.join(','));
      assert.ok((await b.waitMs(email)) > 0);
      await a.refund(email);
      assert.equal(await b.begin(email), 0);
      assert.ok((await a.begin(email)) > 0);
      await b.succeeded(email);
      assert.equal(await a.waitMs(email), 0);
      await a.succeeded(email);
    } finally {
      redis.disconnect();
    }
  });
});
