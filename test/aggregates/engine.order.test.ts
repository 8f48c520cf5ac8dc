/**
 * The engine's fast paths give the same result, bit for bit, as any other listing of the same
 * fills: a listing per symbol (matched in input order), one in time order (no sort), and a
 * shuffled one (radix sort, then ties by id and symbol, in runs longer and shorter than the
 * insertion-sort limit). And the bounds of the arithmetic, against the exact reference.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  aggregateWindow,
  AggregatesInputError,
  computeAggregates,
  createIngest,
  runAggregates,
  type AggregatesOptions,
  type AggregatesRun,
} from '../../src/enclave/aggregates/engine.js';
import { compareTie, createRunOrder, processingOrder } from '../../src/enclave/aggregates/order.js';
import { roundFigure } from '../../src/enclave/aggregates/round.js';
import type { Fill } from '../../src/enclave/exchanges/types.js';
import { buy, DAY, rng, sell, T0 } from './helpers.js';
import { referenceAggregates } from './reference.js';

const SYMBOLS = ['BTC/USDT', 'ETH/USDT', 'SOL/USDT', 'ETH/BTC'];

/** Fills over `days`, many on the same millisecond, ids numeric and not, listed per symbol. */
function history(seed: number, n: number, days: number): Fill[] {
  const rand = rng(seed);
  const out: Fill[] = [];
  for (const symbol of SYMBOLS) {
    const [base, quote] = symbol.split('/') as [string, string];
    let t = T0;
    for (let k = 0; k < n; k++) {
      // A third of the fills share their millisecond with the previous one.
      if (rand() > 0.33) t += 1 + Math.floor(rand() * ((days * DAY) / n));
      const r = rand();
      out.push({
        exchange: 'binance',
        symbol,
        base,
        quote,
        id: r < 0.8 ? String(1000 + out.length) : `x${Math.floor(rand() * 50)}`,
        orderId: null,
        side: rand() < 0.5 ? 'buy' : 'sell',
        price: (10 + rand() * 100).toFixed(2),
        amount: (0.001 + rand()).toFixed(rand() < 0.5 ? 3 : 8),
        fee:
          r < 0.4
            ? { cost: (rand() * 0.1).toFixed(6), currency: quote }
            : r < 0.6
              ? { cost: (rand() * 0.0001).toFixed(8), currency: base }
              : r < 0.8
                ? { cost: (rand() * 0.01).toFixed(5), currency: 'BNB' }
                : null,
        timestamp: t,
      });
    }
  }
  return out;
}

function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const rand = rng(seed);
  const a = xs.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/**
 * A run keyed by names, unrounded: currencies and symbols are numbered in the order they are
 * first seen, which depends on the listing; every figure must not.
 */
function canonical(r: AggregatesRun) {
  const byCurrency = (xs: ArrayLike<number>) =>
    Object.fromEntries(r.currencies.map((c, i) => [c, xs[i]]).sort());
  return {
    figures: [r.trades, r.pnl, r.volume, r.maxDrawdown, r.closes, r.wins],
    daily: [...r.daily],
    dailyVolume: [...r.dailyVolume],
    fees: [r.feeTotal, r.feeSeen, r.feeOther, r.feeOtherSeen].map(byCurrency),
    quotes: [r.quoteTrades, r.quoteVolume, r.quotePnl].map(byCurrency),
    symbols: r.symbols
      .map((s) => ({
        ...s,
        quote: r.currencies[s.quote],
        fees: byCurrency(s.fees),
        feeSeen: byCurrency(s.feeSeen),
      }))
      .sort((a, b) => (a.name < b.name ? -1 : 1)),
  };
}

const run = (fills: Fill[], opts: AggregatesOptions) => canonical(runAggregates(fills, opts));

describe('aggregates: every listing of the same fills gives the same run, bit for bit', () => {
  for (const days of [3, 365, 36_000]) {
    it(`per symbol, in time order, shuffled (${days} days)`, () => {
      const perSymbol = history(days, 400, days);
      const window = { from: T0, to: T0 + (days + 1) * DAY };
      const expected = run(perSymbol, window);
      assert.equal(expected.figures[0], perSymbol.length);
      const inTime = perSymbol.slice().sort((a, b) => a.timestamp - b.timestamp);
      assert.deepEqual(run(inTime, window), expected);
      for (const seed of [1, 2, 3])
        assert.deepEqual(run(shuffled(perSymbol, seed), window), expected);
      // Reporting in BTC reads other symbols' figures through the same passes.
      const btc = { ...window, reportingCurrency: 'BTC' };
      assert.deepEqual(run(shuffled(perSymbol, 4), btc), run(perSymbol, btc));
    });
  }

  it('a job ingesting pages orders as it goes (merged runs) and gets the same run', () => {
    const days = 365;
    const perSymbol = history(11, 400, days);
    const window = { from: T0, to: T0 + (days + 1) * DAY };
    const expected = run(perSymbol, window);
    const listings = [
      perSymbol,
      perSymbol.slice().reverse(),
      shuffled(perSymbol, 8),
      perSymbol.slice().sort((a, b) => a.timestamp - b.timestamp),
    ];
    for (const listing of listings) {
      for (const page of [1, 7, 100, 1000, 5000]) {
        const ingest = createIngest(window);
        for (let i = 0; i < listing.length; i += page) ingest.add(listing.slice(i, i + page));
        assert.deepEqual(canonical(aggregateWindow(ingest.finish()!)), expected, `page ${page}`);
      }
    }
  });

  it('a long run of one millisecond is ordered by id, numerically, then by symbol', () => {
    const at = 5000;
    const fills = Array.from({ length: 40 }, (_, i) =>
      (i % 2 ? sell : buy)(String(100 + i), '1', {
        at,
        id: String(40 - i),
        symbol: i % 3 ? 'BTC/USDT' : 'ETH/USDT',
      }),
    );
    const window = { from: T0, to: T0 + DAY };
    const expected = run(fills, window);
    for (const seed of [5, 6, 7]) assert.deepEqual(run(shuffled(fills, seed), window), expected);
    const r = referenceAggregates(fills, window.from, window.to);
    assert.ok(Math.abs(computeAggregates(fills, window).pnl - r.pnl) <= 1e-9 * r.volume);
  });
});

describe('aggregates: at the bounds of the arithmetic', () => {
  const window = { from: T0, to: T0 + 2 * DAY };

  function agrees(fills: Fill[]): void {
    const a = computeAggregates(fills, window);
    const r = referenceAggregates(fills, window.from, window.to);
    const mag = r.volume + Object.values(r.byQuote).reduce((s, q) => s + q.volume, 0);
    assert.ok(Math.abs(a.pnl - r.pnl) <= 1e-12 * mag, `pnl ${a.pnl} vs ${r.pnl}`);
    assert.ok(Math.abs(a.volume - r.volume) <= 1e-12 * mag, `volume ${a.volume} vs ${r.volume}`);
    for (const [k, s] of Object.entries(r.symbols))
      assert.equal(a.symbols[k]!.position, roundFigure(s.position), `${k} position`);
  }

  it('huge prices: beyond 2^53 in digits, Number(s) itself', () => {
    agrees([
      buy('99999999999999999999.99', '2'),
      sell('123456789012345678901.5', '1'),
      sell('88888888888888888888.88', '1', { fee: ['1000000000000.123456', 'USDT'] }),
    ]);
  });

  it('18-decimal quantities stay exact while the largest × 10^18 is below 2^51', () => {
    const fills = [
      buy('2000', '0.000000000000000001'),
      buy('2001', '0.000000000000000002'),
      sell('2002', '0.002000000000000000'),
      buy('1999', '0.001999999999999997', {
        fee: ['0.000000000000000001', 'ETH'],
        symbol: 'ETH/USDT',
      }),
      sell('2003', '0.000000000000000001', { symbol: 'ETH/USDT' }),
    ];
    agrees(fills);
    // Before rounding, to the last unit: 3e-18 bought and 2e-3 sold leave a short of
    // 1.999999999999997e-3; 1.999999999999997e-3 − 1e-18 (base fee) − 1e-18 stay long.
    const position = (s: string) =>
      runAggregates(fills, window).symbols.find((x) => x.name === s)!.position;
    assert.equal(position('BTC/USDT'), -1_999_999_999_999_997 / 1e18);
    assert.equal(position('ETH/USDT'), 1_999_999_999_999_995 / 1e18);
  });

  it('beyond 2^51 units a symbol keeps exact BigInt quantities', () => {
    // 1 × 10^18 ≥ 2^51: float64 cannot hold these units exactly, so BigInt lots do.
    const fills = [
      buy('10', '1.000000000000000001'),
      sell('11', '1'),
      buy('12', '30000000.00000001', { symbol: 'PEPE/USDT', fee: ['0.00000001', 'PEPE'] }),
      sell('13', '10000000', { symbol: 'PEPE/USDT' }),
      sell('9', '20000000.000000001', { symbol: 'PEPE/USDT', fee: ['0.000000001', 'PEPE'] }),
    ];
    agrees(fills);
    const run = runAggregates(fills, window);
    const position = (s: string) => run.symbols.find((x) => x.name === s)!.position;
    assert.equal(position('BTC/USDT'), 1e-18);
    // 30000000.00000001 − 0.00000001 bought, 10000000 + 20000000.000000001 + 0.000000001 sold.
    assert.equal(position('PEPE/USDT'), -0.000000002);
  });

  it('a base fee not below the amount is refused on the BigInt path too', () => {
    assert.throws(
      () =>
        computeAggregates(
          [buy('1', '1.000000000000000001', { fee: ['1.000000000000000001', 'BTC'] })],
          window,
        ),
      (e: unknown) => e instanceof AggregatesInputError,
    );
  });

  it('huge quantities with few digits are exact', () => {
    agrees([
      buy('0.0001', '1000000000000000'),
      sell('0.0002', '999999999999999'),
      sell('0.0003', '1'),
    ]);
  });

  it('a negative fee (a rebate) is refused, with the fixed message', () => {
    for (const cost of ['-0.5', '-0']) {
      assert.throws(
        () => computeAggregates([buy('100', '1', { fee: [cost, 'USDT'] })], window),
        (e: unknown) =>
          e instanceof AggregatesInputError && e.message === 'fill fee is not a decimal',
      );
    }
  });
});

describe('aggregates: processingOrder visits every run of equal timestamps', () => {
  /** Rows in processing order by a plain comparison sort (the definition). */
  function expected(ts: number[], ids: string[], syms: string[]): number[] {
    return ts
      .map((_, j) => j)
      .sort((a, b) => ts[a]! - ts[b]! || compareTie(ids[a]!, syms[a]!, ids[b]!, syms[b]!) || a - b);
  }

  it('runs at the first and last rows, adjacent runs, long and short runs, single rows', () => {
    const rand = rng(17);
    for (let round = 0; round < 40; round++) {
      const m = 1 + Math.floor(rand() * 200);
      // Few distinct timestamps in some rounds (long runs, runs side by side), many in others.
      const spread = round % 2 === 0 ? 1 + Math.floor(rand() * 6) : 1 + Math.floor(rand() * 400);
      const ts = Array.from({ length: m }, () => T0 + Math.floor(rand() * spread));
      const ids = Array.from({ length: m }, () => String(Math.floor(rand() * 1000)));
      const syms = Array.from({ length: m }, () => (rand() < 0.5 ? 'A/USDT' : 'B/USDT'));
      const work = {
        orderA: new Uint32Array(m),
        orderB: new Uint32Array(m),
        tsA: new Float64Array(m),
      };
      const { order, ts: sorted } = processingOrder(
        m,
        { ts: Float64Array.from(ts), id: (j) => ids[j]!, symbol: (j) => syms[j]! },
        work,
      );
      const want = expected(ts, ids, syms);
      assert.deepEqual(Array.from(order), want, `round ${round}`);
      assert.deepEqual(
        Array.from(sorted),
        want.map((j) => ts[j]!),
      );
    }
  });
});

describe('aggregates: the order a job builds as rows arrive (createRunOrder)', () => {
  /** Rows in processing order by a plain comparison sort (the definition). */
  const definition = (ts: number[], ids: string[], syms: string[]): number[] =>
    ts
      .map((_, j) => j)
      .sort((a, b) => ts[a]! - ts[b]! || compareTie(ids[a]!, syms[a]!, ids[b]!, syms[b]!) || a - b);

  it('is the definition’s permutation for runs of every length, ties across runs, any input', () => {
    const rand = rng(23);
    for (let round = 0; round < 200; round++) {
      const m = Math.floor(rand() * 600);
      // Ascending runs of random lengths (one long run, many short ones, or shuffled rows),
      // over few distinct timestamps in some rounds (ties inside and across runs).
      const spread = round % 3 === 0 ? 1 + Math.floor(rand() * 5) : 1 + Math.floor(rand() * 5000);
      const runMax = [1, 3, 50, 600][round % 4]!;
      const ts: number[] = [];
      while (ts.length < m) {
        const n = Math.min(m - ts.length, 1 + Math.floor(rand() * runMax));
        const run = Array.from({ length: n }, () => T0 + Math.floor(rand() * spread));
        ts.push(...run.sort((a, b) => a - b));
      }
      const ids = ts.map(() => (rand() < 0.8 ? String(Math.floor(rand() * 300)) : `x${rand()}`));
      const syms = ts.map(() => (rand() < 0.5 ? 'A/USDT' : 'B/USDT'));
      const tie = (a: number, b: number): number =>
        compareTie(ids[a]!, syms[a]!, ids[b]!, syms[b]!) || a - b;
      const work = {
        ts: new Float64Array(m),
        orderA: new Uint32Array(m),
        orderB: new Uint32Array(m),
        tsA: new Float64Array(m),
      };
      // As the ingest does: each row breaking the order with the row before closes a run.
      const runs = createRunOrder(tie);
      for (let j = 0; j < m; j++) {
        if (j > 0 && (ts[j]! < work.ts[j - 1]! || (ts[j] === work.ts[j - 1] && tie(j - 1, j) > 0)))
          runs.breakBefore(j, work);
        work.ts[j] = ts[j]!;
      }
      const { order, ts: sorted } = runs.finish(m, work);
      const want = definition(ts, ids, syms);
      assert.deepEqual(Array.from(order), want, `round ${round}`);
      assert.deepEqual(
        Array.from(sorted),
        want.map((j) => ts[j]!),
      );
    }
  });
});
