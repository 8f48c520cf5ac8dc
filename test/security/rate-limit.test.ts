/**
 * Property: request rate is bounded per client. With RATE_LIMIT_MAX=5 the sixth request from a
 * client in the window — whatever the route — is answered 429 RATE_LIMITED with Retry-After
 * and is not processed (a submission is not stored); other clients keep their own budget; a
 * spoofed X-Forwarded-For does not reset it (no trusted proxy); /healthz and /readyz are never
 * limited. With REDIS_URL, two service instances share one counter, so requests split across
 * them hit 429 after the maximum in total (skipped, visibly, only if Redis is unreachable).
 * What runs before a route's limit (the token check, a wallet route's step-up and, in development
 * mode, its token check, the CSRF check, CLUSTER_LOCKED, an HTTP/1.1 request without Host, a
 * malformed URL, a CORS preflight, the body parser of an unmatched request, the wallet sign
 * route's validation) is counted too.
 */
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { Redis } from 'ioredis';
import { CryptoHelper } from '../../src/client/index.js';
import {
  enclaveCallsDuring,
  engines,
  startTestService,
  type TestService,
} from '../helpers/service.js';
import { uniqueCredentials } from '../helpers/client.js';
import { assertError, tcpReachable } from '../helpers/security-util.js';
import { rawExchange } from '../helpers/raw-http.js';
import type { HttpErrorCode } from '../../src/host/errors.js';
import { securityHeaders } from '../../src/host/http/security-headers.js';

const MAX = 5;
const LIMITS = { RATE_LIMIT_MAX: String(MAX), RATE_LIMIT_WINDOW: '60000' };
const REDIS_URL = 'redis://127.0.0.1:6379';
const redisUp = await tcpReachable('127.0.0.1', 6379);

/** A client address of our own, so every run starts with a fresh counter. */
const freshClient = () => `10.${randomInt(1, 255)}.${randomInt(0, 256)}.${randomInt(1, 255)}`;

/** The exact contract: 429 RATE_LIMITED, fixed message, Retry-After within the window. */
function assertLimited(res: LightMyRequestResponse, what: string): void {
  assertError(res, 429, 'RATE_LIMITED', what);
  assertBlocked(res, what);
}

/**
 * Refused by the limiter, whatever the status it is reported with: an error body, Retry-After
 * within the window and no budget left. (The exact 429 and its body are checked separately.)
 */
function assertBlocked(res: LightMyRequestResponse, what: string): void {
  assert.ok(res.statusCode >= 400, `${what}: ${res.statusCode} ${res.body}`);
  assert.equal(typeof (res.json() as { error?: { code?: unknown } }).error?.code, 'string', what);
  const retryAfter = Number(res.headers['retry-after']);
  assert.ok(
    Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= 60,
    `Retry-After ${res.headers['retry-after']} (${what})`,
  );
  assert.equal(res.headers['x-ratelimit-remaining'], '0', what);
}

/** A request the token check refuses (401 AUTH_TOKEN_INVALID), from `client`. */
const badTokenFrom = (ts: TestService, client: string) =>
  ts.service.app.inject({
    method: 'GET',
    url: '/enclave/sessions',
    remoteAddress: client,
    headers: { authorization: 'Bearer not.a.token' },
  });

async function quotePubkey(ts: TestService): Promise<string> {
  // From an address of its own, so fetching the key does not use the budget under test.
  const res = await ts.service.app.inject({
    method: 'GET',
    url: '/attestation/quote',
    remoteAddress: freshClient(),
  });
  assert.equal(res.statusCode, 200, res.body);
  return (res.json() as { enclave_pubkey: string }).enclave_pubkey;
}

/** Uses up `client`'s budget with MAX requests to an unknown route (404 each). */
async function spend(ts: TestService, client: string): Promise<void> {
  for (let i = 0; i < MAX; i++) {
    const res = await ts.service.app.inject({
      method: 'GET',
      url: '/no-such-route',
      remoteAddress: client,
    });
    assertError(res, 404, 'NOT_FOUND', `budget request ${i + 1}`);
  }
}

for (const engine of engines()) {
  describe(`rate limiting (in memory) on ${engine}`, () => {
    let ts: TestService;
    before(async () => {
      ts = await startTestService(engine, LIMITS);
    });
    after(async () => ts?.stop());

    it(`refuses the ${MAX + 1}th request in the window, whatever the route, without processing it`, async () => {
      const client = freshClient();
      const pub = await quotePubkey(ts);
      const app = ts.service.app;
      const budget = [
        { method: 'GET' as const, url: '/attestation/quote' },
        { method: 'GET' as const, url: '/attestation/quote?nonce=aaaaaaaaaaaa' },
        { method: 'GET' as const, url: `/enclave/sessions/${crypto.randomUUID()}` },
        { method: 'GET' as const, url: '/no-such-route' },
        {
          method: 'POST' as const,
          url: '/enclave/revoke',
          payload: { session_id: crypto.randomUUID() },
        },
      ];
      assert.equal(budget.length, MAX);
      for (const [i, req] of budget.entries()) {
        const res = await app.inject({ ...req, remoteAddress: client });
        assert.ok(
          res.statusCode !== 429 && res.statusCode < 500,
          `request ${i + 1} of ${MAX}: ${res.statusCode} ${res.body}`,
        );
        assert.equal(res.headers['x-ratelimit-limit'], String(MAX));
        assert.equal(res.headers['x-ratelimit-remaining'], String(MAX - i - 1));
      }
      const envelope = await CryptoHelper.encryptCredentials(uniqueCredentials('rl'), pub);
      const sixth = await app.inject({
        method: 'POST',
        url: '/enclave/submit_key',
        remoteAddress: client,
        payload: {
          ...envelope,
          metadata: { exchange: 'binance', label: 'rate-limited', ttl: 3600 },
        },
      });
      assertBlocked(sixth, 'sixth request (submit)');
      const { rows } = await ts.service.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM sessions',
      );
      assert.equal(Number(rows[0]!.n), 0, 'a rate-limited submission was stored');

      // Still refused, on every route and with a spoofed forwarding header.
      assertBlocked(
        await app.inject({ method: 'GET', url: '/attestation/quote', remoteAddress: client }),
        'seventh (quote)',
      );
      assertBlocked(
        await app.inject({ method: 'GET', url: '/no-such-route', remoteAddress: client }),
        'unknown route',
      );
      assertBlocked(
        await app.inject({
          method: 'GET',
          url: '/attestation/quote',
          remoteAddress: client,
          headers: { 'x-forwarded-for': freshClient() },
        }),
        'spoofed X-Forwarded-For',
      );

      // Positive control: the same envelope from another client is processed normally (so the
      // refused copy never reached the enclave's replay cache).
      const other = await app.inject({
        method: 'POST',
        url: '/enclave/submit_key',
        remoteAddress: freshClient(),
        payload: {
          ...envelope,
          metadata: { exchange: 'binance', label: 'other-client', ttl: 3600 },
        },
      });
      assert.equal(other.statusCode, 200, other.body);
    });

    it('answers a limited request 429 RATE_LIMITED with Retry-After', async () => {
      const client = freshClient();
      await spend(ts, client);
      assertLimited(
        await ts.service.app.inject({
          method: 'GET',
          url: '/attestation/quote',
          remoteAddress: client,
        }),
        'sixth',
      );
      assertLimited(
        await ts.service.app.inject({
          method: 'GET',
          url: '/no-such-route',
          remoteAddress: client,
        }),
        'seventh',
      );
    });

    it('never limits /healthz or /readyz', async () => {
      const client = freshClient();
      await spend(ts, client);
      assertBlocked(
        await ts.service.app.inject({
          method: 'GET',
          url: '/no-such-route',
          remoteAddress: client,
        }),
        'limited client',
      );
      for (let i = 0; i < 4 * MAX; i++) {
        const h = await ts.service.app.inject({
          method: 'GET',
          url: '/healthz',
          remoteAddress: client,
        });
        assert.equal(h.statusCode, 200, `healthz #${i + 1}: ${h.body}`);
      }
      for (let i = 0; i < 2 * MAX; i++) {
        const r = await ts.service.app.inject({
          method: 'GET',
          url: '/readyz',
          remoteAddress: client,
        });
        assert.equal(r.statusCode, 200, `readyz #${i + 1}: ${r.body}`);
      }
    });
  });

  describe(
    `rate limiting shared through Redis on ${engine}`,
    { skip: redisUp ? false : 'redis unreachable' },
    () => {
      let a: TestService;
      let b: TestService;
      let redis: Redis;
      const clients: string[] = [];
      const client = () => {
        const c = freshClient();
        clients.push(c);
        return c;
      };

      before(async () => {
        redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
        await redis.connect();
        a = await startTestService(engine, { ...LIMITS, REDIS_URL });
        b = await startTestService(engine, { ...LIMITS, REDIS_URL });
      });
      after(async () => {
        await a?.stop();
        await b?.stop();
        // Remove only this run's counters.
        for (const c of clients) {
          const keys = await redis.keys(`cloister-rl:*${c}*`);
          if (keys.length > 0) await redis.del(...keys);
        }
        redis?.disconnect();
      });

      it(`two instances share one budget: ${MAX} requests split across both, then refused on either`, async () => {
        const c = client();
        const instances = [a, b, a, b, a];
        assert.equal(instances.length, MAX);
        for (const [i, ts] of instances.entries()) {
          const res = await ts.service.app.inject({
            method: 'GET',
            url: '/no-such-route',
            remoteAddress: c,
          });
          assertError(res, 404, 'NOT_FOUND', `request ${i + 1}`);
          assert.equal(
            res.headers['x-ratelimit-remaining'],
            String(MAX - i - 1),
            `request ${i + 1}`,
          );
        }
        assertBlocked(
          await b.service.app.inject({
            method: 'GET',
            url: '/attestation/quote',
            remoteAddress: c,
          }),
          'instance B',
        );
        assertBlocked(
          await a.service.app.inject({
            method: 'GET',
            url: '/attestation/quote',
            remoteAddress: c,
          }),
          'instance A',
        );

        // The counter really lives in Redis, under the app's namespace.
        const keys = await redis.keys(`cloister-rl:*${c}*`);
        assert.ok(keys.length > 0, 'no cloister-rl: key for this client in Redis');

        // Positive control: another client is not affected on either instance.
        const other = client();
        for (const ts of [a, b]) {
          const res = await ts.service.app.inject({
            method: 'GET',
            url: '/attestation/quote',
            remoteAddress: other,
          });
          assert.equal(res.statusCode, 200, res.body);
        }
        // And health stays unlimited with a shared store too.
        assert.equal(
          (await a.service.app.inject({ method: 'GET', url: '/healthz', remoteAddress: c }))
            .statusCode,
          200,
        );
        assert.equal(
          (await b.service.app.inject({ method: 'GET', url: '/readyz', remoteAddress: c }))
            .statusCode,
          200,
        );
      });

      it('a request limited through the shared store is answered 429 RATE_LIMITED', async () => {
        const c = client();
        for (const ts of [a, b, a, b, a])
          await ts.service.app.inject({ method: 'GET', url: '/no-such-route', remoteAddress: c });
        assertLimited(
          await b.service.app.inject({ method: 'GET', url: '/no-such-route', remoteAddress: c }),
          'instance B',
        );
      });

      it('refusals before any route hook (a malformed URL, a bad token) spend the shared budget', async () => {
        const c = client();
        const badUrl = (ts: TestService) =>
          ts.service.app.inject({ method: 'GET', url: '/%zz', remoteAddress: c });
        const badToken = (ts: TestService) => badTokenFrom(ts, c);
        const refusals = [badUrl(a), badToken(b), badUrl(b), badToken(a), badUrl(a)];
        assert.equal(refusals.length, MAX);
        for (const [i, r] of refusals.entries()) {
          const res = await r;
          assert.ok([400, 401].includes(res.statusCode), `refusal ${i + 1}: ${res.body}`);
        }
        assertLimited(await badUrl(b), 'malformed URL on instance B');
        assertLimited(await badToken(a), 'bad token on instance A');
      });
    },
  );
}

/** A random /64 of the documentation prefix, and two addresses inside it. */
function freshV6Pair(): [string, string, string] {
  const h = () => randomInt(1, 0x10000).toString(16);
  const p = `2001:db8:${h()}:${h()}`;
  return [`${p}:1:2:3:4`, `${p}::beef`, p];
}

describe('TRUST_PROXY=1: a spoofed X-Forwarded-For chain does not escape the per-address limits', () => {
  let ts: TestService;
  const PROXY = '10.255.0.1';
  before(async () => {
    ts = await startTestService('pglite', {
      TRUST_PROXY: '1',
      AUTH_LOGIN_MAX_PER_IP: '3',
      AUTH_REGISTER_MAX_PER_IP: '2',
    });
  });
  after(async () => ts?.stop());

  /** What the proxy forwards: whatever chain the client sent, then the client's own address. */
  const viaProxy = (client: string, url: string, payload: Record<string, unknown>) =>
    ts.service.app.inject({
      method: 'POST',
      url,
      remoteAddress: PROXY,
      headers: { 'x-forwarded-for': `${freshClient()}, ${freshClient()}, ${client}` },
      payload,
    });

  it('logins: the fourth from one client is refused, whatever chain it sends', async () => {
    const client = freshClient();
    const login = (i: number) =>
      viaProxy(client, '/auth/login', {
        email: `spoof-${i}@example.com`,
        password: 'spoofed-forwarding-01',
      });
    for (let i = 0; i < 3; i++) assert.equal((await login(i)).statusCode, 401, `login ${i + 1}`);
    assertError(await login(3), 429, 'RATE_LIMITED', 'fourth login');
    // Positive control: another client behind the same proxy has its own budget.
    const other = await viaProxy(freshClient(), '/auth/login', {
      email: 'spoof-other@example.com',
      password: 'spoofed-forwarding-01',
    });
    assert.equal(other.statusCode, 401, other.body);
  });

  it('registrations: the third from one client is refused, whatever chain it sends', async () => {
    const client = freshClient();
    const register = (i: number) =>
      viaProxy(client, '/auth/register', {
        email: `spoof-reg-${i}-${randomInt(1e9)}@example.com`,
        password: 'spoofed-forwarding-02',
      });
    for (let i = 0; i < 2; i++)
      assert.equal((await register(i)).statusCode, 201, `registration ${i + 1}`);
    assertError(await register(2), 429, 'RATE_LIMITED', 'third registration');
  });
});

/** A failed login from `client` (no such account): 401 while within the per-address limit. */
const failedLogin = (ts: TestService, client: string) =>
  ts.service.app.inject({
    method: 'POST',
    url: '/auth/login',
    remoteAddress: client,
    payload: { email: `v6-${randomInt(1e9)}@example.com`, password: 'not-the-password-01' },
  });

describe('with three logins per address (one service)', () => {
  let ts: TestService;
  before(async () => {
    ts = await startTestService('pglite', { ...LIMITS, AUTH_LOGIN_MAX_PER_IP: '3' });
  });
  after(async () => ts?.stop());

  describe('IPv6 clients are limited per /64 (in memory)', () => {
    it('two addresses of one /64 share a budget; another /64 has its own', async () => {
      const [a, b] = freshV6Pair();
      await spend(ts, a);
      assertLimited(
        await ts.service.app.inject({ method: 'GET', url: '/no-such-route', remoteAddress: b }),
        'same /64',
      );
      const [other] = freshV6Pair();
      const res = await ts.service.app.inject({
        method: 'GET',
        url: '/no-such-route',
        remoteAddress: other,
      });
      assertError(res, 404, 'NOT_FOUND', 'another /64');
    });

    it("a route's own limit (logins per address) is per /64 too", async () => {
      const [a, b] = freshV6Pair();
      for (let i = 0; i < 3; i++)
        assert.equal((await failedLogin(ts, i % 2 ? b : a)).statusCode, 401, `login ${i + 1}`);
      assertError(await failedLogin(ts, b), 429, 'RATE_LIMITED', 'fourth login, same /64');
      const [other] = freshV6Pair();
      assert.equal((await failedLogin(ts, other)).statusCode, 401, 'another /64');
    });
  });

  describe("HEAD does not open a second budget on a GET route's own limit", () => {
    // Fastify adds a HEAD route for every GET, and the limit plugin gives that route a store of
    // its own: HEAD /auth/siwe/nonce (a nonce the enclave makes and remembers, the body dropped)
    // had a second loginMaxPerIp budget next to GET's.
    it('once GET /auth/siwe/nonce has spent its limit, HEAD gets no nonce either', async () => {
      const client = freshClient();
      const nonce = (method: 'GET' | 'HEAD') =>
        ts.service.app.inject({ method, url: '/auth/siwe/nonce', remoteAddress: client });
      for (let i = 0; i < 3; i++)
        assert.equal((await nonce('GET')).statusCode, 200, `GET ${i + 1}`);
      assertError(await nonce('GET'), 429, 'RATE_LIMITED', 'fourth GET');
      const calls = await enclaveCallsDuring(ts, async () => {
        const head = await nonce('HEAD');
        assert.notEqual(head.statusCode, 200, 'HEAD after the limit');
      });
      assert.deepEqual(calls, []);
    });
  });
});

describe('a request the token check refuses counts against the budget', () => {
  let ts: TestService;
  before(async () => {
    ts = await startTestService('pglite', { ...LIMITS, AUTH_DISABLED_FOR_DEVELOPMENT: 'false' });
  });
  after(async () => ts?.stop());

  // The token check runs before the rate limit; a refusal there used to be free: any number of
  // bad (or revoked) tokens, each verified, and a client over its budget still answered 401.
  const badToken = (client: string) => badTokenFrom(ts, client);

  it(`the ${MAX + 1}th bad token is answered 429, and the budget is spent for every route`, async () => {
    const client = freshClient();
    for (let i = 0; i < MAX; i++)
      assertError(await badToken(client), 401, 'AUTH_TOKEN_INVALID', `bad token ${i + 1}`);
    assertError(await badToken(client), 429, 'RATE_LIMITED', 'over the budget');
    const retryAfter = Number((await badToken(client)).headers['retry-after']);
    assert.ok(retryAfter > 0 && retryAfter <= 60, `Retry-After ${retryAfter}`);
    assertLimited(
      await ts.service.app.inject({ method: 'GET', url: '/no-such-route', remoteAddress: client }),
      'another route',
    );
    // Positive control: another client keeps its own budget.
    assertError(await badToken(freshClient()), 401, 'AUTH_TOKEN_INVALID', 'another client');
  });
});

describe("what runs before a route's limit is counted too (hook order)", () => {
  let ts: TestService;
  before(async () => {
    ts = await startTestService('pglite', {
      ...LIMITS,
      AUTH_DISABLED_FOR_DEVELOPMENT: 'false',
      WALLET_SIGN_MAX_PER_MINUTE: '2',
    });
  });
  after(async () => ts?.stop());

  const inject = (opts: InjectOptions) => ts.service.app.inject(opts);
  /** A body the JSON parser refuses only after reading all of it. */
  const badJson = `[${'1,'.repeat(1000)}x]`;

  // The 404 handler's limit ran in preHandler, after the body was read: a body the parser
  // refused was never counted, so unmatched requests with bodies were free (OPTIONS too, whose
  // route @fastify/cors adds before the limit existed).
  for (const method of ['POST', 'OPTIONS'] as const)
    it(`${method} to no route with a body the parser refuses: the ${MAX + 1}th is answered 429`, async () => {
      const client = freshClient();
      const send = () =>
        inject({
          method,
          url: '/no-such-route',
          remoteAddress: client,
          headers: { 'content-type': 'application/json' },
          payload: badJson,
        });
      for (let i = 0; i < MAX; i++)
        assertError(await send(), 400, 'BODY_INVALID_JSON', `request ${i + 1}`);
      assertLimited(await send(), 'over the budget');
    });

  /** A user of its own (registered, logged in and refreshed from an address of its own). */
  async function user(): Promise<{ access: string; refreshed: string }> {
    const from = freshClient();
    const creds = { email: `order-${randomInt(1e9)}@example.com`, password: 'hook-order-pw-01' };
    const post = async (url: string, payload: object, status: number) => {
      const res = await inject({ method: 'POST', url, remoteAddress: from, payload });
      assert.equal(res.statusCode, status, `${url}: ${res.body}`);
      return res.json() as Record<string, string>;
    };
    await post('/auth/register', creds, 201);
    const { access_token: access, refresh_token } = await post('/auth/login', creds, 200);
    const refresh = await post('/auth/refresh', { refresh_token }, 200);
    return { access: access!, refreshed: refresh.access_token! };
  }

  // The sign limit ran in preHandler, after the body was parsed, copied and validated: a body
  // that failed validation never reached it, so one account could send any number of them.
  it('wallet sign: bodies that fail validation count against the per-user sign limit', async () => {
    const { access } = await user();
    const sign = () =>
      inject({
        method: 'POST',
        url: `/wallets/${crypto.randomUUID()}/sign`,
        remoteAddress: freshClient(),
        headers: { authorization: `Bearer ${access}` },
        payload: { not: 'a sign request' },
      });
    for (let i = 0; i < 2; i++)
      assertError(await sign(), 400, 'VALIDATION_FAILED', `sign ${i + 1}`);
    assertError(await sign(), 429, 'RATE_LIMITED', 'third sign');
  });

  // The wallet routes' step-up is a route hook, and so ran before the route's limit: a token
  // without a recent login (one from a refresh) was refused any number of times, each refusal
  // two database lookups, and never answered 429.
  it(`a refused step-up on a wallet route counts: the ${MAX + 1}th is answered 429`, async () => {
    const { refreshed } = await user();
    const client = freshClient();
    const policy = () =>
      inject({
        method: 'PUT',
        url: `/wallets/${crypto.randomUUID()}/policy`,
        remoteAddress: client,
        headers: { authorization: `Bearer ${refreshed}` },
        payload: {},
      });
    for (let i = 0; i < MAX; i++)
      assertError(await policy(), 401, 'STEP_UP_REQUIRED', `policy ${i + 1}`);
    const over = await policy();
    assertError(over, 429, 'RATE_LIMITED', 'over the budget');
    const retryAfter = Number(over.headers['retry-after']);
    assert.ok(retryAfter > 0 && retryAfter <= 60, `Retry-After ${retryAfter}`);
  });

  it(`GET /cluster/manifest (a database lookup for anyone) is limited: the ${MAX + 1}th is answered 429`, async () => {
    const client = freshClient();
    const manifest = () =>
      inject({ method: 'GET', url: '/cluster/manifest', remoteAddress: client });
    for (let i = 0; i < MAX; i++)
      assertError(await manifest(), 404, 'NOT_FOUND', `manifest ${i + 1}`);
    assertLimited(await manifest(), 'over the budget');
  });

  // /readyz is never limited (load balancers probe it): concurrent probes share one check, so a
  // flood of them is not a flood of enclave calls and database queries.
  it('concurrent /readyz probes share one enclave call', async () => {
    const answers: LightMyRequestResponse[] = [];
    const calls = await enclaveCallsDuring(ts, async () => {
      answers.push(
        ...(await Promise.all(
          Array.from({ length: 20 }, () =>
            inject({ method: 'GET', url: '/readyz', remoteAddress: freshClient() }),
          ),
        )),
      );
    });
    for (const r of answers) assert.equal(r.statusCode, 200, r.body);
    assert.deepEqual(calls, ['enclave.status']);
  });

  // Refusals answered in the root hooks (the first one, the CSRF check, CLUSTER_LOCKED), by
  // Fastify before routing (a malformed URL), by @fastify/cors's hook (a preflight) or by a wallet
  // route's own token check in development mode all came before any limit and were free: a
  // client over its budget was answered 403/503/400/204 there, never 429.
  describe('refusals before any route hook: CSRF, CLUSTER_LOCKED, no Host, malformed URL, preflight, development mode', () => {
    let dev: TestService;
    let port: number;
    let secure: Record<string, string>;
    const ORIGIN = 'https://app.example';
    before(async () => {
      dev = await startTestService('pglite', {
        ...LIMITS,
        AUTH_COOKIES: 'true',
        ALLOWED_ORIGINS: ORIGIN,
        AUTH_DISABLED_FOR_DEVELOPMENT: 'true',
      });
      await dev.service.app.listen({ port: 0, host: '127.0.0.1' });
      port = (dev.service.app.server.address() as AddressInfo).port;
      secure = (await securityHeaders()) as Record<string, string>;
    });
    after(async () => dev?.stop());

    const assertSecure = (headers: Record<string, unknown>, what: string) => {
      for (const [name, value] of Object.entries(secure))
        assert.equal(headers[name.toLowerCase()], value, `${what}: ${name}`);
    };
    /**
     * A fresh client sends `request` MAX times (each answer checked by `ok`, with the security
     * headers), then once more: 429 with Retry-After and the security headers, and the budget
     * is spent for every route.
     */
    async function exhaust(
      request: Omit<InjectOptions, 'remoteAddress'>,
      ok: (res: LightMyRequestResponse, what: string) => void,
      what: string,
    ): Promise<void> {
      const client = freshClient();
      const send = () => dev.service.app.inject({ ...request, remoteAddress: client });
      for (let i = 0; i < MAX; i++) {
        const res = await send();
        ok(res, `${what} ${i + 1}`);
        assertSecure(res.headers, `${what} ${i + 1}`);
      }
      const over = await send();
      assertLimited(over, `${what}: over the budget`);
      assertSecure(over.headers, `${what}: over the budget`);
      const other = { method: 'GET' as const, url: '/attestation/quote', remoteAddress: client };
      assertLimited(await dev.service.app.inject(other), `${what}: another route`);
    }
    const refused =
      (status: number, code: HttpErrorCode) => (res: LightMyRequestResponse, what: string) =>
        assertError(res, status, code, what);

    it('the CSRF check: a cross-site POST with the cookies is refused 403, then 429', async () => {
      await exhaust(
        {
          method: 'POST',
          url: '/auth/logout-all',
          headers: { cookie: '__Host-cloister_access=x', origin: 'https://evil.example' },
        },
        refused(403, 'CSRF_REFUSED'),
        'cross-site',
      );
    });

    it('CLUSTER_LOCKED: refused 503 while awaiting the quorum, then 429', async () => {
      const cluster = dev.service.cluster as { isLocked: () => boolean };
      const isLocked = cluster.isLocked;
      cluster.isLocked = () => true;
      try {
        await exhaust(
          { method: 'GET', url: `/enclave/sessions/${crypto.randomUUID()}` },
          refused(503, 'CLUSTER_LOCKED'),
          'locked',
        );
      } finally {
        cluster.isLocked = isLocked;
      }
    });

    it('a malformed URL: refused 400 VALIDATION_FAILED, then 429 (audited like every 429)', async () => {
      const before = dev.logs.length;
      await exhaust(
        { method: 'GET', url: '/enclave/sessions/%zz' },
        refused(400, 'VALIDATION_FAILED'),
        'malformed URL',
      );
      // Fastify answers a malformed URL before routing, outside the error handler: its 429 was
      // neither an audit event nor counted by the metrics, so a flood of them went unseen.
      const denied = dev.logs
        .slice(before)
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((l) => l.event === 'auth.request_denied' && l.code === 'RATE_LIMITED');
      assert.equal(denied.length, 2, 'the malformed URL and the other route, both 429');
    });

    it("CORS preflights answered by cors's own hook: 204, then 429 (counted once)", async () => {
      await exhaust(
        {
          method: 'OPTIONS',
          url: '/enclave/submit_key',
          headers: { origin: ORIGIN, 'access-control-request-method': 'POST' },
        },
        (res, what) => {
          assert.equal(res.statusCode, 204, `${what}: ${res.body}`);
          assert.equal(res.headers['access-control-allow-origin'], ORIGIN, what);
        },
        'preflight',
      );
    });

    it('development mode: a wallet route refuses a request without a token 401, then 429', async () => {
      await exhaust({ method: 'GET', url: '/wallets' }, refused(401, 'AUTH_REQUIRED'), 'no token');
    });

    it('an HTTP/1.1 request without Host: refused 400 REQUEST_MALFORMED, then 429', async () => {
      // Over a socket (an injected request always has a Host): the client is 127.0.0.1, which
      // no other test of this service uses.
      const noHost = async () => {
        const [res] = await rawExchange(port, 'GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n');
        assert.ok(res, 'no answer');
        return res;
      };
      for (let i = 0; i < MAX; i++) {
        const res = await noHost();
        assert.equal(res.status, 400, res.body);
        assert.equal(JSON.parse(res.body).error.code, 'REQUEST_MALFORMED');
        assertSecure(res.headers, `no Host ${i + 1}`);
      }
      const over = await noHost();
      assert.equal(over.status, 429, over.body);
      assert.equal(JSON.parse(over.body).error.code, 'RATE_LIMITED');
      const retryAfter = Number(over.headers['retry-after']);
      assert.ok(retryAfter > 0 && retryAfter <= 60, `Retry-After ${over.headers['retry-after']}`);
      assertSecure(over.headers, 'no Host: over the budget');
    });
  });
});

// The store failing (Redis down) fails every limited route closed (500), but a refusal answered
// before any route's limit stays the refusal it is: nothing was done for it, and counting it is
// what failed. A malformed URL kept its 400; the hooks' refusals became 500 INTERNAL (an error
// line with a stack for each one a client sends).
describe('a refusal stays a refusal when the store fails', () => {
  let ts: TestService;
  const ORIGIN = 'https://app.example';
  before(async () => {
    ts = await startTestService('pglite', {
      ...LIMITS,
      // Nothing listens on port 1: every count fails.
      REDIS_URL: 'redis://127.0.0.1:1',
      AUTH_COOKIES: 'true',
      ALLOWED_ORIGINS: ORIGIN,
    });
  });
  after(async () => ts?.stop());

  it('a served route fails closed, a bad token is 401, a cross-site POST 403, a malformed URL 400', async () => {
    const client = freshClient();
    const served = await ts.service.app.inject({
      method: 'GET',
      url: '/attestation/quote',
      remoteAddress: client,
    });
    assertError(served, 500, 'INTERNAL', 'served route, store down');
    assertError(await badTokenFrom(ts, client), 401, 'AUTH_TOKEN_INVALID', 'bad token');
    const crossSite = await ts.service.app.inject({
      method: 'POST',
      url: '/auth/logout-all',
      remoteAddress: client,
      headers: { cookie: '__Host-cloister_access=x', origin: 'https://evil.example' },
    });
    assertError(crossSite, 403, 'CSRF_REFUSED', 'cross-site');
    const badUrl = await ts.service.app.inject({
      method: 'GET',
      url: '/%zz',
      remoteAddress: client,
    });
    assertError(badUrl, 400, 'VALIDATION_FAILED', 'malformed URL');
  });
});

describe(
  'IPv6 clients are limited per /64 (Redis)',
  { skip: redisUp ? false : 'redis unreachable' },
  () => {
    let ts: TestService;
    let redis: Redis;
    const prefixes: string[] = [];
    before(async () => {
      redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
      await redis.connect();
      ts = await startTestService('pglite', { ...LIMITS, REDIS_URL });
    });
    after(async () => {
      await ts?.stop();
      // Remove only this run's counters (each test uses a random /64 of its own).
      for (const p of prefixes) {
        const keys = await redis.keys(`cloister-rl:*${p}*`);
        if (keys.length > 0) await redis.del(...keys);
      }
      redis?.disconnect();
    });

    it('two addresses of one /64 share one Redis counter', async () => {
      const [a, b, prefix] = freshV6Pair();
      prefixes.push(prefix);
      await spend(ts, a);
      assertLimited(
        await ts.service.app.inject({ method: 'GET', url: '/no-such-route', remoteAddress: b }),
        'same /64',
      );
      const keys = await redis.keys(`cloister-rl:*${prefix}*`);
      assert.equal(keys.length, 1, `one counter for the /64: ${keys.join(', ')}`);
    });
  },
);
