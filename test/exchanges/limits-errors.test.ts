/**
 * The shared request loop: the rate limiter (window budget, the exchanges' used-weight and
 * remaining headers, Retry-After on 429/418), bounded retries with backoff for 5xx and network
 * errors, the mapping of each exchange's key-rejection codes to EXCHANGE_KEY_REJECTED, and that
 * no error (message, stack, fields, inspection) carries the key, the secret or a signature.
 * Time is a fake clock: nothing here waits for real.
 */
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { describe, it } from 'node:test';
import { createTradeHistorySource } from '../../src/enclave/exchanges/connector.js';
import { EgressError } from '../../src/enclave/egress/errors.js';
import { ExchangeError } from '../../src/enclave/exchanges/errors.js';
import { RateLimiter, sharedLimiter } from '../../src/enclave/exchanges/rate-limiter.js';
import { parseRetryAfter } from '../../src/enclave/exchanges/session.js';
import type { Exchange } from '../../src/protocol/credentials.js';
import type { HttpTransport } from '../../src/enclave/exchanges/types.js';
import { fakeClock, routeTransport, type Handler, type Reply } from './doubles.js';

const NOW = Date.UTC(2026, 10, 1, 12, 0, 30);
const SECRET = 'SECRET-NEEDLE-5f0c1e';
const KEY = 'KEY-NEEDLE-77ab';
const PASS = 'PASS-NEEDLE-19';
const TRADES = '/api/v3/myTrades';
const emptyInfo = {
  body: { symbols: [{ symbol: 'BTCUSDT', baseAsset: 'BTC', quoteAsset: 'USDT' }] },
};

function binanceSource(
  replies: (Reply | Error)[],
  opts: { capacity?: number; spanMs?: number; infoHeaders?: Reply['headers'] } = {},
) {
  const clock = fakeClock(NOW);
  let i = 0;
  const next: Handler = () => {
    const r = replies[Math.min(i++, replies.length - 1)]!;
    if (r instanceof Error) throw r;
    return r;
  };
  const routed = routeTransport({
    '/api/v3/exchangeInfo': () => ({ ...emptyInfo, headers: opts.infoHeaders ?? {} }),
    '/api/v3/time': () => ({ body: { serverTime: clock.now() + 120_000 } }),
    [TRADES]: next,
  });
  const limiter = new RateLimiter({ capacity: opts.capacity ?? 5000, windowMs: 60_000 }, clock);
  const src = createTradeHistorySource('binance', {
    baseUrl: 'https://api.binance.test',
    credentials: { apiKey: KEY, apiSecret: SECRET },
    transport: routed,
    clock,
    limiter,
  });
  const list = (onProgress?: Parameters<typeof src.listFills>[1]) =>
    src.listFills(
      { from: NOW - (opts.spanMs ?? 3_600_000), to: NOW, symbols: ['BTC/USDT'] },
      onProgress,
    );
  return { list, clock, limiter, routed };
}

const ok: Reply = { body: [] };

describe('RateLimiter', () => {
  it('charges weight in fixed windows and waits for the next one when full', async () => {
    const clock = fakeClock(60_000 * 100 + 10_000);
    const l = new RateLimiter({ capacity: 50, windowMs: 60_000 }, clock);
    await l.acquire(20);
    await l.acquire(20);
    assert.deepEqual(clock.slept, []);
    await l.acquire(20);
    assert.deepEqual(clock.slept, [50_000]); // to the end of the minute
    assert.equal(l.used, 20);
  });

  it('takes the exchange’s higher count, and blocks until a given time', async () => {
    const clock = fakeClock(60_000 * 7);
    const l = new RateLimiter({ capacity: 100, windowMs: 60_000 }, clock);
    l.observe({ used: 95 });
    l.observe({ used: 10 }); // lower than ours: ignored
    assert.equal(l.used, 95);
    await l.acquire(10);
    assert.deepEqual(clock.slept, [60_000]);
    l.blockUntil(clock.now() + 4_000);
    await l.acquire(1);
    assert.deepEqual(clock.slept, [60_000, 4_000]);
  });

  it('one limiter per exchange and egress address, shared by every caller', () => {
    const p = { capacity: 10, windowMs: 1000 };
    assert.equal(sharedLimiter('binance', 'eg-1', p), sharedLimiter('binance', 'eg-1', p));
    assert.notEqual(sharedLimiter('binance', 'eg-1', p), sharedLimiter('binance', 'eg-2', p));
    assert.notEqual(sharedLimiter('binance', 'eg-1', p), sharedLimiter('bybit', 'eg-1', p));
  });

  it('Retry-After in seconds or as an HTTP date', () => {
    assert.equal(parseRetryAfter('3', 0), 3000);
    assert.equal(parseRetryAfter('0.5', 0), 500);
    assert.equal(parseRetryAfter(new Date(NOW + 7000).toUTCString(), NOW), 7000);
    assert.equal(parseRetryAfter('soon', 0), undefined);
  });
});

describe('request loop: rate limits and retries', () => {
  it('429 with Retry-After: waits exactly that long, then succeeds', async () => {
    const s = binanceSource([
      { status: 429, headers: { 'retry-after': '7' }, body: { code: -1003 } },
      ok,
    ]);
    await s.list();
    assert.ok(s.clock.slept.includes(7000), `slept ${s.clock.slept}`);
  });

  it('rate-limit waits are counted in the listing and its progress, with their total', async () => {
    const s = binanceSource([
      { status: 429, headers: { 'retry-after': '7' }, body: { code: -1003 } },
      { status: 429, body: { code: -1003 } },
      ok,
    ]);
    const seen: { rate_limit_waits: number; rate_limit_wait_ms: number }[] = [];
    const listing = await s.list((p) => seen.push(p));
    // 7 s announced, then the backoff of a second 429 (1 s: 500 ms doubled) without Retry-After.
    assert.equal(listing.rateLimitWaits, 2);
    assert.equal(listing.rateLimitWaitMs, 8000);
    // Each wait is reported before it is slept through.
    assert.deepEqual(
      seen.slice(0, 2).map((p) => [p.rate_limit_waits, p.rate_limit_wait_ms]),
      [
        [1, 7000],
        [2, 8000],
      ],
    );
  });

  it('418 (banned): fails at once as EXCHANGE_RATE_LIMITED with the wait, and blocks the limiter', async () => {
    const s = binanceSource([
      { status: 418, headers: { 'retry-after': '120' }, body: { code: -1003 } },
    ]);
    await assert.rejects(s.list(), (e: unknown) => {
      assert.ok(e instanceof ExchangeError);
      assert.equal(e.code, 'EXCHANGE_RATE_LIMITED');
      assert.equal(e.retryAfterS, 120);
      return true;
    });
    assert.equal(s.limiter.blockedUntil, NOW + 120_000);
    assert.equal(s.routed.log.filter((r) => r.path === TRADES).length, 1);
  });

  it('a limiter already blocked beyond the wait budget fails the next listing at once, sending nothing', async () => {
    const s = binanceSource([ok]);
    s.limiter.blockUntil(NOW + 3_600_000); // an earlier job's ban on this exchange and egress
    await assert.rejects(s.list(), { code: 'EXCHANGE_RATE_LIMITED' });
    assert.equal(s.routed.log.length, 0);
    assert.equal(s.clock.now(), NOW, 'nobody slept through the ban');
  });

  it('a Retry-After longer than the loop waits is not waited out', async () => {
    const s = binanceSource([{ status: 429, headers: { 'retry-after': '600' }, body: {} }]);
    await assert.rejects(s.list(), { code: 'EXCHANGE_RATE_LIMITED' });
  });

  it('429s are retried a bounded number of times', async () => {
    const s = binanceSource([{ status: 429, headers: { 'retry-after': '1' }, body: {} }]);
    await assert.rejects(s.list(), { code: 'EXCHANGE_RATE_LIMITED' });
    assert.equal(s.routed.log.filter((r) => r.path === TRADES).length, 4);
  });

  it('the used-weight header holds the next request back', async () => {
    const s = binanceSource([{ headers: { 'x-mbx-used-weight-1m': '4990' }, body: [] }, ok], {
      capacity: 5000,
      spanMs: 3 * 86_400_000,
    });
    await s.list();
    // After the probe said 4990 of 5000, the next call (weight 20) waited for the next minute.
    assert.ok(
      s.clock.slept.some((ms) => ms > 0 && ms <= 60_000),
      `slept ${s.clock.slept}`,
    );
  });

  it('5xx: retried with exponential backoff, then EXCHANGE_UNAVAILABLE', async () => {
    const s = binanceSource([{ status: 503, body: '<html>busy</html>' }]);
    await assert.rejects(s.list(), { code: 'EXCHANGE_UNAVAILABLE' });
    assert.deepEqual(s.clock.slept, [500, 1000, 2000]);
  });

  it('a 502 then success is transparent', async () => {
    const s = binanceSource([{ status: 502, body: '' }, ok]);
    await s.list();
    assert.deepEqual(s.clock.slept, [500]);
  });

  it('egress network errors are retried; timeouts map to EXCHANGE_TIMEOUT; TLS is not retried', async () => {
    const a = binanceSource([new EgressError('EGRESS_NETWORK', 'ECONNRESET'), ok]);
    await a.list();
    const b = binanceSource([new EgressError('EGRESS_TIMEOUT')]);
    await assert.rejects(b.list(), { code: 'EXCHANGE_TIMEOUT' });
    const c = binanceSource([new EgressError('EGRESS_TLS', 'CERT_HAS_EXPIRED')]);
    await assert.rejects(c.list(), { code: 'EXCHANGE_UNAVAILABLE' });
    assert.equal(c.routed.log.filter((r) => r.path === TRADES).length, 1);
  });

  it('-1021 (timestamp): one sync with the exchange clock, then timestamps carry the offset', async () => {
    const skewed: Reply = { status: 400, body: { code: -1021, msg: 'outside of the recvWindow' } };
    const s = binanceSource([skewed, ok]);
    await s.list();
    const trades = s.routed.log.filter((r) => r.path === TRADES);
    assert.equal(s.routed.log.filter((r) => r.path === '/api/v3/time').length, 1);
    const ts = trades.map((r) => Number(r.query.get('timestamp')));
    assert.equal(ts[0], NOW);
    assert.equal(ts[1], NOW + 120_000);
  });

  it('the listing reports the exchange’s time: the first used answer’s Date, plus Age from a cache', async () => {
    const date = new Date(NOW - 3_600_000).toUTCString();
    const listed = (infoHeaders: Record<string, string | null>) =>
      binanceSource([{ headers: { date: new Date(NOW).toUTCString() }, body: [] }], {
        infoHeaders,
      }).list();
    // The first used answer is exchangeInfo (here from a cache, 120 s old); later ones do not count.
    assert.equal((await listed({ date, age: '120' })).exchangeTime, NOW - 3_600_000 + 120_000);
    assert.equal((await listed({ date })).exchangeTime, NOW - 3_600_000);
    // No Date, or not an IMF-fixdate (RFC 850, asctime, garbage), on the first answer: none.
    for (const d of [null, 'Sunday, 01-Nov-26 11:00:30 GMT', 'Sun Nov  1 11:00:30 2026', 'x']) {
      assert.equal((await listed({ date: d })).exchangeTime, undefined, String(d));
    }
  });

  it('a timestamp still refused after the sync is retried as unavailable, a bounded number of times', async () => {
    const s = binanceSource([{ status: 400, body: { code: -1021, msg: 'x' } }]);
    await assert.rejects(s.list(), { code: 'EXCHANGE_UNAVAILABLE' });
    assert.equal(s.routed.log.filter((r) => r.path === '/api/v3/time').length, 1);
    assert.deepEqual(s.clock.slept, [500, 1000, 2000]);
  });

  it('a 200 that is not JSON, or JSON of another shape, is EXCHANGE_BAD_RESPONSE', async () => {
    await assert.rejects(binanceSource([{ body: 'not json' }]).list(), {
      code: 'EXCHANGE_BAD_RESPONSE',
    });
    await assert.rejects(binanceSource([{ body: { weird: 1 } }]).list(), {
      code: 'EXCHANGE_BAD_RESPONSE',
    });
  });
});

/** One signed endpoint per exchange answering `reply`; the listing must fail with `code`. */
const ENDPOINT: Record<Exchange, string> = {
  binance: TRADES,
  bybit: '/v5/execution/list',
  okx: '/api/v5/trade/fills-history',
  coinbase: '/api/v3/brokerage/orders/historical/fills',
};

async function failing(exchange: Exchange, reply: Reply): Promise<unknown> {
  const clock = fakeClock(NOW);
  const { generateKeyPairSync } = await import('node:crypto');
  const secret =
    exchange === 'coinbase'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
          .privateKey.export({ format: 'pem', type: 'sec1' })
          .toString()
      : SECRET;
  const transport: HttpTransport = routeTransport(
    {
      '/api/v3/exchangeInfo': () => emptyInfo,
      '/v5/market/instruments-info': () => ({
        body: {
          retCode: 0,
          result: { list: [{ symbol: 'BTCUSDT', baseCoin: 'BTC', quoteCoin: 'USDT' }] },
        },
      }),
      [ENDPOINT[exchange]]: () => reply,
    },
    // The exchange's `Date` agrees with our clock: a refusal is the key's, not the clock's.
    { now: () => clock.now() },
  );
  const src = createTradeHistorySource(exchange, {
    baseUrl: 'https://exchange.test',
    credentials: { apiKey: KEY, apiSecret: secret, passphrase: PASS },
    transport,
    clock,
    limiter: new RateLimiter({ capacity: 1000, windowMs: 1000 }, clock),
  });
  try {
    await src.listFills({ from: NOW - 3_600_000, to: NOW, symbols: ['BTC/USDT'] });
  } catch (e) {
    return e;
  }
  assert.fail('the listing should have failed');
}

const CASES: [Exchange, string, Reply, string][] = [
  [
    'binance',
    '-2015 invalid key',
    { status: 401, body: { code: -2015, msg: 'Invalid API-key, IP, or permissions for action.' } },
    'EXCHANGE_KEY_REJECTED',
  ],
  [
    'binance',
    '-2014 key format',
    { status: 401, body: { code: -2014, msg: 'API-key format invalid.' } },
    'EXCHANGE_KEY_REJECTED',
  ],
  [
    'binance',
    '-1022 signature',
    { status: 400, body: { code: -1022, msg: 'Signature for this request is not valid.' } },
    'EXCHANGE_KEY_REJECTED',
  ],
  ['binance', '403 WAF', { status: 403, body: '' }, 'EXCHANGE_RATE_LIMITED'],
  [
    'binance',
    '-1127 rule',
    { status: 400, body: { code: -1127, msg: 'More than 24 hours' } },
    'EXCHANGE_BAD_RESPONSE',
  ],
  [
    'bybit',
    '10003 key invalid',
    { body: { retCode: 10003, retMsg: 'API key is invalid.' } },
    'EXCHANGE_KEY_REJECTED',
  ],
  [
    'bybit',
    '10004 sign',
    { body: { retCode: 10004, retMsg: 'error sign!' } },
    'EXCHANGE_KEY_REJECTED',
  ],
  [
    'bybit',
    '33004 expired',
    { body: { retCode: 33004, retMsg: 'expired' } },
    'EXCHANGE_KEY_REJECTED',
  ],
  ['bybit', '403 IP limit', { status: 403, body: 'access too frequent' }, 'EXCHANGE_RATE_LIMITED'],
  [
    'bybit',
    '10001 params',
    { body: { retCode: 10001, retMsg: 'params error' } },
    'EXCHANGE_BAD_RESPONSE',
  ],
  [
    'okx',
    '50111 key',
    { status: 401, body: { code: '50111', msg: 'Invalid OK-ACCESS-KEY.', data: [] } },
    'EXCHANGE_KEY_REJECTED',
  ],
  [
    'okx',
    '50113 sign',
    { status: 401, body: { code: '50113', msg: 'Invalid Sign', data: [] } },
    'EXCHANGE_KEY_REJECTED',
  ],
  [
    'okx',
    '50105 passphrase',
    { status: 401, body: { code: '50105', msg: 'passphrase', data: [] } },
    'EXCHANGE_KEY_REJECTED',
  ],
  [
    'okx',
    '51000 params',
    { status: 400, body: { code: '51000', msg: 'Parameter error', data: [] } },
    'EXCHANGE_BAD_RESPONSE',
  ],
  ['coinbase', '401', { status: 401, body: { error: 'UNAUTHENTICATED' } }, 'EXCHANGE_KEY_REJECTED'],
  [
    'coinbase',
    '403',
    { status: 403, body: { error: 'PERMISSION_DENIED' } },
    'EXCHANGE_KEY_REJECTED',
  ],
];

describe('error mapping and secret hygiene', () => {
  for (const [exchange, name, reply, code] of CASES) {
    it(`${exchange} ${name} → ${code}, and the error carries no key, secret or signature`, async () => {
      const e = await failing(exchange, reply);
      assert.ok(e instanceof ExchangeError);
      assert.equal(e.code, code);
      const text = [
        e.message,
        e.stack ?? '',
        JSON.stringify(e),
        inspect(e, { depth: 10, showHidden: true }),
        String(e.detail),
      ].join('\n');
      for (const needle of [SECRET, KEY, PASS, 'signature=', 'Bearer', 'exchange.test'])
        assert.ok(!text.includes(needle), `${needle} leaked`);
    });
  }

  it('Bybit 10006 waits until the announced reset, then succeeds', async () => {
    const clock = fakeClock(NOW);
    let n = 0;
    const transport = routeTransport({
      '/v5/market/instruments-info': () => ({
        body: {
          retCode: 0,
          result: { list: [{ symbol: 'BTCUSDT', baseCoin: 'BTC', quoteCoin: 'USDT' }] },
        },
      }),
      '/v5/execution/list': () =>
        n++ === 0
          ? {
              headers: {
                'x-bapi-limit-status': '0',
                'x-bapi-limit-reset-timestamp': String(NOW + 800),
              },
              body: { retCode: 10006, retMsg: 'Too many visits' },
            }
          : { body: { retCode: 0, result: { list: [], nextPageCursor: '' } } },
    });
    const src = createTradeHistorySource('bybit', {
      baseUrl: 'https://exchange.test',
      credentials: { apiKey: KEY, apiSecret: SECRET },
      transport,
      clock,
      limiter: new RateLimiter({ capacity: 1000, windowMs: 5000 }, clock),
    });
    await src.listFills({ from: NOW - 3_600_000, to: NOW });
    assert.deepEqual(clock.slept, [800]);
  });
});

describe('a refused key while our clock is off the exchange’s (the host sets it)', () => {
  // Coinbase answers an expired JWT with the 401 of a refused key, and a refusal ends the
  // credential (the host drops its ciphertext): our clock is synced to the `Date` first.
  async function coinbase(keyIsGood: boolean) {
    const clock = fakeClock(NOW - 600_000);
    const { generateKeyPairSync } = await import('node:crypto');
    const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' })
      .privateKey.export({ format: 'pem', type: 'sec1' })
      .toString();
    // The JWT's `nbf` against the exchange's clock, as Coinbase checks it.
    const fresh = (auth: string | undefined) => {
      const claims = JSON.parse(
        Buffer.from((auth ?? '').split('.')[1] ?? '', 'base64url').toString() || '{}',
      ) as { nbf?: number };
      return Math.abs((claims.nbf ?? 0) - NOW / 1000) < 60;
    };
    const refusal = { status: 401, body: { error: 'UNAUTHENTICATED', message: 'Unauthorized' } };
    const transport = routeTransport(
      {
        '/api/v3/brokerage/time': () => ({ body: { epochMillis: String(NOW) } }),
        '/api/v3/brokerage/key_permissions': (r) =>
          keyIsGood && fresh(r.headers['authorization'])
            ? { body: { can_view: true, portfolio_uuid: 'p-1' } }
            : refusal,
        '/api/v3/brokerage/orders/historical/fills': (r) =>
          fresh(r.headers['authorization']) ? { body: { fills: [], cursor: '' } } : refusal,
      },
      { now: () => NOW },
    );
    const src = createTradeHistorySource('coinbase', {
      baseUrl: 'https://exchange.test',
      credentials: { apiKey: 'organizations/o/apiKeys/k', apiSecret: pem },
      transport,
      clock,
      limiter: new RateLimiter({ capacity: 1000, windowMs: 1000 }, clock),
    });
    const times = () => transport.log.filter((r) => r.path === '/api/v3/brokerage/time').length;
    return { src, times };
  }

  it('the JWT expired on our clock: one sync with the exchange’s, then the listing completes', async () => {
    const { src, times } = await coinbase(true);
    const l = await src.listFills({ from: NOW - 3_600_000, to: NOW });
    assert.equal(l.accountId, 'p-1');
    assert.equal(times(), 1);
  });

  it('still refused on the synced clock: EXCHANGE_KEY_REJECTED, after one sync only', async () => {
    const { src, times } = await coinbase(false);
    await assert.rejects(src.listFills({ from: NOW - 3_600_000, to: NOW }), {
      code: 'EXCHANGE_KEY_REJECTED',
    });
    assert.equal(times(), 1);
  });
});
