/**
 * The daily series of a `cloister/aggregates/v3` payload (docs/aggregates.md, "Daily series";
 * docs/protocol/signed-aggregates.md): per UTC day of the window, the cumulative realized PnL
 * at its end, rounded like `pnl`, and that day's PnL as the exact difference of two
 * cumulatives. So the days sum to `pnl` exactly, digit for digit, and the series is computed
 * by the same engine pass as the totals (engine.ts, `dailyCumulative`).
 */
import {
  DAY_MS,
  utcDayName,
  type AggregateFigures,
  type DailyRow,
} from '../../protocol/aggregates.js';
import { plainDecimal, subDecimals } from '../../protocol/decimal-string.js';
import type { Fill } from '../exchanges/types.js';
import {
  aggregateWindow,
  formatFigures,
  runAggregates,
  type AggregatesIngest,
  type AggregatesOptions,
  type AggregatesRun,
} from './engine.js';
import { roundMoney } from './round.js';

/** The signed daily rows of a run, one per UTC day intersecting [from, to). */
export function formatDaily(r: AggregatesRun): DailyRow[] {
  const day0 = Math.floor(r.from / DAY_MS);
  const rows: DailyRow[] = [];
  let previous = '0';
  for (let d = 0; d < r.dailyCumulative.length; d++) {
    // The same rounding as `pnl` (whose magnitude is the window's volume): the last day's
    // cumulative is `pnl` itself.
    const cumulative = plainDecimal(roundMoney(r.dailyCumulative[d]!, r.volume));
    rows.push({ day: utcDayName(day0 + d), pnl: subDecimals(cumulative, previous), cumulative });
    previous = cumulative;
  }
  return rows;
}

/** The figures of a v3 payload: `computeAggregates` plus the daily series, from one run. */
export function computeAggregatesDaily(
  fills: readonly Fill[],
  opts: AggregatesOptions,
): AggregateFigures & { daily: DailyRow[] } {
  return figuresDaily(runAggregates(fills, opts));
}

/**
 * The same figures from fills already ingested page by page (engine.ts, `createIngest`), for
 * the window `opts`; null when the ingest cannot stand for it (see `finish`): then
 * `computeAggregatesDaily` over the fills gives them.
 */
export function ingestedAggregatesDaily(
  ingest: AggregatesIngest,
  opts: AggregatesOptions,
): (AggregateFigures & { daily: DailyRow[] }) | null {
  const w = ingest.finish(opts);
  return w === null ? null : figuresDaily(aggregateWindow(w));
}

function figuresDaily(run: AggregatesRun): AggregateFigures & { daily: DailyRow[] } {
  return { ...formatFigures(run), daily: formatDaily(run) };
}
