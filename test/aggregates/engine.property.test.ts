/**
 * Property tests of the aggregates engine (fast-check), and the engine against an independent
 * exact reference (reference.ts: BigInt rationals) on random histories: several symbols, one not
 * quoted in USDT, shorts and flips, fees in the quote, base and a third currency, ties in time,
 * fills outside the window.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { computeAggregatesDaily } from '../../src/enclave/aggregates/daily.js';
import { computeAggregates, runAggregates } from '../../src/enclave/aggregates/engine.js';
import type { Fill } from '../../src/enclave/exchanges/types.js';
import {
  AggregateFiguresSchema,
  dailySeriesProblem,
  type AggregateFigures,
} from '../../src/protocol/aggregates.js';
import { addDecimals, plainDecimal } from '../../src/protocol/decimal-string.js';
import { DAY, T0 } from './helpers.js';
import { referenceAggregates } from './reference.js';

const SYMBOLS = ['BTC/USDT', 'ETH/USDT', 'ETH/BTC'] as const;
const WINDOW = { from: T0, to: T0 + 5 * DAY };

/** `units` × 10^-digits as an exact decimal string. */
function dec(units: number, digits: number): string {
  const s = String(units).padStart(digits + 1, '0');
  return digits === 0 ? s : `${s.slice(0, -digits)}.${s.slice(-digits)}`;
}

interface Spec {
  sym: (typeof SYMBOLS)[number];
  side: 'buy' | 'sell';
  priceUnits: number;
  qtyUnits: number;
  feeKind: 'none' | 'quote' | 'base' | 'other';
  feeRate: number;
  day: number;
  ms: number;
}

const specArb: fc.Arbitrary<Spec> = fc.record({
  sym: fc.constantFrom(...SYMBOLS),
  side: fc.constantFrom('buy' as const, 'sell' as const),
  priceUnits: fc.integer({ min: 1, max: 300_000 }),
  qtyUnits: fc.integer({ min: 1, max: 30_000 }),
  feeKind: fc.constantFrom('none' as const, 'quote' as const, 'base' as const, 'other' as const),
  feeRate: fc.integer({ min: 0, max: 20 }),
  day: fc.integer({ min: -1, max: 5 }),
  ms: fc.integer({ min: 0, max: 3 }),
});

/** Fees proportional to the quantity, so a split fill splits its fee exactly. */
function feeOf(s: Spec, qtyUnits: number): Fill['fee'] {
  const [base, quote] = s.sym.split('/') as [string, string];
  switch (s.feeKind) {
    case 'none':
      return null;
    case 'quote':
      return { cost: dec(qtyUnits * s.feeRate, 6), currency: quote };
    case 'base':
      return { cost: dec(qtyUnits * s.feeRate, 8), currency: base };
    case 'other':
      return { cost: dec(qtyUnits * s.feeRate, 7), currency: 'BNB' };
  }
}

function toFill(s: Spec, id: string, timestamp: number, qtyUnits = s.qtyUnits): Fill {
  const [base, quote] = s.sym.split('/') as [string, string];
  return {
    exchange: 'binance',
    symbol: s.sym,
    base,
    quote,
    id,
    orderId: null,
    side: s.side,
    price: dec(s.priceUnits, quote === 'BTC' ? 6 : 2),
    amount: dec(qtyUnits, 4),
    fee: feeOf(s, qtyUnits),
    timestamp,
  };
}

/** Random histories with ties in time (few distinct ms per day) and fills outside the window. */
const historyArb = fc
  .array(specArb, { maxLength: 60 })
  .map((specs) => specs.map((s, i) => toFill(s, String(i + 1), T0 + s.day * DAY + s.ms * 1000)));

function close(a: number, b: number, magnitude: number, what: string): void {
  assert.ok(Math.abs(a - b) <= 1e-9 * (magnitude + 1e-3), `${what}: ${a} vs ${b}`);
}

function sameFees(a: Record<string, number>, b: Record<string, number>, what: string): void {
  assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort(), what);
  for (const k of Object.keys(a)) close(a[k]!, b[k]!, b[k]!, `${what}.${k}`);
}

/** Equal up to float rounding, except the per-fill counts listed in `skip`. */
function sameFigures(a: AggregateFigures, b: AggregateFigures, skip: ('trades' | 'path')[] = []) {
  const mag = a.volume + Object.values(a.by_quote).reduce((s, q) => s + q.volume, 0);
  if (!skip.includes('trades')) assert.equal(a.trades, b.trades);
  close(a.volume, b.volume, mag, 'volume');
  close(a.pnl, b.pnl, mag, 'pnl');
  if (!skip.includes('path')) {
    close(a.max_drawdown, b.max_drawdown, mag, 'max_drawdown');
    assert.equal(a.win_rate === null, b.win_rate === null);
  }
  assert.equal(a.sharpe === null, b.sharpe === null, 'sharpe null');
  if (a.sharpe !== null) close(a.sharpe, b.sharpe!, 1e3 * Math.abs(b.sharpe!), 'sharpe');
  sameFees(a.fees, b.fees, 'fees');
  sameFees(a.fees_other, b.fees_other, 'fees_other');
  assert.deepEqual(Object.keys(a.by_quote).sort(), Object.keys(b.by_quote).sort());
  for (const [k, q] of Object.entries(a.by_quote)) {
    close(q.volume, b.by_quote[k]!.volume, q.volume, `by_quote.${k}.volume`);
    close(q.pnl, b.by_quote[k]!.pnl, q.volume, `by_quote.${k}.pnl`);
  }
  assert.deepEqual(Object.keys(a.symbols).sort(), Object.keys(b.symbols).sort());
  for (const [k, s] of Object.entries(a.symbols)) {
    const t = b.symbols[k]!;
    if (!skip.includes('trades')) assert.equal(s.trades, t.trades);
    close(s.volume, t.volume, s.volume, `${k}.volume`);
    close(s.pnl, t.pnl, s.volume, `${k}.pnl`);
    close(s.position, t.position, Math.abs(t.position), `${k}.position`);
    sameFees(s.fees, t.fees, `${k}.fees`);
  }
}

describe('aggregates: properties', () => {
  it('buying and selling the same quantity at the same price, no fees, realizes 0', () => {
    const pair = fc.record({
      sym: fc.constantFrom(...SYMBOLS),
      priceUnits: fc.integer({ min: 1, max: 10_000_000 }),
      qtyUnits: fc.integer({ min: 1, max: 10_000_000 }),
      buyFirst: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(pair, { maxLength: 40 }), (pairs) => {
        const fills: Fill[] = [];
        pairs.forEach((p, i) => {
          const s = { ...p, feeKind: 'none', feeRate: 0, day: 0, ms: 0 } as const;
          const first = p.buyFirst ? 'buy' : 'sell';
          const second = p.buyFirst ? 'sell' : 'buy';
          fills.push(toFill({ ...s, side: first }, `${2 * i}`, T0 + i * 60_000));
          fills.push(toFill({ ...s, side: second }, `${2 * i + 1}`, T0 + i * 60_000 + 1));
        });
        const a = computeAggregates(fills, WINDOW);
        assert.ok(Object.is(a.pnl, 0));
        assert.equal(a.max_drawdown, 0);
        for (const s of Object.values(a.symbols)) {
          assert.ok(Object.is(s.pnl, 0) && Object.is(s.position, 0));
        }
        for (const q of Object.values(a.by_quote)) assert.ok(Object.is(q.pnl, 0));
        assert.equal(a.win_rate, pairs.some((p) => p.sym !== 'ETH/BTC') ? 0 : null);
      }),
      { numRuns: 200 },
    );
  });

  it('splitting a fill in two (fee split proportionally) changes nothing but the count', () => {
    const arb = fc
      .array(specArb, { minLength: 1, maxLength: 40 })
      .chain((specs) =>
        fc.tuple(
          fc.constant(specs),
          fc.nat({ max: specs.length - 1 }),
          fc.double({ min: 0.01, max: 0.99, noNaN: true }),
        ),
      );
    fc.assert(
      fc.property(arb, ([specs, k, frac]) => {
        // Distinct timestamps, so the two halves are adjacent in processing order.
        const ts = (i: number) => T0 + Math.max(0, specs[i]!.day) * DAY + i * 10;
        const whole = specs.map((s, i) => toFill(s, String(i + 1), ts(i)));
        const s = specs[k]!;
        fc.pre(s.qtyUnits >= 2);
        const q1 = Math.min(s.qtyUnits - 1, Math.max(1, Math.round(s.qtyUnits * frac)));
        const split = [
          ...whole.slice(0, k),
          toFill(s, String(k + 1), ts(k), q1),
          toFill(s, `${k + 1}b`, ts(k), s.qtyUnits - q1),
          ...whole.slice(k + 1),
        ];
        const a = computeAggregates(whole, WINDOW);
        const b = computeAggregates(split, WINDOW);
        assert.equal(b.trades, a.trades + (whole[k]!.timestamp < WINDOW.to ? 1 : 0));
        // Drawdown and win rate are per fill: a split can add a point to the path.
        sameFigures(b, a, ['trades', 'path']);
        const da = runAggregates(whole, WINDOW).daily;
        const db = runAggregates(split, WINDOW).daily;
        da.forEach((d, i) => close(db[i]!, d, a.volume, `day ${i}`));
      }),
      { numRuns: 200 },
    );
  });

  it('permuting the input changes nothing', () => {
    const arb = historyArb.chain((fills) =>
      fc.tuple(
        fc.constant(fills),
        fc.array(fc.double({ noNaN: true }), { minLength: fills.length, maxLength: fills.length }),
      ),
    );
    fc.assert(
      fc.property(arb, ([fills, keys]) => {
        const shuffled = fills
          .map((f, i) => [keys[i]!, f] as const)
          .sort((x, y) => x[0] - y[0])
          .map(([, f]) => f);
        assert.deepEqual(computeAggregates(shuffled, WINDOW), computeAggregates(fills, WINDOW));
      }),
      { numRuns: 150 },
    );
  });

  it('pnl is the sum of the daily PnL; drawdown ≥ 0; every result fits the schema', () => {
    fc.assert(
      fc.property(historyArb, (fills) => {
        const r = runAggregates(fills, WINDOW);
        const sum = r.daily.reduce((s, d) => s + d, 0);
        close(sum, r.pnl, r.volume, 'Σ daily');
        const a = computeAggregates(fills, WINDOW);
        assert.ok(a.max_drawdown >= 0);
        assert.ok(a.win_rate === null || (a.win_rate >= 0 && a.win_rate <= 1));
        AggregateFiguresSchema.parse(a);
      }),
      { numRuns: 200 },
    );
  });
});

describe('aggregates: engine vs exact reference', () => {
  it('agrees with the BigInt-rational reference on random histories', () => {
    fc.assert(
      fc.property(historyArb, fc.constantFrom('USDT', 'BTC'), (fills, rc) => {
        const a = computeAggregates(fills, { ...WINDOW, reportingCurrency: rc });
        const r = referenceAggregates(fills, WINDOW.from, WINDOW.to, rc);
        const mag = r.volume + Object.values(r.byQuote).reduce((s, q) => s + q.volume, 0);
        assert.equal(a.trades, r.trades);
        close(a.volume, r.volume, mag, 'volume');
        close(a.pnl, r.pnl, mag, 'pnl');
        close(a.max_drawdown, r.maxDrawdown, mag, 'max_drawdown');
        assert.equal(a.win_rate === null, r.winRate === null);
        if (r.winRate !== null) close(a.win_rate!, r.winRate, 1, 'win_rate');
        assert.equal(a.sharpe === null, r.sharpe === null, `sharpe ${a.sharpe} vs ${r.sharpe}`);
        if (r.sharpe !== null) close(a.sharpe!, r.sharpe, 1e3 * Math.abs(r.sharpe), 'sharpe');
        sameFees(a.fees, r.fees, 'fees');
        sameFees(a.fees_other, r.feesOther, 'fees_other');
        assert.deepEqual(Object.keys(a.by_quote).sort(), Object.keys(r.byQuote).sort());
        for (const [k, q] of Object.entries(r.byQuote)) {
          assert.equal(a.by_quote[k]!.trades, q.trades);
          close(a.by_quote[k]!.volume, q.volume, q.volume, `${k} volume`);
          close(a.by_quote[k]!.pnl, q.pnl, q.volume, `${k} pnl`);
        }
        assert.deepEqual(Object.keys(a.symbols).sort(), Object.keys(r.symbols).sort());
        for (const [k, s] of Object.entries(r.symbols)) {
          const e = a.symbols[k]!;
          assert.equal(e.trades, s.trades);
          close(e.volume, s.volume, s.volume, `${k} volume`);
          close(e.pnl, s.pnl, s.volume, `${k} pnl`);
          close(e.position, s.position, Math.abs(s.position), `${k} position`);
          sameFees(e.fees, s.fees, `${k} fees`);
        }
        const daily = runAggregates(fills, { ...WINDOW, reportingCurrency: rc }).daily;
        r.daily.forEach((d, i) => close(daily[i]!, d, mag, `day ${i}`));
      }),
      { numRuns: 300 },
    );
  });

  it('signs a daily series that sums to pnl exactly and follows the reference day by day', () => {
    fc.assert(
      fc.property(historyArb, fc.constantFrom('USDT', 'BTC'), (fills, rc) => {
        const a = computeAggregatesDaily(fills, { ...WINDOW, reportingCurrency: rc });
        assert.deepEqual(
          { ...a, daily: undefined },
          { ...computeAggregates(fills, { ...WINDOW, reportingCurrency: rc }), daily: undefined },
        );
        const r = referenceAggregates(fills, WINDOW.from, WINDOW.to, rc);
        assert.equal(a.daily.length, r.daily.length);
        // Exactly, in decimal: Σ daily pnl = last cumulative = the signed pnl.
        const sum = a.daily.reduce((s, d) => addDecimals(s, d.pnl), '0');
        assert.equal(sum, plainDecimal(a.pnl));
        assert.equal(a.daily.at(-1)!.cumulative, plainDecimal(a.pnl));
        assert.equal(dailySeriesProblem(a), null);
        let cumulative = 0;
        r.daily.forEach((d, i) => {
          cumulative += d;
          close(Number(a.daily[i]!.pnl), d, r.volume, `day ${i} pnl`);
          close(Number(a.daily[i]!.cumulative), cumulative, r.volume, `day ${i} cumulative`);
        });
      }),
      { numRuns: 300 },
    );
  });

  it('agrees on a long history with many open lots and flips (one symbol)', () => {
    fc.assert(
      fc.property(fc.array(specArb, { minLength: 200, maxLength: 400 }), (specs) => {
        const fills = specs.map((s, i) =>
          toFill({ ...s, sym: 'BTC/USDT' }, String(i + 1), T0 + (i % 5) * DAY + i),
        );
        const a = computeAggregates(fills, WINDOW);
        const r = referenceAggregates(fills, WINDOW.from, WINDOW.to);
        close(a.pnl, r.pnl, r.volume, 'pnl');
        close(a.max_drawdown, r.maxDrawdown, r.volume, 'max_drawdown');
        close(a.symbols['BTC/USDT']!.position, r.symbols['BTC/USDT']!.position, 1, 'position');
        assert.equal(
          a.win_rate === null ? null : Math.round(a.win_rate * 1e9),
          r.winRate === null ? null : Math.round(r.winRate * 1e9),
        );
      }),
      { numRuns: 20 },
    );
  });
});
