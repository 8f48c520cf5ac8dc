/**
 * Attack review (SECURITY.md, "Exchange egress and aggregates: attack review"): a server whose
 * pages never end, or go back, must fail the listing, never loop forever nor end it as if it
 * were complete. Bybit and Coinbase repeat a cursor, OKX a bill id that is not older than the
 * cursor, Binance a full page whose ids do not pass `fromId` (it ignores the cursor). Under TLS
 * only the exchange itself could answer so; the listing must still not be signed as whole.
 * The second review ("… second attack review") adds Binance's first-id search and pages that
 * stay before the window, and a listing by symbol that holds fills of another symbol.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createTradeHistorySource } from '../../src/enclave/exchanges/connector.js';
import { RateLimiter } from '../../src/enclave/exchanges/rate-limiter.js';
import { fakeClock, routeTransport, type Handler } from './doubles.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 10, 1);
const FROM = NOW - 2 * DAY;
const TIME = NOW - DAY;

/** The `i`-th OKX fill row of `instId` (trade id i + 1, bill id 1000 + i), at TIME. */
const okxRow = (instId: string, i: number) => ({
  instId,
  tradeId: String(i + 1),
  ordId: 'o',
  billId: String(1000 + i),
  fillPx: '100',
  fillSz: '1',
  side: 'buy',
  fee: '0',
  feeCcy: 'USDT',
  ts: String(TIME),
});

async function refused(
  exchange: 'binance' | 'bybit' | 'okx' | 'coinbase',
  handlers: Record<string, Handler>,
  apiSecret: string,
  detail: string,
): Promise<number> {
  const transport = routeTransport(handlers);
  const clock = fakeClock(NOW);
  const src = createTradeHistorySource(exchange, {
    baseUrl: 'https://exchange.test',
    credentials: { apiKey: 'organizations/o/apiKeys/k', apiSecret, passphrase: 'pp' },
    transport,
    clock,
    limiter: new RateLimiter({ capacity: 1e9, windowMs: 60_000 }, clock),
  });
  await assert.rejects(src.listFills({ from: FROM, to: NOW, symbols: ['BTC/USDT'] }), {
    code: 'EXCHANGE_BAD_RESPONSE',
    detail,
  });
  return transport.log.length;
}

describe('pagers refuse a server whose pages never end', () => {
  it('Bybit: a cursor seen before', async () => {
    let n = 0;
    const sent = await refused(
      'bybit',
      {
        '/v5/market/instruments-info': () => ({
          body: {
            retCode: 0,
            result: { list: [{ symbol: 'BTCUSDT', baseCoin: 'BTC', quoteCoin: 'USDT' }] },
          },
        }),
        '/v5/execution/list': () => ({
          body: {
            retCode: 0,
            result: {
              list: [
                {
                  symbol: 'BTCUSDT',
                  side: 'Buy',
                  orderId: 'o',
                  execId: `e${n++}`,
                  execPrice: '100',
                  execQty: '1',
                  execFee: '',
                  execType: 'Trade',
                  execTime: String(TIME),
                },
              ],
              nextPageCursor: n % 2 === 0 ? 'a' : 'b',
            },
          },
        }),
      },
      'secret',
      'bybit-cursor-loop',
    );
    assert.ok(sent < 10, String(sent));
  });

  it('Coinbase: a cursor seen before', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' })
      .privateKey.export({ format: 'pem', type: 'sec1' })
      .toString();
    const sent = await refused(
      'coinbase',
      {
        '/api/v3/brokerage/orders/historical/fills': () => ({
          body: {
            cursor: 'again',
            fills: [
              {
                trade_id: 't',
                order_id: 'o',
                trade_time: new Date(TIME).toISOString(),
                trade_type: 'FILL',
                price: '100',
                size: '1',
                commission: '0',
                product_id: 'BTC-USDT',
                side: 'BUY',
              },
            ],
          },
        }),
      },
      pem,
      'coinbase-cursor-loop',
    );
    assert.ok(sent < 10, String(sent));
  });

  it('OKX: a full page no older than its cursor', async () => {
    const rows = Array.from({ length: 100 }, (_, i) => okxRow('BTC-USDT', i));
    const sent = await refused(
      'okx',
      { '/api/v5/trade/fills-history': () => ({ body: { code: '0', msg: '', data: rows } }) },
      'secret',
      'okx-cursor',
    );
    assert.ok(sent < 10, String(sent));
  });

  it('Binance: a full page whose ids do not pass `fromId` (the cursor ignored)', async () => {
    const page = Array.from({ length: 1000 }, (_, i) => ({
      symbol: 'BTCUSDT',
      id: i + 1,
      orderId: i + 1,
      price: '100',
      qty: '1',
      commission: '0',
      commissionAsset: 'USDT',
      time: TIME,
      isBuyer: true,
    }));
    const sent = await refused(
      'binance',
      {
        '/api/v3/exchangeInfo': () => ({
          body: { symbols: [{ symbol: 'BTCUSDT', baseAsset: 'BTC', quoteAsset: 'USDT' }] },
        }),
        '/api/v3/account': () => ({ body: { uid: 1, balances: [] } }),
        // Whatever `fromId` or time range is asked, the same first 1,000 trades.
        '/api/v3/myTrades': (r) => ({
          body: page.slice(0, Math.min(1000, Number(r.query.get('limit') ?? 500))),
        }),
      },
      'secret',
      'binance-cursor',
    );
    assert.ok(sent < 10, String(sent));
  });
});

describe("Binance's first-id search refuses answers that do not follow `fromId`", () => {
  const row = (id: number, time: number) => ({
    symbol: 'BTCUSDT',
    id,
    orderId: id,
    price: '100',
    qty: '1',
    commission: '0',
    commissionAsset: 'USDT',
    time,
    isBuyer: true,
  });
  // The first day is busy (a full probe page from id 5,000), the oldest trade is older than
  // the window: the first id in the window is searched for by `fromId=x&limit=1`.
  const base: Record<string, Handler> = {
    '/api/v3/exchangeInfo': () => ({
      body: { symbols: [{ symbol: 'BTCUSDT', baseAsset: 'BTC', quoteAsset: 'USDT' }] },
    }),
    '/api/v3/account': () => ({ body: { uid: 1, balances: [] } }),
  };
  const probe = Array.from({ length: 1000 }, (_, i) => row(5000 + i, TIME));
  /** Refused as `binance-cursor`, in few requests (past 200 a looping search gets a bad page). */
  async function refusedCursor(myTrades: Handler): Promise<void> {
    let calls = 0;
    const sent = await refused(
      'binance',
      {
        ...base,
        '/api/v3/myTrades': (r) => (++calls > 200 ? { body: { not: 'a page' } } : myTrades(r)),
      },
      'secret',
      'binance-cursor',
    );
    assert.ok(sent < 20, String(sent));
  }

  it('a trade older than `fromId` (the search would never end)', () =>
    refusedCursor((r) =>
      r.query.has('startTime')
        ? { body: probe }
        : // Whatever `fromId`, the account's oldest trade, before the window.
          { body: [row(1, FROM - DAY)] },
    ));

  it('full pages of ever newer ids that stay before the window (paging would never reach `to`)', () =>
    refusedCursor((r) => {
      // The day probe finds one trade (id 7): paging starts there.
      if (r.query.has('startTime')) return { body: [row(7, TIME)] };
      const from = Number(r.query.get('fromId'));
      return { body: Array.from({ length: 1000 }, (_, i) => row(from + i, FROM - DAY)) };
    }));

  it('no trade at a `fromId` below one already seen (the symbol would end with no fills)', () =>
    refusedCursor((r) => {
      if (r.query.has('startTime')) return { body: probe };
      if (r.query.get('fromId') === '0') return { body: [row(1, FROM - DAY)] };
      return { body: [] };
    }));
});

describe('a listing by symbol refuses fills of symbols it did not scan', () => {
  // Signed, they would be figures for a symbol `symbols_scanned` does not name.
  it('OKX: an instrument page with another instrument in it', async () => {
    await refused(
      'okx',
      {
        '/api/v5/trade/fills-history': () => ({
          body: {
            code: '0',
            msg: '',
            data: [okxRow('ETH-USDT', 0)],
          },
        }),
      },
      'secret',
      'unscanned-symbol',
    );
  });

  it('Bybit: a symbol page with another symbol in it', async () => {
    await refused(
      'bybit',
      {
        '/v5/market/instruments-info': () => ({
          body: {
            retCode: 0,
            result: {
              list: [
                { symbol: 'BTCUSDT', baseCoin: 'BTC', quoteCoin: 'USDT' },
                { symbol: 'ETHUSDT', baseCoin: 'ETH', quoteCoin: 'USDT' },
              ],
            },
          },
        }),
        '/v5/execution/list': () => ({
          body: {
            retCode: 0,
            result: {
              list: [
                {
                  symbol: 'ETHUSDT',
                  side: 'Buy',
                  orderId: 'o',
                  execId: 'e1',
                  execPrice: '100',
                  execQty: '1',
                  execFee: '',
                  execType: 'Trade',
                  execTime: String(TIME),
                },
              ],
              nextPageCursor: '',
            },
          },
        }),
      },
      'secret',
      'unscanned-symbol',
    );
  });
});
