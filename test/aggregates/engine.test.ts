/**
 * The aggregate definitions (docs/aggregates.md), one hand-computed case per rule: partial
 * closes, shorts and covering, a fill that closes more than the position and flips it, fees in
 * the quote, the base and a third currency, empty and one-day windows, ties in time ordered by
 * trade id, fills outside the window, symbols not quoted in the reporting currency, rounding.
 */
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import {
  AggregatesInputError,
  computeAggregates,
  createIngest,
  runAggregates,
  windowDays,
} from '../../src/enclave/aggregates/engine.js';
import { roundFigure, roundMoney } from '../../src/enclave/aggregates/round.js';
import {
  giveBack,
  growHeld,
  heldViews,
  holdWorkspace,
  releaseScratch,
  workspace,
} from '../../src/enclave/aggregates/scratch.js';
import { AggregateFiguresSchema } from '../../src/protocol/aggregates.js';
import type { Fill } from '../../src/enclave/exchanges/types.js';
import { buy, DAY, resetIds, sell, T0 } from './helpers.js';

const WEEK = { from: T0, to: T0 + 7 * DAY };
const agg = (
  fills: Fill[],
  opts: Partial<{ from: number; to: number; reportingCurrency: string }> = {},
) => {
  const out = computeAggregates(fills, { ...WEEK, ...opts });
  AggregateFiguresSchema.parse(out); // every result is a valid payload part
  return out;
};

beforeEach(() => resetIds());

describe('aggregates: FIFO realized PnL', () => {
  it('a partial close realizes only the closed quantity', () => {
    const a = agg([buy('100', '2'), sell('110', '0.5')]);
    assert.equal(a.pnl, 5); // (110 − 100) × 0.5
    assert.equal(a.symbols['BTC/USDT']!.position, 1.5);
    assert.equal(a.win_rate, 1);
    assert.equal(a.trades, 2);
    assert.equal(a.volume, 255); // 200 + 55
  });

  it('closes the oldest lots first', () => {
    const a = agg([buy('100', '1'), buy('200', '1'), sell('150', '1')]);
    assert.equal(a.pnl, 50); // closes the lot bought at 100, not the one at 200
    assert.equal(a.symbols['BTC/USDT']!.position, 1);
  });

  it('a sell with no position opens a short that a later buy covers', () => {
    const a = agg([sell('100', '1'), buy('90', '0.4'), buy('120', '0.6')]);
    // 0.4 × (100 − 90) + 0.6 × (100 − 120) = 4 − 12
    assert.equal(a.pnl, -8);
    assert.equal(a.win_rate, 0.5);
    assert.equal(a.symbols['BTC/USDT']!.position, 0);
  });

  it('a fill that closes more than the position flips it', () => {
    const fills = [buy('100', '1'), sell('110', '3'), buy('100', '2')];
    const a = agg(fills);
    // sell closes 1 long (+10) and opens a 2-unit short at 110; the buy covers it (+20).
    assert.equal(a.pnl, 30);
    assert.equal(a.win_rate, 1);
    assert.equal(a.symbols['BTC/USDT']!.position, 0);
    const b = agg(fills.slice(0, 2));
    assert.equal(b.symbols['BTC/USDT']!.position, -2);
    assert.equal(b.pnl, 10);
  });

  it('lots are matched per symbol', () => {
    const a = agg([
      buy('100', '1'),
      buy('10', '1', { symbol: 'ETH/USDT' }),
      sell('12', '1', { symbol: 'ETH/USDT' }),
      sell('90', '1'),
    ]);
    assert.equal(a.symbols['ETH/USDT']!.pnl, 2);
    assert.equal(a.symbols['BTC/USDT']!.pnl, -10);
    assert.equal(a.pnl, -8);
    assert.equal(a.win_rate, 0.5);
  });

  it('quantities are exact: 0.1 + 0.2 bought, 0.3 sold leaves no phantom lot', () => {
    const a = agg([buy('100', '0.1'), buy('100', '0.2'), sell('100', '0.3'), buy('50', '1')]);
    assert.equal(a.symbols['BTC/USDT']!.position, 1);
    assert.equal(a.pnl, 0);
    // Only the sell closed anything (pnl 0: not a win); the last buy opened a lot.
    assert.equal(a.win_rate, 0);
  });
});

describe('aggregates: fees', () => {
  it('a quote fee is realized (−fee) by the fill that pays it, opening or closing', () => {
    const a = agg([
      buy('100', '1', { fee: ['0.1', 'USDT'] }),
      sell('100', '1', { fee: ['0.1', 'USDT'] }),
    ]);
    assert.equal(a.pnl, -0.2);
    assert.deepEqual(a.fees, { USDT: 0.2 });
    assert.deepEqual(a.fees_other, {});
    // The opening buy is not a closing fill; the sell closed with pnl −0.1.
    assert.equal(a.win_rate, 0);
    assert.equal(a.max_drawdown, 0.2);
  });

  it('a base fee on a buy: q − f units for p·q', () => {
    // 0.99 BTC for 100 USDT, sold at 110: 108.9 − 100.
    const a = agg([buy('100', '1', { fee: ['0.01', 'BTC'] }), sell('110', '0.99')]);
    assert.equal(a.pnl, 8.9);
    assert.equal(a.symbols['BTC/USDT']!.position, 0);
    assert.equal(a.volume, 208.9); // raw fills: 100 + 108.9
    assert.deepEqual(a.fees, { BTC: 0.01 });
    assert.deepEqual(a.fees_other, {});
  });

  it('a base fee on a sell: q + f units for p·q', () => {
    // 1 BTC bought for 100; the sell of 0.99 with a 0.01 BTC fee disposes of 1 unit for 108.9.
    const a = agg([buy('100', '1'), sell('110', '0.99', { fee: ['0.01', 'BTC'] })]);
    assert.equal(a.pnl, 8.9);
    assert.equal(a.symbols['BTC/USDT']!.position, 0);
  });

  it('a base fee on a partial close prices the remaining lot at p·q/(q − f)', () => {
    // 1.98 units for 200: unit price 101.0101…; half sold at 110 → 0.99 × (110 − 200/1.98).
    const a = agg([buy('100', '2', { fee: ['0.02', 'BTC'] }), sell('110', '0.99')]);
    assert.ok(Math.abs(a.pnl - 8.9) < 1e-9, String(a.pnl));
    assert.equal(a.symbols['BTC/USDT']!.position, 0.99);
  });

  it('a third-currency fee goes to fees_other only, unconverted', () => {
    const a = agg([
      buy('100', '1', { fee: ['0.001', 'BNB'] }),
      sell('110', '1', { fee: ['0.002', 'BNB'] }),
    ]);
    assert.equal(a.pnl, 10);
    assert.deepEqual(a.fees, { BNB: 0.003 });
    assert.deepEqual(a.fees_other, { BNB: 0.003 });
    assert.deepEqual(a.symbols['BTC/USDT']!.fees, { BNB: 0.003 });
  });

  it('a zero fee still names its currency', () => {
    const a = agg([buy('100', '1', { fee: ['0', 'BNB'] })]);
    assert.deepEqual(a.fees, { BNB: 0 });
  });

  it('refuses a buy whose base fee is not below its amount', () => {
    assert.throws(
      () => agg([buy('100', '1', { fee: ['1', 'BTC'] })]),
      (e: unknown) => e instanceof AggregatesInputError,
    );
  });
});

describe('aggregates: window, order and days', () => {
  it('an empty window', () => {
    const a = agg([]);
    assert.deepEqual(
      { ...a, from: undefined, to: undefined },
      {
        from: undefined,
        to: undefined,
        reporting_currency: 'USDT',
        trades: 0,
        volume: 0,
        pnl: 0,
        sharpe: null,
        max_drawdown: 0,
        win_rate: null,
        fees: {},
        fees_other: {},
        by_quote: {},
        symbols: {},
      },
    );
    assert.equal(a.from, '2026-01-01T00:00:00.000Z');
    assert.equal(a.to, '2026-01-08T00:00:00.000Z');
    const z = agg([buy('1', '1')], { from: T0, to: T0 }); // from = to: nothing is in [from, to)
    assert.equal(z.trades, 0);
  });

  it('fills outside [from, to) are ignored: from is in, to is out', () => {
    const fills = [
      buy('100', '1', { at: -1 }),
      buy('100', '1', { at: 0 }),
      sell('110', '1', { at: DAY }),
      sell('500', '1', { at: 2 * DAY }),
    ];
    const a = agg(fills, { from: T0, to: T0 + 2 * DAY });
    assert.equal(a.trades, 2);
    assert.equal(a.pnl, 10);
  });

  it('a window starts flat: lots opened before from are unknown', () => {
    const a = agg([buy('100', '1', { at: -DAY }), sell('110', '1', { at: 0 })]);
    assert.equal(a.pnl, 0); // the sell opens a short instead of closing a lot
    assert.equal(a.symbols['BTC/USDT']!.position, -1);
    assert.equal(a.win_rate, null);
  });

  it('ties in time are ordered by trade id, numerically when both are integers', () => {
    const fills = [
      buy('100', '1', { at: 0, id: '10' }),
      buy('200', '1', { at: 0, id: '9' }),
      sell('150', '1', { at: 1000, id: '11' }),
    ];
    // Id 9 comes before id 10 (numerically), so the lot at 200 is the oldest: −50.
    assert.equal(agg(fills).pnl, -50);
    assert.equal(agg([...fills].reverse()).pnl, -50);
    // Integer ids longer than 2^53 still compare numerically.
    const big = [
      buy('100', '1', { at: 0, id: '100000000000000000001' }),
      buy('200', '1', { at: 0, id: '99999999999999999999' }),
      sell('150', '1', { at: 1000 }),
    ];
    assert.equal(agg(big).pnl, -50);
    // Non-integer ids compare as strings.
    const str = [
      buy('100', '1', { at: 0, id: 'b' }),
      buy('200', '1', { at: 0, id: 'a' }),
      sell('150', '1'),
    ];
    assert.equal(agg(str).pnl, -50);
  });

  it('input order does not matter', () => {
    const fills = [
      buy('100', '1'),
      sell('120', '2'),
      buy('90', '1'),
      buy('95', '3'),
      sell('99', '2'),
    ];
    assert.deepEqual(agg([...fills].reverse()), agg(fills));
  });

  it('a day is any UTC day that intersects [from, to)', () => {
    assert.equal(windowDays(T0, T0 + DAY), 1);
    assert.equal(windowDays(T0, T0 + DAY + 1), 2);
    assert.equal(windowDays(T0 + DAY / 2, T0 + DAY + DAY / 2), 2);
    assert.equal(windowDays(T0, T0), 0);
    const r = runAggregates(
      [buy('100', '1', { at: DAY / 2 }), sell('110', '1', { at: DAY + 1000 })],
      { from: T0 + DAY / 2, to: T0 + DAY + DAY / 2 },
    );
    assert.deepEqual([...r.daily], [0, 10]);
  });

  it('a one-day window has no Sharpe ratio', () => {
    const a = agg([buy('100', '1'), sell('110', '1')], { from: T0, to: T0 + DAY });
    assert.equal(a.pnl, 10);
    assert.equal(a.sharpe, null);
  });

  it('zero deviation (including all days empty) has no Sharpe ratio', () => {
    assert.equal(agg([buy('100', '1'), buy('110', '1')]).sharpe, null); // no day realized anything
    const same = agg(
      [
        buy('100', '1', { at: 0 }),
        sell('101', '1', { at: 1000 }),
        buy('100', '1', { at: DAY }),
        sell('101', '1', { at: DAY + 1000 }),
      ],
      { from: T0, to: T0 + 2 * DAY },
    );
    assert.equal(same.sharpe, null); // both days +1
    // Equal in exact arithmetic though not in float: 0.1 + 0.2 on one day, 0.3 on the other.
    const noisy = agg(
      [
        sell('100.1', '1', { at: 0 }),
        buy('100', '1', { at: 1 }),
        sell('100.2', '1', { at: 2 }),
        buy('100', '1', { at: 3 }),
        sell('100.3', '1', { at: DAY }),
        buy('100', '1', { at: DAY + 1 }),
      ],
      { from: T0, to: T0 + 2 * DAY },
    );
    assert.equal(noisy.sharpe, null);
  });

  it('Sharpe = mean / sample sd of daily PnL × √365, empty days included', () => {
    const a = agg(
      [
        buy('100', '2', { at: 0 }),
        sell('110', '1', { at: DAY, fee: ['0.5', 'USDT'] }),
        sell('90', '3', { at: 2 * DAY }),
        buy('80', '2', { at: 3 * DAY }),
      ],
      { from: T0, to: T0 + 5 * DAY },
    );
    const days = [0, 9.5, -10, 20, 0];
    const mean = days.reduce((x, y) => x + y) / 5;
    const sd = Math.sqrt(days.reduce((s, x) => s + (x - mean) ** 2, 0) / 4);
    assert.ok(Math.abs(a.sharpe! - (mean / sd) * Math.sqrt(365)) < 1e-9);
    assert.equal(a.pnl, 19.5);
    // Cumulative 0, 9.5, −0.5, 19.5: the fall from 9.5 to −0.5.
    assert.equal(a.max_drawdown, 10);
    assert.equal(a.win_rate, 0.666666666667); // 2 of 3 closing fills, 12 significant digits
  });

  it('the example of docs/aggregates.md', () => {
    const a = agg(
      [
        buy('100', '2', { at: 0 }),
        sell('110', '1', { at: DAY, fee: ['0.5', 'USDT'] }),
        sell('90', '3', { at: 2 * DAY }),
        buy('80', '2', { at: 3 * DAY }),
      ],
      { from: T0, to: T0 + 4 * DAY },
    );
    assert.equal(a.pnl, 19.5);
    assert.equal(a.volume, 740);
    assert.equal(a.max_drawdown, 10);
    assert.equal(a.win_rate, 0.666666666667);
    assert.equal(a.sharpe, 7.24931285832);
    assert.deepEqual(a.fees, { USDT: 0.5 });
    assert.equal(a.symbols['BTC/USDT']!.position, 0);
  });

  it('max_drawdown runs from a peak that starts at 0', () => {
    assert.equal(agg([buy('100', '1'), sell('95', '1')]).max_drawdown, 5);
    const a = agg([
      buy('100', '1'),
      sell('110', '1'),
      buy('100', '1'),
      sell('70', '1'),
      buy('70', '1'),
      sell('75', '1'),
    ]);
    assert.equal(a.pnl, -15); // +10, −30, +5
    assert.equal(a.max_drawdown, 30);
  });
});

describe('aggregates: currencies', () => {
  const fills = () => [
    buy('100', '1'),
    sell('110', '1'),
    buy('0.05', '2', { symbol: 'ETH/BTC', fee: ['0.0001', 'BTC'] }),
    sell('0.06', '1', { symbol: 'ETH/BTC' }),
  ];

  it('symbols not quoted in the reporting currency are reported per quote currency', () => {
    const a = agg(fills());
    assert.equal(a.trades, 4); // every fill counts
    assert.equal(a.volume, 210); // only USDT-quoted fills
    assert.equal(a.pnl, 10);
    assert.equal(a.win_rate, 1); // only USDT-quoted closes
    assert.deepEqual(a.by_quote, { BTC: { trades: 2, volume: 0.16, pnl: 0.0099 } });
    assert.equal(a.symbols['ETH/BTC']!.pnl, 0.0099);
    assert.equal(a.symbols['ETH/BTC']!.position, 1);
    assert.deepEqual(a.fees, { BTC: 0.0001 });
  });

  it('the reporting currency is an option', () => {
    const a = agg(fills(), { reportingCurrency: 'BTC' });
    assert.equal(a.reporting_currency, 'BTC');
    assert.equal(a.pnl, 0.0099);
    assert.equal(a.volume, 0.16);
    assert.deepEqual(a.by_quote, { USDT: { trades: 2, volume: 210, pnl: 10 } });
  });
});

describe('aggregates: rounding and input checks', () => {
  it('numbers are finite, rounded to 12 significant digits, never −0', () => {
    assert.equal(roundFigure(0.1 + 0.2), 0.3);
    assert.ok(Object.is(roundFigure(-0), 0));
    assert.ok(Object.is(roundMoney(-1e-13, 1), 0));
    assert.equal(roundMoney(1e-6, 1), 1e-6);
    assert.throws(() => roundFigure(Number.NaN), RangeError);
    assert.throws(() => roundFigure(Infinity), RangeError);
    // (0.15 − 0.1) + (0.15 − 0.2) is not 0 in float, but is noise relative to the notional.
    assert.notEqual(0.15 - 0.1 + (0.15 - 0.2), 0);
    const a = agg([buy('0.1', '1'), buy('0.2', '1'), sell('0.15', '2')]);
    assert.ok(Object.is(a.pnl, 0));
    assert.ok(Object.is(a.symbols['BTC/USDT']!.position, 0));
    assert.equal(a.win_rate, 0);
  });

  it('reused work buffers leave no trace between calls', () => {
    const big = Array.from({ length: 3000 }, (_, i) =>
      (i % 3 === 0 ? sell : buy)(String(100 + (i % 17)), '0.5', {
        symbol: i % 2 ? 'ETH/USDT' : 'BTC/USDT',
      }),
    );
    const small = [buy('100', '1'), sell('90', '2'), buy('95', '1')];
    const bigFirst = agg(big);
    const smallAfterBig = agg(small);
    releaseScratch();
    assert.deepEqual(agg(small), smallAfterBig);
    assert.deepEqual(agg(big), bigFirst);
    // A result is never a view of the buffers: the next call does not change it.
    const r = runAggregates(small, WEEK);
    const copy = structuredClone(r);
    runAggregates(big, WEEK);
    assert.deepEqual(r, copy);
  });

  it('work buffers keep their rows when grown', () => {
    releaseScratch();
    assert.equal(workspace(10).rec.length, 40);
    let held = holdWorkspace(0);
    let rows = heldViews(held, 3);
    rows.rec.set([1.5, 2, 3, 0]);
    rows.recI[7] = -7;
    rows.ts.set([10, 20, 30]);
    rows.sel.set([4, 5, 6]);
    held = growHeld(held, 5000, 3);
    rows = heldViews(held, 3);
    assert.deepEqual([...rows.rec.subarray(0, 3)], [1.5, 2, 3]);
    assert.equal(rows.recI[7], -7);
    assert.deepEqual([...rows.ts], [10, 20, 30]);
    assert.deepEqual([...rows.sel], [4, 5, 6]);
    giveBack(held);
    releaseScratch();
  });

  it('work buffers dropped by jobs do not pile up in memory', () => {
    // Concurrent jobs' ingests each grow a set of their own and drop it (growHeld, giveBack).
    // The pages are the same objects each round, so only the buffers put pressure on V8: they
    // must be counted as external memory (plain ArrayBuffers), or nothing collects the dropped
    // sets (as SharedArrayBuffers, the bytes held grew by ~27 MB a round here).
    releaseScratch();
    const page = Array.from({ length: 1000 }, (_, i) => buy('100', '1', { at: i * 1000 }));
    let most = 0;
    for (let round = 0; round < 25; round++) {
      const jobs = Array.from({ length: 4 }, () => createIngest({ from: T0, to: T0 + 30 * DAY }));
      for (let p = 0; p < 60; p++) for (const job of jobs) job.add(page);
      for (const job of jobs) job.finish()!.release();
      most = Math.max(most, process.memoryUsage().arrayBuffers);
    }
    releaseScratch();
    // One set of 65536 rows is 3.9 MB; 25 rounds drop ~170 of them.
    assert.ok(most < 200e6, `array buffers held: ${Math.round(most / 1e6)} MB`);
  });

  it('refuses malformed fills and windows with fixed messages', () => {
    const bad: Partial<Fill>[] = [
      { price: '1e3' },
      { price: '-1' },
      { amount: '0' },
      { amount: '1.' },
      { amount: ' 1' },
      { fee: { cost: 'x', currency: 'USDT' } },
      { fee: { cost: '1', currency: 'usdt' } },
      { side: 'hold' as 'buy' },
      { symbol: 'BTCUSDT' },
      { timestamp: 1.5 },
    ];
    for (const b of bad) {
      const f = { ...buy('100', '1', { at: 0 }), ...b };
      assert.throws(
        () => computeAggregates([f], { from: 0, to: T0 + DAY }),
        AggregatesInputError,
        JSON.stringify(b),
      );
    }
    assert.throws(() => computeAggregates([], { from: 2, to: 1 }), AggregatesInputError);
    assert.throws(() => computeAggregates([], { from: 0.5, to: 1 }), AggregatesInputError);
    assert.throws(() => computeAggregates([], { from: -1, to: 1 }), AggregatesInputError);
    assert.throws(
      () => computeAggregates([], { from: 0, to: 1, reportingCurrency: 'usd' }),
      AggregatesInputError,
    );
  });
});
