/**
 * The connectors end to end against the local fake exchange (devtools/fake-exchange: real
 * signature checks over the raw query bytes, the documented paging rules and error codes,
 * rate limits), over the real direct egress transport; and the oracle test: ccxt
 * 4.5.84, pointed at the same fake account (its `urls.api` rewritten, research §2.1, with the
 * §2.5 options so it calls only what it needs, `number = String`, and each exchange's complete
 * paging loop), must return the same trades as our fills, field for field.
 *
 * Server and connector share a virtual clock, so the fake's rate limits (429 + Retry-After)
 * are honoured without real waiting.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import {
  expectedFills,
  startFakeExchange,
  type FakeExchange,
} from '../../devtools/fake-exchange/index.js';
import {
  computeAggregatesDaily,
  ingestedAggregatesDaily,
} from '../../src/enclave/aggregates/daily.js';
import { createIngest } from '../../src/enclave/aggregates/engine.js';
import { compareFills } from '../../src/enclave/exchanges/fills.js';
import { jcs } from '../../src/protocol/jcs.js';
import { createDirectTransport } from '../../src/enclave/egress/direct.js';
import {
  createTradeHistorySource,
  resolveConnector,
} from '../../src/enclave/exchanges/connector.js';
import { RateLimiter, type Clock } from '../../src/enclave/exchanges/rate-limiter.js';
import type { Fill, FillListing } from '../../src/enclave/exchanges/types.js';
import type { Exchange } from '../../src/protocol/credentials.js';
import { EXCHANGE_TABLE } from '../../src/protocol/exchange-table.js';

const DAY = 86_400_000;
const END = Date.UTC(2026, 10, 1);
const KEY = 'e2e-api-key';
const SECRET = 'e2e-secret-NEEDLE';
const PASS = 'e2e-pass';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Ccxt = any;
const ccxtRoot = new URL('../../node_modules/ccxt/js/src/', import.meta.url);
async function ccxtFor(name: string, base: string, opts: object): Promise<Ccxt> {
  const mod = (await import(new URL(`${name}.js`, ccxtRoot).href)) as {
    default: new (o: object) => Ccxt;
  };
  const ex = new mod.default({ enableRateLimit: false, timeout: 10_000, ...opts });
  ex.number = String;
  const rewrite = (o: Record<string, unknown>) => {
    for (const k of Object.keys(o)) {
      const v = o[k];
      if (typeof v === 'string') o[k] = v.replace(/^https?:\/\/[^/]+/, base);
      else if (v && typeof v === 'object') rewrite(v as Record<string, unknown>);
    }
  };
  rewrite(ex.urls.api as Record<string, unknown>);
  return ex;
}

/** Decimal strings compared by value: `65000.10000000` = `65000.1`. */
const dec = (s: string | number | undefined | null) => {
  if (s === undefined || s === null) return '0';
  let t = String(s);
  if (t.includes('.')) t = t.replace(/0+$/, '').replace(/\.$/, '');
  return t.replace(/^0+(?=\d)/, '');
};

interface Row {
  id: string;
  timestamp: number;
  symbol: string;
  side: string;
  price: string;
  amount: string;
  feeCost: string;
  feeCurrency: string | null;
}
const ours = (f: Fill): Row => ({
  id: f.id,
  timestamp: f.timestamp,
  symbol: f.symbol,
  side: f.side,
  price: dec(f.price),
  amount: dec(f.amount),
  feeCost: dec(f.fee?.cost),
  feeCurrency: f.fee ? f.fee.currency : null,
});
const theirs = (t: Ccxt): Row => {
  const zero = dec(t.fee?.cost) === '0';
  return {
    id: String(t.id),
    timestamp: t.timestamp as number,
    symbol: t.symbol as string,
    side: t.side as string,
    price: dec(t.price),
    amount: dec(t.amount),
    feeCost: dec(t.fee?.cost),
    feeCurrency: zero ? null : (t.fee?.currency as string),
  };
};
const byKey = (a: Row, b: Row) =>
  a.timestamp - b.timestamp || a.symbol.localeCompare(b.symbol) || a.id.localeCompare(b.id);

describe('connectors against the fake exchange', () => {
  let fx: FakeExchange;
  const transport = createDirectTransport();
  let vt = Date.now();
  /** The fake server's clock minus ours. */
  let skew = 0;
  const clock: Clock = {
    now: () => vt,
    sleep: async (ms) => {
      vt += ms;
    },
  };
  const listings = new Map<Exchange, FillListing>();
  const from = END - 30 * DAY;
  const to = END + 1;

  before(async () => {
    fx = await startFakeExchange({
      now: () => vt + skew,
      accounts: [
        {
          apiKey: KEY,
          secret: SECRET,
          passphrase: PASS,
          seed: 7,
          fills: 12_000,
          days: 30,
          endMs: END,
        },
        { apiKey: 'revoked-key', secret: 'revoked-secret', passphrase: PASS, revoked: true },
      ],
      limits: {
        bybit: { limit: 100_000, windowMs: 1000 },
        okx: { limit: 100_000, windowMs: 2000 },
        coinbase: { limit: 100_000, windowMs: 1000 },
      },
    });
  });
  after(async () => {
    transport.close();
    await fx.close();
  });

  const make = (
    exchange: Exchange,
    over: Partial<{ apiKey: string; apiSecret: string; limiter: RateLimiter }> = {},
  ) =>
    createTradeHistorySource(exchange, {
      baseUrl: fx.url,
      credentials:
        exchange === 'coinbase'
          ? {
              apiKey: fx.accounts.get(over.apiKey ?? KEY)!.coinbase.keyName,
              apiSecret:
                over.apiSecret ?? fx.accounts.get(over.apiKey ?? KEY)!.coinbase.privateKeyPem,
            }
          : { apiKey: over.apiKey ?? KEY, apiSecret: over.apiSecret ?? SECRET, passphrase: PASS },
      transport,
      clock,
      limiter: over.limiter ?? new RateLimiter(resolveConnector(exchange).profile.policy, clock),
    });

  for (const exchange of ['binance', 'bybit', 'okx', 'coinbase'] as const) {
    it(`${exchange}: every generated fill exactly once, symbols discovered, every request signed`, async () => {
      const before = fx.requests.length;
      // The aggregates job's hook: each page's new fills, parsed into the engine as they come.
      const pages: (readonly Fill[])[] = [];
      const ingest = createIngest({ from, to });
      const l = await make(exchange).listFills({ from, to }, undefined, (page) => {
        pages.push(page);
        ingest.add(page);
      });
      listings.set(exchange, l);
      // The pages hold every listed fill exactly once, and the figures from the ingested pages
      // are byte for byte those of one call over the sorted listing.
      assert.ok(pages.length > 1);
      assert.deepEqual(pages.flat().sort(compareFills), l.fills);
      assert.equal(
        jcs(ingestedAggregatesDaily(ingest, { from, to })),
        jcs(computeAggregatesDaily(l.fills, { from, to })),
      );
      const account = fx.accounts.get(KEY)!;
      const truth = account.fills.filter((f) => f.time >= from && f.time < to);
      assert.equal(l.fills.length, truth.length);
      // Field for field what the fake served (ids and decimal strings exactly as sent).
      assert.deepEqual(
        l.fills,
        expectedFills(exchange, account, { from, to, now: vt }).sort(compareFills),
      );
      assert.equal(new Set(l.fills.map((f) => `${f.symbol}|${f.id}`)).size, l.fills.length);
      assert.deepEqual(
        l.fills.map((f) => f.timestamp),
        truth.map((f) => f.time),
      );
      assert.deepEqual(
        l.symbols,
        ['BNB/USDT', 'BTC/USDT', 'DOGE/USDT', 'ETH/BTC', 'ETH/USDT', 'SOL/USDC'].filter(
          (s) => exchange === 'binance' || l.fills.some((f) => f.symbol === s),
        ),
      );
      const mine = fx.requests.slice(before);
      assert.equal(l.requests, mine.length);
      assert.ok(
        mine.every((r) => r.status === 200),
        'no request was refused',
      );
      assert.equal(l.apiHost, new URL(fx.url).host);
      // The exchange's own account id for this key, as its API reports it (v2 commitment).
      assert.equal(l.accountId, String(account.accountIds[exchange]));
      assert.equal(l.symbolsComplete, exchange !== 'binance');
      // What a requester holds a whole-account result to (client/aggregates/binding.ts).
      assert.equal(l.symbolsComplete, EXCHANGE_TABLE[exchange].accountWideListing);
      // Fees in all three kinds of currency occur.
      const kinds = new Set<string>(
        l.fills.map((f) =>
          f.fee === null
            ? 'none'
            : f.fee.currency === f.quote
              ? 'quote'
              : f.fee.currency === f.base
                ? 'base'
                : 'third',
        ),
      );
      // Bybit and OKX have no third-currency fee, Coinbase charges the quote (the fake's README).
      const want: readonly string[] = {
        binance: ['quote', 'base', 'third'],
        bybit: ['quote', 'base'],
        okx: ['quote', 'base'],
        coinbase: ['quote'],
      }[exchange];
      for (const k of want) assert.ok(kinds.has(k), k);
    });
  }

  for (const exchange of ['binance', 'bybit', 'okx', 'coinbase'] as const) {
    // Coinbase's JWT lives 120 s from our clock: behind by less, it is still good.
    for (const off of [-600_000, exchange === 'coinbase' ? 300_000 : 90_000]) {
      it(`${exchange}: our clock ${off < 0 ? 'ahead of' : 'behind'} the exchange's by ${Math.abs(off / 1000)} s: one sync with its clock, then complete`, async () => {
        skew = off;
        try {
          const before = fx.requests.length;
          const l = await make(exchange).listFills({ from: END - 5 * DAY, to });
          const mine = fx.requests.slice(before);
          const timeCalls = mine.filter((r) => /\/time$/.test(r.path));
          assert.equal(timeCalls.length, 1);
          // Bybit refuses with HTTP 200 and a retCode, the others with 400/401.
          if (exchange !== 'bybit')
            assert.equal(mine.filter((r) => r.status !== 200).length, 1, 'one refused timestamp');
          const account = fx.accounts.get(KEY)!;
          assert.deepEqual(
            l.fills,
            expectedFills(exchange, account, { from: END - 5 * DAY, to, now: vt + skew }).sort(
              compareFills,
            ),
          );
        } finally {
          skew = 0;
        }
      });
    }
  }

  it('binance: a wrong secret and a revoked key are EXCHANGE_KEY_REJECTED', async () => {
    await assert.rejects(make('binance', { apiSecret: 'wrong' }).listFills({ from, to }), {
      code: 'EXCHANGE_KEY_REJECTED',
    });
    await assert.rejects(
      make('binance', { apiKey: 'revoked-key', apiSecret: 'revoked-secret' }).listFills({
        from,
        to,
      }),
      { code: 'EXCHANGE_KEY_REJECTED' },
    );
    await assert.rejects(make('bybit', { apiSecret: 'wrong' }).listFills({ from, to }), {
      code: 'EXCHANGE_KEY_REJECTED',
    });
    await assert.rejects(make('okx', { apiSecret: 'wrong' }).listFills({ from, to }), {
      code: 'EXCHANGE_KEY_REJECTED',
    });
  });

  it('binance: with the fake’s weight limit at 100/min, 429 + Retry-After are honoured and no 418 comes', async () => {
    fx.limiters.binance.limits = { ...fx.limiters.binance.limits, weightPerWindow: 100 };
    fx.limiters.binance.reset();
    try {
      const before = fx.requests.length;
      const l = await make('binance').listFills({
        from: END - 10 * DAY,
        to,
        symbols: ['BTC/USDT', 'ETH/USDT'],
      });
      const mine = fx.requests.slice(before);
      assert.ok(
        mine.some((r) => r.status === 429),
        'the limit was reached',
      );
      assert.ok(!mine.some((r) => r.status === 418), 'never banned');
      const truth = fx.accounts
        .get(KEY)!
        .fills.filter(
          (f) =>
            f.time >= END - 10 * DAY &&
            f.time < to &&
            (f.market === 'BTCUSDT' || f.market === 'ETHUSDT'),
        );
      assert.equal(l.fills.length, truth.length);
    } finally {
      fx.limiters.binance.limits = { ...fx.limiters.binance.limits, weightPerWindow: 6000 };
      fx.limiters.binance.reset();
    }
  });

  it('ccxt oracle, binance: fromId loop per symbol gives the same trades field for field', async () => {
    const ex = await ccxtFor('binance', fx.url, {
      apiKey: KEY,
      secret: SECRET,
      options: { fetchMarkets: { types: ['spot'] }, fetchCurrencies: false, fetchMargins: false },
    });
    ex.milliseconds = () => vt;
    const all: Ccxt[] = [];
    for (const symbol of listings.get('binance')!.symbols) {
      let fromId = 0;
      for (;;) {
        const page: Ccxt[] = await ex.fetchMyTrades(symbol, undefined, 1000, { fromId });
        all.push(...page);
        if (page.length < 1000) break;
        fromId = Number(page[page.length - 1].id) + 1;
      }
    }
    const expected = all
      .filter((t) => t.timestamp >= from && t.timestamp < to)
      .map(theirs)
      .sort(byKey);
    assert.deepEqual(listings.get('binance')!.fills.map(ours).sort(byKey), expected);
  });

  it('ccxt oracle, bybit: 7-day windows × cursor give the same trades field for field', async () => {
    const ex = await ccxtFor('bybit', fx.url, {
      apiKey: KEY,
      secret: SECRET,
      options: { fetchMarkets: { types: ['spot'] } },
      has: { fetchCurrencies: false },
    });
    ex.milliseconds = () => vt;
    const all: Ccxt[] = [];
    for (let w = from; w < to; w += 7 * DAY) {
      let cursor: string | undefined;
      for (;;) {
        const page: Ccxt[] = await ex.fetchMyTrades(undefined, w, 100, {
          type: 'spot',
          until: Math.min(w + 7 * DAY, to) - 1,
          ...(cursor ? { cursor } : {}),
        });
        all.push(...page);
        cursor = page.find((t) => t.info.nextPageCursor)?.info.nextPageCursor as string | undefined;
        if (!cursor) break;
      }
    }
    // ccxt 4.5.84 ignores Bybit's `feeCurrency` (bybit.js parseTrade infers base for a buy and
    // quote for a sell); we read the field. Where the two differ, the oracle is the field as
    // ccxt received it (`info.feeCurrency`); such rows must exist, or this proves nothing.
    let inferred = 0;
    const expected = all
      .filter((t) => t.timestamp >= from && t.timestamp < to)
      .map((t) => {
        const r = theirs(t);
        const served = t.info.feeCurrency as string;
        if (r.feeCurrency !== null && served && served !== r.feeCurrency) {
          inferred++;
          return { ...r, feeCurrency: served };
        }
        return r;
      })
      .sort(byKey);
    assert.ok(inferred > 0 && inferred < expected.length / 2, `inferred: ${inferred}`);
    const got = listings.get('bybit')!.fills.map(ours).sort(byKey);
    assert.deepEqual(got, expected);
  });

  it('ccxt oracle, okx: billId `after` loop gives the same trades field for field', async () => {
    const ex = await ccxtFor('okx', fx.url, {
      apiKey: KEY,
      secret: SECRET,
      password: PASS,
      options: { fetchMarkets: { types: ['spot'] } },
      has: { fetchCurrencies: false },
    });
    ex.milliseconds = () => vt;
    const all: Ccxt[] = [];
    let afterId: string | undefined;
    for (;;) {
      const page: Ccxt[] = await ex.fetchMyTrades(undefined, undefined, 100, {
        instType: 'SPOT',
        ...(afterId ? { after: afterId } : {}),
      });
      all.push(...page);
      if (page.length < 100) break;
      afterId = page
        .map((t) => BigInt(t.info.billId as string))
        .reduce((a, b) => (a < b ? a : b))
        .toString();
    }
    const expected = all
      .filter((t) => t.timestamp >= from && t.timestamp < to)
      .map(theirs)
      .sort(byKey);
    assert.deepEqual(listings.get('okx')!.fills.map(ours).sort(byKey), expected);
  });

  it('ccxt oracle, coinbase: cursor loop gives the same trades field for field', async () => {
    // ccxt keeps the production URL (its JWT `uri` names api.coinbase.com, as the fake checks
    // against the Host it is sent to); a fetchImplementation carries the request to the fake.
    const account = fx.accounts.get(KEY)!;
    const ex = await ccxtFor('coinbase', 'https://api.coinbase.com', {
      apiKey: account.coinbase.keyName,
      secret: account.coinbase.privateKeyPem,
      has: { fetchCurrencies: false },
    });
    ex.milliseconds = () => vt;
    ex.seconds = () => Math.floor(vt / 1000);
    ex.fetchImplementation = (
      url: string,
      init: { method: string; headers: Record<string, string> },
    ) =>
      new Promise((resolve, reject) => {
        const u = new URL(url);
        const req = httpRequest(
          {
            host: '127.0.0.1',
            port: fx.port,
            method: init.method,
            path: `${u.pathname}${u.search}`,
            headers: { ...init.headers, host: u.host },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () =>
              resolve(
                new Response(Buffer.concat(chunks), {
                  status: res.statusCode ?? 500,
                  headers: Object.entries(res.headers).flatMap(([k, v]) =>
                    typeof v === 'string' ? [[k, v] as [string, string]] : [],
                  ),
                }),
              ),
            );
          },
        );
        req.on('error', reject);
        req.end();
      });
    const all: Ccxt[] = [];
    let cursor: string | undefined;
    for (;;) {
      const page: Ccxt[] = await ex.fetchMyTrades(undefined, from, 250, {
        until: to,
        ...(cursor ? { cursor } : {}),
      });
      all.push(...page);
      cursor = page.find((t) => t.info.cursor)?.info.cursor as string | undefined;
      if (!cursor || page.length === 0) break;
    }
    const expected = all
      .filter((t) => t.timestamp >= from && t.timestamp < to)
      .map(theirs)
      .sort(byKey);
    assert.deepEqual(listings.get('coinbase')!.fills.map(ours).sort(byKey), expected);
  });

  it('no recorded request or response leaks the secret in clear', () => {
    for (const r of fx.requests) {
      assert.ok(!r.rawQuery.includes(SECRET) && !JSON.stringify(r.headers).includes(SECRET));
    }
  });
});
