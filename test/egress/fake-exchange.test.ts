/**
 * The fake exchange keeps the real APIs' rules (devtools/fake-exchange): signatures over the raw
 * query, timestamps within recvWindow, the paging rules with their real error codes, rate
 * limits with Retry-After, and deterministic histories with the hard cases a pager must handle.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  generateAccountFills,
  startFakeExchange,
  type FakeExchange,
} from '../../devtools/fake-exchange/index.js';
import { binanceGet, bybitGet, KEY } from './sign.js';

const DAY = 86_400_000;

describe('fake exchange: fill generator', () => {
  it('is deterministic in its seed and differs across seeds', () => {
    const a = generateAccountFills({ seed: 7, fills: 5000 });
    const b = generateAccountFills({ seed: 7, fills: 5000 });
    const c = generateAccountFills({ seed: 8, fills: 5000 });
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
  });

  it('makes 10^5 fills with every hard case in them', () => {
    const t0 = performance.now();
    const f = generateAccountFills({ seed: 42, fills: 100_000 });
    const ms = performance.now() - t0;
    assert.equal(f.length, 100_000);
    // Reported, not asserted (no timing thresholds in tests).
    console.log(`generated 10^5 fills in ${ms.toFixed(0)} ms`);
    for (let i = 1; i < f.length; i++) {
      assert.ok(
        f[i]!.time > f[i - 1]!.time || (f[i]!.time === f[i - 1]!.time && f[i]!.id > f[i - 1]!.id),
      );
    }
    const markets = new Set(f.map((x) => x.market));
    for (const m of ['BTCUSDT', 'ETHUSDT', 'ETHBTC', 'SOLUSDC', 'BNBUSDT', 'DOGEUSDT'])
      assert.ok(markets.has(m), m);
    assert.equal(f.filter((x) => x.market === 'DOGEUSDT').length, 1);
    assert.ok(f.some((x) => x.side === 'buy') && f.some((x) => x.side === 'sell'));
    assert.ok(
      f.some((x) => x.feeAsset === x.quote),
      'fee in quote',
    );
    assert.ok(
      f.some((x) => x.feeAsset === x.base && x.base !== 'BNB'),
      'fee in base',
    );
    assert.ok(
      f.some((x) => x.feeAsset === 'BNB' && x.base !== 'BNB' && x.quote !== 'BNB'),
      'fee in a third currency',
    );
    // Partial fills: several fills of one order.
    const perOrder = new Map<number, number>();
    for (const x of f) perOrder.set(x.orderId, (perOrder.get(x.orderId) ?? 0) + 1);
    assert.ok([...perOrder.values()].some((n) => n >= 5));
    // A same-millisecond cluster straddles a 1000-fill page boundary of one symbol.
    const btc = f.filter((x) => x.market === 'BTCUSDT');
    let straddles = 0;
    for (let i = 1000; i < btc.length; i += 1000)
      if (btc[i]!.time === btc[i - 1]!.time) straddles++;
    assert.ok(straddles > 0);
    // A gap longer than 7 days.
    let gap = 0;
    for (let i = 1; i < f.length; i++) gap = Math.max(gap, f[i]!.time - f[i - 1]!.time);
    assert.ok(gap > 7 * DAY);
    // Decimal strings, exact.
    assert.ok(
      f.every(
        (x) =>
          /^\d+(\.\d+)?$/.test(x.price) &&
          /^\d+(\.\d+)?$/.test(x.qty) &&
          /^\d+\.\d{8}$/.test(x.fee),
      ),
    );
  });
});

describe('fake exchange: Binance spot', () => {
  let fx: FakeExchange;
  before(async () => {
    fx = await startFakeExchange({ seed: 42, fills: 12_000 });
  });
  after(() => fx.close());

  it('serves a signed request and reports the used weight', async () => {
    const r = await binanceGet(fx.url, '/api/v3/myTrades', {
      symbol: 'BTCUSDT',
      fromId: 0,
      limit: 5,
    });
    assert.equal(r.status, 200);
    assert.equal((r.json as unknown[]).length, 5);
    assert.ok(Number(r.headers.get('x-mbx-used-weight-1m')) >= 20);
  });

  it('rejects a wrong secret with -1022', async () => {
    const r = await binanceGet(
      fx.url,
      '/api/v3/myTrades',
      { symbol: 'BTCUSDT' },
      { secret: 'wrong' },
    );
    assert.equal(r.status, 400);
    assert.deepEqual(r.json, { code: -1022, msg: 'Signature for this request is not valid.' });
  });

  it('verifies the raw query bytes (re-ordered parameters still verify; a changed byte does not)', async () => {
    const q = `timestamp=${Date.now()}&symbol=BTCUSDT&limit=3&recvWindow=10000`;
    const { binanceUrl } = await import('./sign.js');
    const url = binanceUrl(fx.url, '/api/v3/myTrades', q);
    const ok = await fetch(url, { headers: { 'X-MBX-APIKEY': KEY } });
    assert.equal(ok.status, 200);
    const tampered = await fetch(url.replace('limit=3', 'limit=4'), {
      headers: { 'X-MBX-APIKEY': KEY },
    });
    assert.equal(((await tampered.json()) as { code: number }).code, -1022);
  });

  it('rejects a missing (-2014), unknown or revoked (-2015) key with 401', async () => {
    for (const [key, code] of [
      ['', -2014],
      ['nope', -2015],
      ['revoked-api-key', -2015],
    ] as const) {
      const r = await binanceGet(fx.url, '/api/v3/account', {}, { key });
      assert.equal(r.status, 401);
      assert.equal((r.json as { code: number }).code, code);
    }
  });

  it('enforces the timestamp window (-1021) and the recvWindow cap (-1131)', async () => {
    const old = await binanceGet(fx.url, '/api/v3/account', {}, { timestamp: Date.now() - 6000 });
    assert.equal((old.json as { code: number }).code, -1021);
    const widened = await binanceGet(
      fx.url,
      '/api/v3/account',
      {},
      { timestamp: Date.now() - 6000, recvWindow: 10_000 },
    );
    assert.equal(widened.status, 200);
    const ahead = await binanceGet(fx.url, '/api/v3/account', {}, { timestamp: Date.now() + 5000 });
    assert.equal((ahead.json as { code: number }).code, -1021);
    const cap = await binanceGet(fx.url, '/api/v3/account', {}, { recvWindow: 60_001 });
    assert.equal((cap.json as { code: number }).code, -1131);
  });

  it('enforces the myTrades parameter rules with the real codes', async () => {
    const t = Date.UTC(2026, 8, 1);
    const cases: [Record<string, string | number>, number][] = [
      [{}, -1102],
      [{ symbol: 'NOPEUSDT' }, -1121],
      [{ symbol: 'BTCUSDT', limit: 1001 }, -1100],
      [{ symbol: 'BTCUSDT', fromId: 1, startTime: t }, -1128],
      [{ symbol: 'BTCUSDT', startTime: t, endTime: t + DAY + 1 }, -1127],
      [{ symbol: 'BTCUSDT', since: t }, -1104],
    ];
    for (const [params, code] of cases) {
      const r = await binanceGet(fx.url, '/api/v3/myTrades', params);
      assert.equal(r.status, 400, JSON.stringify(params));
      assert.equal((r.json as { code: number }).code, code, JSON.stringify(params));
    }
    const ok = await binanceGet(fx.url, '/api/v3/myTrades', {
      symbol: 'BTCUSDT',
      startTime: t,
      endTime: t + DAY,
    });
    assert.equal(ok.status, 200);
  });

  it('a fromId loop returns every fill of a symbol exactly once', async () => {
    const acct = fx.accounts.get(KEY)!;
    const expected = acct.byMarket('ETHUSDT').map((f) => f.id);
    const got: number[] = [];
    let fromId = 0;
    for (;;) {
      const r = await binanceGet(fx.url, '/api/v3/myTrades', {
        symbol: 'ETHUSDT',
        fromId,
        limit: 1000,
      });
      const page = r.json as { id: number }[];
      got.push(...page.map((p) => p.id));
      if (page.length < 1000) break;
      fromId = page[page.length - 1]!.id + 1;
    }
    assert.deepEqual(got, expected);
  });

  it('serves 10^5 fills completely to a per-symbol fromId walk', async () => {
    const big = await startFakeExchange({ seed: 5, fills: 100_000 });
    try {
      const acct = big.accounts.get(KEY)!;
      const ids: number[] = [];
      for (const symbol of ['BTCUSDT', 'ETHUSDT', 'ETHBTC', 'SOLUSDC', 'BNBUSDT', 'DOGEUSDT']) {
        let fromId = 0;
        for (;;) {
          const r = await binanceGet(big.url, '/api/v3/myTrades', { symbol, fromId, limit: 1000 });
          assert.equal(r.status, 200);
          const page = r.json as { id: number }[];
          ids.push(...page.map((p) => p.id));
          if (page.length < 1000) break;
          fromId = page[page.length - 1]!.id + 1;
        }
      }
      assert.equal(ids.length, 100_000);
      assert.deepEqual(
        ids.sort((a, b) => a - b),
        acct.fills.map((f) => f.id),
      );
    } finally {
      await big.close();
    }
  });

  it('serves balances for symbol discovery', async () => {
    const r = await binanceGet(fx.url, '/api/v3/account', {});
    const assets = (r.json as { balances: { asset: string }[] }).balances.map((b) => b.asset);
    for (const a of ['BTC', 'ETH', 'USDT', 'USDC', 'SOL', 'BNB', 'DOGE'])
      assert.ok(assets.includes(a), a);
  });
});

describe('fake exchange: Binance rate limits', () => {
  it('answers 429 with Retry-After, then 418 (ban) with Retry-After when the client keeps going', async () => {
    const fx = await startFakeExchange({
      fills: 10,
      limits: { binance: { weightPerWindow: 40, strikes: 1, banMs: 120_000 } },
    });
    try {
      const statuses: number[] = [];
      const retry: (string | null)[] = [];
      for (let i = 0; i < 4; i++) {
        const r = await fetch(`${fx.url}/api/v3/exchangeInfo`);
        statuses.push(r.status);
        retry.push(r.headers.get('retry-after'));
        await r.arrayBuffer();
      }
      assert.deepEqual(statuses, [200, 200, 429, 418]);
      assert.ok(Number(retry[2]) >= 1 && Number(retry[2]) <= 60);
      assert.ok(Number(retry[3]) > 60);
      const banned = await fetch(`${fx.url}/api/v3/time`);
      assert.equal(banned.status, 418);
      assert.equal(((await banned.json()) as { code: number }).code, -1003);
    } finally {
      await fx.close();
    }
  });
});

describe('fake exchange: Bybit v5', () => {
  let fx: FakeExchange;
  const start = Date.UTC(2026, 6, 1);
  before(async () => {
    fx = await startFakeExchange({ seed: 42, fills: 12_000, limits: { bybit: { limit: 1000 } } });
  });
  after(() => fx.close());

  it('rejects a wrong secret (10004), an unknown or revoked key (10003), a stale timestamp (10002)', async () => {
    const q = `category=spot&startTime=${start}`;
    assert.equal(
      (await bybitGet(fx.url, '/v5/execution/list', q, { secret: 'wrong' })).json.retCode,
      10004,
    );
    assert.equal(
      (await bybitGet(fx.url, '/v5/execution/list', q, { key: 'nope' })).json.retCode,
      10003,
    );
    assert.equal(
      (
        await bybitGet(fx.url, '/v5/execution/list', q, {
          key: 'revoked-api-key',
          secret: 'revoked-secret',
        })
      ).json.retCode,
      10003,
    );
    const stale = await bybitGet(fx.url, '/v5/execution/list', q, {
      timestamp: Date.now() - 10_000,
    });
    assert.equal(stale.status, 200);
    assert.equal(stale.json.retCode, 10002);
    assert.equal((await bybitGet(fx.url, '/v5/execution/list', q)).json.retCode, 0);
  });

  it('enforces category, limit and the 7-day window', async () => {
    assert.equal(
      (await bybitGet(fx.url, '/v5/execution/list', `startTime=${start}`)).json.retCode,
      10001,
    );
    assert.equal(
      (await bybitGet(fx.url, '/v5/execution/list', `category=spot&limit=101&startTime=${start}`))
        .json.retCode,
      10001,
    );
    const wide = await bybitGet(
      fx.url,
      '/v5/execution/list',
      `category=spot&startTime=${start}&endTime=${start + 7 * DAY + 1}`,
    );
    assert.equal(wide.json.retCode, 10001);
  });

  it('7-day windows x cursor return every fill exactly once, newest first within a page', async () => {
    const acct = fx.accounts.get(KEY)!;
    const all = acct.fills;
    const first = all[0]!.time;
    const last = all[all.length - 1]!.time;
    const seen: string[] = [];
    for (let from = first; from <= last; from += 7 * DAY) {
      const to = Math.min(from + 7 * DAY - 1, last);
      let cursor = '';
      for (;;) {
        const q = `category=spot&limit=100&startTime=${from}&endTime=${to}${cursor ? `&cursor=${cursor}` : ''}`;
        const r = await bybitGet(fx.url, '/v5/execution/list', q);
        assert.equal(r.json.retCode, 0, r.json.retMsg);
        const list = r.json.result.list as { execId: string; execTime: string }[];
        for (let i = 1; i < list.length; i++)
          assert.ok(Number(list[i - 1]!.execTime) >= Number(list[i]!.execTime));
        seen.push(...list.map((e) => e.execId));
        cursor = r.json.result.nextPageCursor as string;
        if (!cursor) break;
      }
    }
    assert.equal(seen.length, all.length);
    assert.equal(new Set(seen).size, all.length);
  });

  it('rate limits per key with 10006 and the X-Bapi-Limit headers', async () => {
    fx.limiters.bybit.limits = { limit: 2, windowMs: 60_000 };
    fx.limiters.bybit.reset();
    try {
      const q = `category=spot&startTime=${start}`;
      const codes: number[] = [];
      let status = '';
      for (let i = 0; i < 3; i++) {
        const r = await bybitGet(fx.url, '/v5/execution/list', q);
        codes.push(r.json.retCode);
        status = r.headers.get('x-bapi-limit-status') ?? '';
        assert.ok(Number(r.headers.get('x-bapi-limit-reset-timestamp')) > Date.now() - 1000);
      }
      assert.deepEqual(codes, [0, 0, 10006]);
      assert.equal(status, '0');
    } finally {
      fx.limiters.bybit.limits = { limit: 1000, windowMs: 1000 };
      fx.limiters.bybit.reset();
    }
  });
});
