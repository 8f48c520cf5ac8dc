/**
 * The engine against the exact reference (reference.ts) on the fake exchange's seeded
 * histories (devtools/fake-exchange: several symbols incl. non-USDT quotes, partial fills,
 * fees in the quote, base and a third currency, fills sharing a millisecond), as each exchange
 * reports them (`expectedFills`), over the whole history and over a window in the middle.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toFill } from '../../devtools/fake-exchange/expected.js';
import { DEFAULT_END_MS, generateAccountFills } from '../../devtools/fake-exchange/generator.js';
import { computeAggregates } from '../../src/enclave/aggregates/engine.js';
import { referenceAggregates } from './reference.js';

const DAY = 86_400_000;

describe('aggregates: fake-exchange histories', () => {
  const generated = generateAccountFills({ seed: 42, fills: 3000, days: 30 });
  for (const exchange of ['binance', 'bybit', 'okx', 'coinbase'] as const) {
    it(`${exchange}: engine = exact reference`, () => {
      const fills = generated.map((f) => toFill(exchange, f));
      const windows = [
        { from: DEFAULT_END_MS - 30 * DAY, to: DEFAULT_END_MS },
        { from: DEFAULT_END_MS - 20 * DAY + 12 * 3_600_000, to: DEFAULT_END_MS - 9 * DAY },
      ];
      for (const w of windows) {
        const a = computeAggregates(fills, w);
        const r = referenceAggregates(fills, w.from, w.to);
        const tol = (mag: number) => 1e-9 * (mag + 1e-3);
        assert.ok(a.trades > 100);
        assert.equal(a.trades, r.trades);
        assert.ok(Math.abs(a.volume - r.volume) <= tol(r.volume));
        assert.ok(Math.abs(a.pnl - r.pnl) <= tol(r.volume), `${a.pnl} vs ${r.pnl}`);
        assert.ok(Math.abs(a.max_drawdown - r.maxDrawdown) <= tol(r.volume));
        assert.ok(Math.abs(a.win_rate! - r.winRate!) <= 1e-9);
        assert.ok(Math.abs(a.sharpe! - r.sharpe!) <= 1e-6 * Math.abs(r.sharpe!));
        for (const [k, v] of Object.entries(r.fees)) assert.ok(Math.abs(a.fees[k]! - v) <= tol(v));
        assert.deepEqual(Object.keys(a.fees_other).sort(), Object.keys(r.feesOther).sort());
        for (const [k, q] of Object.entries(r.byQuote)) {
          assert.equal(a.by_quote[k]!.trades, q.trades);
          assert.ok(Math.abs(a.by_quote[k]!.pnl - q.pnl) <= tol(q.volume));
        }
        for (const [k, s] of Object.entries(r.symbols)) {
          assert.ok(Math.abs(a.symbols[k]!.pnl - s.pnl) <= tol(s.volume), k);
          assert.ok(Math.abs(a.symbols[k]!.position - s.position) <= 1e-9, k);
        }
      }
    });
  }
});
