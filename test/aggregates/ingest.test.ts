/**
 * Ingest page by page (engine.ts, `createIngest`; the aggregates job parses each page of the
 * listing as it is fetched): the same fills added in several pages, in any order the pages
 * bring them, give the byte-identical v3 figures of one call over the listing, and the same
 * refusal at the same bad fill, on whichever page it comes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  computeAggregatesDaily,
  ingestedAggregatesDaily,
} from '../../src/enclave/aggregates/daily.js';
import {
  AggregatesInputError,
  computeAggregates,
  createIngest,
  type AggregatesOptions,
} from '../../src/enclave/aggregates/engine.js';
import { compareFills } from '../../src/enclave/exchanges/fills.js';
import type { Fill } from '../../src/enclave/exchanges/types.js';
import { jcs } from '../../src/protocol/jcs.js';
import { DAY, fill, resetIds, rng, T0 } from './helpers.js';

/**
 * A history listed symbol by symbol (as a per-symbol pager returns it): quote, base and third
 * currency fees, equal timestamps across symbols, and one symbol with 18-decimal amounts (its
 * lots are BigInt, read back from the fills' strings).
 */
function history(seed: number, n: number): Fill[] {
  resetIds();
  const rand = rng(seed);
  const symbols = ['BTC/USDT', 'ETH/USDT', 'SOL/BTC', 'DUST/USDT'];
  const out: Fill[] = [];
  for (const symbol of symbols) {
    const [base, quote] = symbol.split('/') as [string, string];
    let at = 0;
    for (let k = 0; k < n; k++) {
      at += Math.floor(rand() * 3) * 60_000; // some equal timestamps, also across symbols
      const amount =
        base === 'DUST'
          ? `0.${String(1 + Math.floor(rand() * 1e9)).padStart(18, '0')}`
          : (0.001 + rand()).toFixed(4);
      const r = rand();
      const fee: [string, string] | null =
        r < 0.4
          ? ['0.0123', quote]
          : r < 0.6
            ? [base === 'DUST' ? '0.000000000000000001' : '0.0001', base]
            : r < 0.8
              ? ['0.002', 'BNB']
              : null;
      out.push(
        fill({
          side: rand() < 0.5 ? 'buy' : 'sell',
          price: (10 + rand() * 100).toFixed(2),
          amount,
          fee,
          symbol,
          at,
        }),
      );
    }
  }
  return out;
}

/** `fills` cut into pages of these sizes (repeated), so boundaries fall inside symbols' runs. */
function pages(fills: readonly Fill[], sizes: readonly number[]): Fill[][] {
  const out: Fill[][] = [];
  let i = 0;
  for (let k = 0; i < fills.length; k++) {
    const size = sizes[k % sizes.length]!;
    out.push(fills.slice(i, i + size));
    i += size;
  }
  return out;
}

function ingested(pageList: readonly Fill[][], window: AggregatesOptions, opts = window) {
  const ingest = createIngest(window);
  for (const p of pageList) ingest.add(p);
  return ingestedAggregatesDaily(ingest, opts);
}

const WINDOW = { from: T0, to: T0 + 30 * DAY };

describe('aggregates ingest, page by page', () => {
  it('gives the byte-identical v3 figures of one call over the sorted listing', () => {
    const fills = history(7, 300);
    const sorted = [...fills].sort(compareFills);
    const one = jcs(computeAggregatesDaily(sorted, WINDOW));
    for (const sizes of [[1], [7, 1, 50], [299, 2], [1200]]) {
      assert.equal(jcs(ingested(pages(fills, sizes), WINDOW)), one, `pages ${sizes.join(',')}`);
      // Pages in another order (a listing that walks the symbols the other way round).
      const reversed = pages(fills, sizes).reverse();
      assert.equal(jcs(ingested(reversed, WINDOW)), one);
    }
    // With a reporting currency, and no fills at all.
    const btc = { ...WINDOW, reportingCurrency: 'BTC' };
    assert.equal(
      jcs(ingested(pages(fills, [13]), WINDOW, btc)),
      jcs(computeAggregatesDaily(sorted, btc)),
    );
    assert.equal(jcs(ingested([], WINDOW)), jcs(computeAggregatesDaily([], WINDOW)));
  });

  it('is not disturbed by other engine calls between its pages (its columns are its own)', () => {
    const fills = history(8, 200);
    const other = history(9, 400);
    const one = jcs(computeAggregatesDaily([...fills].sort(compareFills), WINDOW));
    const ingest = createIngest(WINDOW);
    for (const p of pages(fills, [33])) {
      ingest.add(p);
      computeAggregates(other, WINDOW);
    }
    assert.equal(jcs(ingestedAggregatesDaily(ingest, WINDOW)), one);
  });

  it('narrows to a later start that cuts no row; else it hands back to the one call', () => {
    const fills = history(10, 100);
    const first = Math.min(...fills.map((f) => f.timestamp));
    const dayOfFirst = { from: Math.floor(first / DAY) * DAY, to: WINDOW.to };
    const wide = { from: WINDOW.from - 5 * DAY, to: WINDOW.to };
    assert.equal(
      jcs(ingested(pages(fills, [17]), wide, dayOfFirst)),
      jcs(computeAggregatesDaily(fills, dayOfFirst)),
    );
    // A start after the first fill would drop rows: null (the job parses the listing instead).
    assert.equal(ingested(pages(fills, [17]), wide, { from: first + 1, to: WINDOW.to }), null);
    // Another end, or an earlier start, is not the ingested window either.
    assert.equal(ingested(pages(fills, [17]), WINDOW, { ...WINDOW, to: WINDOW.to - 1 }), null);
    assert.equal(ingested(pages(fills, [17]), WINDOW, { ...WINDOW, from: WINDOW.from - 1 }), null);
  });

  it('hands back when a symbol’s fills name different base/quote (the first fill’s would win)', () => {
    const fills = history(11, 20);
    const odd = fills.map((f, i) => (i === 5 ? { ...f, base: 'XXX' } : f));
    assert.equal(ingested(pages(odd, [4]), WINDOW), null);
  });

  it('refuses a bad fill on a later page with the one call’s error, and takes nothing after', () => {
    const fills = history(12, 100);
    const bad: [string, (f: Fill) => Fill][] = [
      ['price', (f) => ({ ...f, price: '1e3' })],
      ['amount', (f) => ({ ...f, amount: '0' })],
      ['side', (f) => ({ ...f, side: 'hold' as 'buy' })],
      ['timestamp', (f) => ({ ...f, timestamp: 1.5 })],
      ['symbol', (f) => ({ ...f, symbol: 'NEW/USDT', base: 'NEW', quote: 'usdt' })],
      ['fee', (f) => ({ ...f, fee: { cost: '-1', currency: 'BNB' } })],
      ['fee currency', (f) => ({ ...f, fee: { cost: '1', currency: 'bnb' } })],
    ];
    for (const [what, spoil] of bad) {
      const listing = fills.map((f, i) => (i === 250 ? spoil(f) : f));
      let oneCall: unknown;
      try {
        computeAggregatesDaily(listing, WINDOW);
      } catch (err) {
        oneCall = err;
      }
      assert.ok(oneCall instanceof AggregatesInputError, what);
      let paged: unknown;
      const again = createIngest(WINDOW);
      try {
        for (const p of pages(listing, [40, 3])) again.add(p);
        ingestedAggregatesDaily(again, WINDOW);
      } catch (err) {
        paged = err;
        // A refused ingest takes no more pages and gives no figures.
        assert.throws(() => again.add([]), TypeError);
        assert.throws(() => again.finish(WINDOW), TypeError);
      }
      assert.ok(paged instanceof AggregatesInputError, what);
      assert.equal(paged.message, oneCall.message, what);
    }
  });
});
