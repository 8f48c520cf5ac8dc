/**
 * Pager completeness against in-test exchange doubles that follow the documented paging rules
 * (the exchange research, §3.1): Binance myTrades (symbol required, ≤ 1000 rows, `fromId` not
 * with times, ≤ 24 h windows), Bybit execution/list (≤ 7-day windows, newest first, ≤ 100 rows,
 * cursor), OKX fills-history (newest first, `after` bill id, 3 months), Coinbase (cursor).
 * Histories put same-millisecond clusters across every page boundary; every fill must come back
 * exactly once, and every request must follow the rules (the doubles reject the rest).
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { createTradeHistorySource } from '../../src/enclave/exchanges/connector.js';
import { RateLimiter } from '../../src/enclave/exchanges/rate-limiter.js';
import type { Fill } from '../../src/enclave/exchanges/types.js';
import {
  fakeClock,
  routeTransport,
  TEST_ACCOUNT_IDS,
  type Handler,
  type RoutedRequest,
} from './doubles.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 6, 1);
const NOW = Date.UTC(2026, 10, 1);
const KEY = 'pager-key';
const SECRET = 'pager-secret';
const creds = { apiKey: KEY, apiSecret: SECRET, passphrase: 'pp' };

interface Row {
  id: number;
  time: number;
  side: 'buy' | 'sell';
  orderId: number;
}

/** n fills, `tie` per millisecond, `stepMs` apart; ids ascending with time. */
function history(n: number, tie: number, stepMs: number, start = T0): Row[] {
  return Array.from({ length: n }, (_, i) => ({
    id: i + 1,
    time: start + Math.floor(i / tie) * stepMs,
    side: i % 3 === 0 ? 'sell' : 'buy',
    orderId: 1000 + Math.floor(i / tie),
  }));
}

function assertExactlyOnce(fills: Fill[], expected: Row[]): void {
  const ids = fills.map((f) => Number(f.id));
  assert.equal(new Set(ids).size, ids.length, 'no duplicates');
  assert.deepEqual(
    ids,
    expected.map((r) => r.id),
    'every fill, in (time, id) order',
  );
}

function binanceErr(code: number) {
  return { status: 400, body: { code, msg: 'rule' } };
}

/** Binance spot myTrades + exchangeInfo + account, with signature checks. */
function binanceDouble(
  rows: Map<string, Row[]>,
  held: string[],
  /** How a time range longer than `limit` is cut: Binance's docs do not say. */
  rangeCut: 'oldest' | 'newest' = 'oldest',
): Record<string, Handler> {
  const signedOk = (r: RoutedRequest) => {
    const i = r.rawQuery.lastIndexOf('&signature=');
    const sig = createHmac('sha256', SECRET).update(r.rawQuery.slice(0, i)).digest('hex');
    return i > 0 && r.rawQuery.slice(i + 11) === sig && r.headers['x-mbx-apikey'] === KEY;
  };
  return {
    '/api/v3/exchangeInfo': () => ({
      body: {
        symbols: ['BTCUSDT', 'ETHUSDT', 'XRPBTC', 'LTCUSDT'].map((s) => ({
          symbol: s,
          status: 'TRADING',
          baseAsset: s.slice(0, 3),
          quoteAsset: s.slice(3),
        })),
      },
    }),
    '/api/v3/account': (r) => {
      if (!signedOk(r)) return { status: 400, body: { code: -1022, msg: 'sig' } };
      return {
        body: {
          balances: held.map((a) => ({ asset: a, free: '1.00000000', locked: '0.00000000' })),
        },
      };
    },
    '/api/v3/myTrades': (r) => {
      if (!signedOk(r)) return { status: 400, body: { code: -1022, msg: 'sig' } };
      const q = r.query;
      const sym = q.get('symbol');
      if (!sym) return binanceErr(-1102);
      const all = rows.get(sym) ?? [];
      const limit = Number(q.get('limit') ?? 500);
      if (limit > 1000) return binanceErr(-1100);
      const st = q.get('startTime');
      const et = q.get('endTime');
      const fromId = q.get('fromId');
      if (fromId !== null && (st !== null || et !== null)) return binanceErr(-1128);
      if (st !== null && et !== null && Number(et) - Number(st) > DAY) return binanceErr(-1127);
      let page: Row[];
      if (fromId !== null) page = all.filter((x) => x.id >= Number(fromId)).slice(0, limit);
      else if (st !== null || et !== null) {
        const a = st !== null ? Number(st) : Number(et) - DAY;
        const b = et !== null ? Number(et) : Number(st) + DAY;
        const inRange = all.filter((x) => x.time >= a && x.time <= b);
        page = rangeCut === 'oldest' ? inRange.slice(0, limit) : inRange.slice(-limit);
      } else page = all.slice(-limit);
      return {
        headers: { 'x-mbx-used-weight-1m': '20' },
        body: page.map((x) => ({
          symbol: sym,
          id: x.id,
          orderId: x.orderId,
          price: '100.00000000',
          qty: '0.50000000',
          quoteQty: '50.00000000',
          commission: '0.05000000',
          commissionAsset: 'USDT',
          time: x.time,
          isBuyer: x.side === 'buy',
          isMaker: false,
          isBestMatch: true,
        })),
      };
    },
  };
}

function source(
  exchange: 'binance' | 'bybit' | 'okx' | 'coinbase',
  handlers: Record<string, Handler>,
  quoteAssets?: string[],
) {
  const transport = routeTransport(handlers);
  const clock = fakeClock(NOW);
  const src = createTradeHistorySource(exchange, {
    baseUrl: 'https://exchange.test',
    credentials: creds,
    transport,
    clock,
    limiter: new RateLimiter({ capacity: 1e9, windowMs: 60_000 }, clock),
    ...(quoteAssets ? { quoteAssets } : {}),
  });
  return { src, transport, clock };
}

describe('Binance pager: fromId per symbol', () => {
  // 12,000 fills, 7 per millisecond: a cluster straddles every 1,000-row page edge.
  const rows = history(12_000, 7, 20 * 60_000);

  it('returns all 12,000 fills exactly once, with ties at every page boundary', async () => {
    const { src, transport } = source('binance', binanceDouble(new Map([['BTCUSDT', rows]]), []));
    const l = await src.listFills({ from: T0 - 30 * DAY, to: NOW, symbols: ['BTC/USDT'] });
    assertExactlyOnce(l.fills, rows);
    assert.deepEqual(l.symbols, ['BTC/USDT']);
    assert.equal(l.requests, transport.log.length);
    // exchangeInfo, account (its uid), a day probe (a page), newest, oldest, then 13 pages of
    // 1000 (the last short).
    assert.equal(transport.log.filter((r) => r.query.get('limit') === '1000').length, 14);
    assert.ok(l.requests <= 18, `requests: ${l.requests}`);
    assert.equal(l.symbolsComplete, false, 'requested symbols are never the whole account');
    assert.match(l.responsesDigest, /^[0-9a-f]{64}$/);
  });

  it('a window that starts and ends inside same-millisecond clusters, far from the first fill', async () => {
    const { src, transport } = source('binance', binanceDouble(new Map([['BTCUSDT', rows]]), []));
    const from = rows[5003]!.time; // inside a cluster of 7
    const to = rows[9998]!.time;
    const l = await src.listFills({ from, to, symbols: ['BTC/USDT'] });
    assertExactlyOnce(
      l.fills,
      rows.filter((r) => r.time >= from && r.time < to),
    );
    // The first id was found by the 24 h probe; no binary search was needed.
    assert.ok(transport.log.length <= 8, `requests: ${transport.log.length}`);
  });

  it('finds the first id by binary search when the day after `from` has no fills', async () => {
    const gap = [
      ...history(3000, 3, 60_000),
      ...history(3000, 3, 60_000, T0 + 40 * DAY).map((r) => ({ ...r, id: r.id + 5000 })),
    ];
    const { src, transport } = source('binance', binanceDouble(new Map([['BTCUSDT', gap]]), []));
    const from = T0 + 10 * DAY; // inside the 38-day hole
    const l = await src.listFills({ from, to: NOW, symbols: ['BTC/USDT'] });
    assertExactlyOnce(
      l.fills,
      gap.filter((r) => r.time >= from),
    );
    const searches = transport.log.filter(
      (r) => r.query.get('limit') === '1' && r.query.has('fromId'),
    );
    assert.ok(
      searches.length > 2 && searches.length < 20,
      `binary search steps: ${searches.length}`,
    );
  });

  for (const cut of ['oldest', 'newest'] as const) {
    it(`a day after \`from\` holding more than a page (range cut: ${cut})`, async () => {
      const dense = history(12_000, 3, 60_000); // 4,320 fills a day
      const { src } = source('binance', binanceDouble(new Map([['BTCUSDT', dense]]), [], cut));
      const from = dense[2500]!.time + 1;
      const l = await src.listFills({ from, to: NOW, symbols: ['BTC/USDT'] });
      assertExactlyOnce(
        l.fills,
        dense.filter((r) => r.time >= from),
      );
    });
  }

  it('a window after the last fill costs a probe and one newest-trade call', async () => {
    const { src, transport } = source('binance', binanceDouble(new Map([['BTCUSDT', rows]]), []));
    const l = await src.listFills({ from: NOW - 10 * DAY, to: NOW, symbols: ['BTC/USDT'] });
    assert.equal(l.fills.length, 0);
    assert.equal(transport.log.filter((r) => r.path === '/api/v3/myTrades').length, 2);
  });

  it('discovers symbols from balances × configured quotes; unknown requested symbols are skipped', async () => {
    const data = new Map([
      ['BTCUSDT', rows.slice(0, 10)],
      ['ETHUSDT', rows.slice(0, 5)],
      ['XRPBTC', rows.slice(0, 3)],
    ]);
    const a = source('binance', binanceDouble(data, ['BTC', 'USDT', 'XRP']), ['USDT']);
    const la = await a.src.listFills({ from: T0, to: NOW });
    assert.deepEqual(la.symbols, ['BTC/USDT']); // ETH not held, XRP/BTC not quoted in USDT
    assert.equal(la.fills.length, 10);
    const b = source('binance', binanceDouble(data, []));
    const lb = await b.src.listFills({
      from: T0,
      to: NOW,
      symbols: ['XRP/BTC', 'DOGE/USDT', 'ETH/USDT'],
    });
    assert.deepEqual(lb.symbols, ['ETH/USDT', 'XRP/BTC']);
    assert.equal(lb.fills.length, 8);
  });

  it('a Binance-compatible service without /api/v3/account: every quoted symbol is scanned', async () => {
    const handlers = binanceDouble(
      new Map([
        ['BTCUSDT', rows.slice(0, 10)],
        ['XRPBTC', rows.slice(0, 2)],
      ]),
      [],
    );
    delete handlers['/api/v3/account'];
    const { src } = source('binance', handlers);
    const l = await src.listFills({ from: T0, to: NOW });
    assert.deepEqual(l.symbols, ['BTC/USDT', 'ETH/USDT', 'LTC/USDT', 'XRP/BTC']);
    assert.equal(l.fills.length, 12);
  });

  it('a source lists once; the credentials are not kept after', async () => {
    const { src } = source('binance', binanceDouble(new Map([['BTCUSDT', rows.slice(0, 3)]]), []));
    await src.listFills({ from: T0, to: NOW, symbols: ['BTC/USDT'] });
    await assert.rejects(src.listFills({ from: T0, to: NOW, symbols: ['BTC/USDT'] }), TypeError);
    assert.ok(!JSON.stringify(src).includes(SECRET));
  });
});

/** Bybit v5 execution/list: 7-day windows (inclusive), newest first, ≤ 100 rows, cursor. */
function bybitDouble(rows: Row[], windows: [number, number][]): Record<string, Handler> {
  return {
    '/v5/market/instruments-info': () => ({
      body: {
        retCode: 0,
        result: {
          list: [{ symbol: 'BTCUSDT', baseCoin: 'BTC', quoteCoin: 'USDT' }],
          nextPageCursor: '',
        },
      },
    }),
    '/v5/execution/list': (r) => {
      const h = r.headers;
      const sign = createHmac('sha256', SECRET)
        .update(`${h['x-bapi-timestamp']}${KEY}${h['x-bapi-recv-window']}${r.rawQuery}`)
        .digest('hex');
      if (h['x-bapi-sign'] !== sign) return { body: { retCode: 10004, retMsg: 'sign' } };
      const q = r.query;
      if (q.get('category') !== 'spot') return { body: { retCode: 10001 } };
      const st = Number(q.get('startTime'));
      const et = Number(q.get('endTime'));
      const limit = Number(q.get('limit') ?? 50);
      if (!(et >= st) || et - st > 7 * DAY || limit > 100)
        return { body: { retCode: 10001, retMsg: 'window' } };
      windows.push([st, et]);
      let list = rows.filter((x) => x.time >= st && x.time <= et).reverse();
      const c = q.get('cursor');
      if (c) {
        const [t, id] = Buffer.from(decodeURIComponent(c), 'base64url')
          .toString()
          .split(':')
          .map(Number);
        list = list.filter((x) => x.time < t! || (x.time === t && x.id < id!));
      }
      const page = list.slice(0, limit);
      const last = page[page.length - 1];
      const next =
        list.length > limit && last
          ? encodeURIComponent(Buffer.from(`${last.time}:${last.id}`).toString('base64url'))
          : '';
      return {
        body: {
          retCode: 0,
          retMsg: 'OK',
          result: {
            category: 'spot',
            nextPageCursor: next,
            list: page.map((x) => ({
              symbol: 'BTCUSDT',
              side: x.side === 'buy' ? 'Buy' : 'Sell',
              orderId: String(x.orderId),
              execId: String(x.id),
              execPrice: '100',
              execQty: '0.5',
              execFee: '0.05',
              feeCurrency: 'USDT',
              execType: 'Trade',
              execTime: String(x.time),
            })),
          },
        },
      };
    },
  };
}

describe('Bybit pager: 7-day windows × cursor', () => {
  // 3,000 fills over ~100 days, 3 per millisecond; 100-row pages split the clusters.
  const rows = history(3000, 3, 50 * 60_000, T0);

  it('returns all 3,000 fills exactly once over many 7-day windows', async () => {
    const windows: [number, number][] = [];
    const { src } = source('bybit', bybitDouble(rows, windows));
    const from = T0 - 3 * DAY;
    const l = await src.listFills({ from, to: NOW });
    assertExactlyOnce(l.fills, rows);
    assert.deepEqual(l.symbols, ['BTC/USDT']);
    // The windows tile [from, to) without gaps or overlaps.
    const distinct = [...new Map(windows.map((w) => [w[0], w])).values()];
    assert.equal(distinct[0]![0], from);
    for (let i = 1; i < distinct.length; i++)
      assert.equal(distinct[i]![0], distinct[i - 1]![1] + 1);
    assert.equal(distinct[distinct.length - 1]![1], NOW - 1);
    assert.ok(distinct.length >= 17);
  });

  it('clamps to Bybit’s 2-year history and reports the coverage', async () => {
    const { src } = source('bybit', bybitDouble(rows.slice(0, 10), []));
    const l = await src.listFills({ from: NOW - 800 * DAY, to: NOW - 790 * DAY + 1 });
    assert.ok(l.coveredFrom !== undefined && l.coveredFrom > NOW - 731 * DAY);
  });
});

describe('OKX pager: bill-id cursor, 3 months', () => {
  const rows = history(1234, 4, 9 * 3_600_000, NOW - 120 * DAY);
  const horizon = NOW - 90 * DAY;
  const handlers: Record<string, Handler> = {
    '/api/v5/trade/fills-history': (r) => {
      const h = r.headers;
      const sig = createHmac('sha256', SECRET)
        .update(`${h['ok-access-timestamp']}GET${r.path}?${r.rawQuery}`)
        .digest('base64');
      if (h['ok-access-sign'] !== sig || h['ok-access-passphrase'] !== 'pp')
        return { status: 401, body: { code: '50113', msg: 'Invalid Sign', data: [] } };
      const q = r.query;
      const begin = Math.max(horizon, Number(q.get('begin') ?? 0));
      const end = Number(q.get('end') ?? Infinity);
      const after = q.get('after');
      const limit = Number(q.get('limit') ?? 100);
      const data = rows
        .filter(
          (x) =>
            x.time >= begin &&
            x.time <= end &&
            (after === null || 9_000_000 + x.id < Number(after)),
        )
        .reverse()
        .slice(0, limit)
        .map((x) => ({
          instId: 'ETH-BTC',
          tradeId: String(x.id),
          ordId: String(x.orderId),
          billId: String(9_000_000 + x.id),
          fillPx: '0.05',
          fillSz: '1',
          side: x.side,
          fee: '-0.001',
          feeCcy: 'ETH',
          ts: String(x.time),
        }));
      return { body: { code: '0', msg: '', data } };
    },
  };

  it('returns every fill of the last 3 months once and reports where coverage starts', async () => {
    const { src } = source('okx', handlers);
    const l = await src.listFills({ from: NOW - 150 * DAY, to: NOW });
    const covered = l.coveredFrom!;
    assert.ok(covered >= horizon && covered < horizon + DAY);
    assertExactlyOnce(
      l.fills,
      rows.filter((r) => r.time >= covered),
    );
    assert.deepEqual(l.symbols, ['ETH/BTC']);
    assert.deepEqual(l.fills[0]!.fee, { cost: '0.001', currency: 'ETH' });
  });

  it('a window inside the 3 months has no coverage note', async () => {
    const { src } = source('okx', handlers);
    const l = await src.listFills({ from: NOW - 30 * DAY, to: NOW - 10 * DAY });
    assert.equal(l.coveredFrom, undefined);
    assertExactlyOnce(
      l.fills,
      rows.filter((r) => r.time >= NOW - 30 * DAY && r.time < NOW - 10 * DAY),
    );
  });

  it('without a passphrase the key is rejected before any request', async () => {
    const transport = routeTransport(handlers);
    const src = createTradeHistorySource('okx', {
      baseUrl: 'https://exchange.test',
      credentials: { apiKey: KEY, apiSecret: SECRET },
      transport,
      limiter: new RateLimiter({ capacity: 100, windowMs: 1000 }),
    });
    await assert.rejects(src.listFills({ from: NOW - DAY, to: NOW }), {
      code: 'EXCHANGE_KEY_REJECTED',
    });
    assert.equal(transport.log.length, 0);
  });
});

describe('Coinbase pager: cursor', () => {
  it('follows the cursor to the end, once per fill', async () => {
    const rows = history(600, 5, 60_000);
    const handlers: Record<string, Handler> = {
      '/api/v3/brokerage/orders/historical/fills': (r) => {
        if (!/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/.test(r.headers['authorization'] ?? ''))
          return { status: 401, body: { error: 'UNAUTHENTICATED' } };
        const off = Number(r.query.get('cursor') ?? 0);
        const lim = Number(r.query.get('limit'));
        const page = [...rows].reverse().slice(off, off + lim);
        return {
          body: {
            cursor: off + lim < rows.length ? String(off + lim) : '',
            fills: page.map((x) => ({
              trade_id: String(x.id),
              order_id: String(x.orderId),
              trade_time: new Date(x.time).toISOString(),
              trade_type: 'FILL',
              price: '20000',
              size: '0.01',
              commission: '0.2',
              product_id: 'BTC-USD',
              size_in_quote: false,
              side: x.side.toUpperCase(),
            })),
          },
        };
      },
    };
    const { generateKeyPairSync } = await import('node:crypto');
    const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' })
      .privateKey.export({ format: 'pem', type: 'sec1' })
      .toString();
    const transport = routeTransport(handlers);
    const clock = fakeClock(NOW);
    const src = createTradeHistorySource('coinbase', {
      baseUrl: 'https://exchange.test',
      credentials: { apiKey: 'organizations/o/apiKeys/k', apiSecret: pem },
      transport,
      clock,
      limiter: new RateLimiter({ capacity: 1000, windowMs: 1000 }, clock),
    });
    const l = await src.listFills({ from: T0, to: NOW });
    assertExactlyOnce(l.fills, rows);
    // key_permissions (the account id), then the fills' cursor pages.
    assert.equal(transport.log.length, 4);
    assert.deepEqual(l.symbols, ['BTC/USD']);
    assert.equal(l.accountId, TEST_ACCOUNT_IDS.coinbase);
    assert.equal(l.symbolsComplete, true);
  });
});
