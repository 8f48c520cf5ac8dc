/**
 * The aggregates engine: realized PnL, Sharpe, volume, trades, drawdown, win rate, fees and a
 * per-symbol breakdown of an account's fills in a window [from, to), exactly as defined in
 * docs/aggregates.md (issue 4; ARCHITECTURE.md "Aggregate definitions, to the last detail").
 *
 * Pure and synchronous, no allocation per fill. Four steps, for speed (docs/aggregates.md,
 * "Performance"): parseWindow reads every fill object once into one record per fill (the
 * reused buffers of scratch.ts); processingOrder (order.ts) orders the records (a job's ingest
 * orders them as its pages arrive instead: createRunOrder); matchFifo
 * matches lots per symbol (lots.ts), in input order when each symbol's fills already come in
 * order; aggregateWindow's last pass, in processing order, adds what depends on that order.
 */
import { DAY_MS, windowDays, type AggregateFigures } from '../../protocol/aggregates.js';
import type { Fill } from '../exchanges/types.js';
import { decimalUnits, fitsFloatUnits, readDecimal, toUnits } from './decimal.js';
import { ExactLotQueue, LotQueue } from './lots.js';
import {
  compareIds,
  compareTie,
  createRunOrder,
  processingOrder,
  type Ordered,
  type TimestampScan,
} from './order.js';
import {
  giveBack,
  growHeld,
  heldViews,
  holdWorkspace,
  REC,
  workspace,
  type Workspace,
} from './scratch.js';
import { roundFigure, roundMoney, SNAP_RELATIVE } from './round.js';

/** One UTC day (the protocol's constant, shared with the window rule), and days of a window. */
export { DAY_MS, windowDays };
export const DEFAULT_REPORTING_CURRENCY = 'USDT';
/** Longest window the daily series is built for (a little over 100 years). */
export const MAX_WINDOW_DAYS = 36_600;
/** The earliest and latest instants a window may name (ISO 8601 years 1970..9999). */
const MAX_TIME_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999) + 1;

export interface AggregatesOptions {
  /** Window start, ms since the epoch (inclusive). */
  from: number;
  /** Window end, ms since the epoch (exclusive). */
  to: number;
  /** Currency whose symbols make up `pnl`, `sharpe`, `max_drawdown`, `win_rate`, `volume`. */
  reportingCurrency?: string;
}

/** Input the engine refuses (a connector bug or a nonsensical fill); fixed, data-free messages. */
export class AggregatesInputError extends RangeError {
  override name = 'AggregatesInputError';
}

const CUR_RE = /^[A-Z0-9]{1,20}$/;
const MAX_FEE_CELLS = 2 ** 24;
/** Fee currencies are packed above META_CUR in an int32. */
const MAX_CURRENCIES = 2 ** 20;
/**
 * The meta column: fee currency × META_CUR + fee kind × 2 + buy. Fee kinds: 0 none (then the
 * cost and the currency are 0), FEE_QUOTE, FEE_BASE, FEE_OTHER; the loops test them with bit
 * operations, not branches.
 */
const META_CUR = 16;
const FEE_QUOTE = 1;
const FEE_BASE = 2;
const FEE_OTHER = 3;

/** Everything the matching pass produces, before rounding (tests read the daily series). */
export interface AggregatesRun {
  from: number;
  to: number;
  reportingCurrency: string;
  trades: number;
  /** Reporting-currency figures. */
  pnl: number;
  volume: number;
  maxDrawdown: number;
  closes: number;
  wins: number;
  /** Realized PnL (reporting currency) and volume per UTC day intersecting [from, to). */
  daily: Float64Array;
  dailyVolume: Float64Array;
  /** Per UTC day: the running `pnl` after that day's last fill (the same sum, so the last is `pnl`). */
  dailyCumulative: Float64Array;
  currencies: string[];
  feeTotal: Float64Array;
  feeSeen: Uint8Array;
  feeOther: Float64Array;
  feeOtherSeen: Uint8Array;
  quoteTrades: Float64Array;
  quoteVolume: Float64Array;
  quotePnl: Float64Array;
  symbols: {
    name: string;
    quote: number;
    trades: number;
    volume: number;
    pnl: number;
    position: number;
    fees: Float64Array;
    feeSeen: Uint8Array;
  }[];
}

function checkOptions(opts: AggregatesOptions): string {
  const { from, to } = opts;
  if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 0 || to > MAX_TIME_MS)
    throw new AggregatesInputError('window bounds must be integer ms between 1970 and 9999');
  if (from > to) throw new AggregatesInputError('window start is after its end');
  if (windowDays(from, to) > MAX_WINDOW_DAYS)
    throw new AggregatesInputError('window is longer than MAX_WINDOW_DAYS');
  const rc = opts.reportingCurrency ?? DEFAULT_REPORTING_CURRENCY;
  if (!CUR_RE.test(rc)) throw new AggregatesInputError('invalid reporting currency');
  return rc;
}

function internFeeCurrency(map: Map<string, number>, names: string[], key: string): number {
  const i = intern(map, names, key);
  if (i >= MAX_CURRENCIES) throw new AggregatesInputError('too many fee currencies');
  return i;
}

function intern(map: Map<string, number>, names: string[], key: string): number {
  let i = map.get(key);
  if (i === undefined) {
    i = names.length;
    map.set(key, i);
    names.push(key);
  }
  return i;
}

/** The window's fills as columns (scratch.ts), and what parsing learnt about symbols and currencies. */
export interface ParsedWindow {
  /** The fill of a row's `sel` number (the id and the strings are read from it on rare paths). */
  fillAt: (k: number) => Fill;
  /** Called once the aggregation no longer reads `work` (an ingest gives its buffers back). */
  release: () => void;
  from: number;
  to: number;
  reportingCurrency: string;
  m: number;
  work: Workspace;
  symNames: string[];
  symQuote: string[];
  curIndex: Map<string, number>;
  currencies: string[];
  /** Per symbol: the most fraction digits among amounts and base fees, the largest quantity. */
  symDigits: number[];
  symMaxQty: number[];
  /** Whether each symbol's fills already come in processing order (per-symbol pagers). */
  bySymbolInOrder: boolean;
  /** Whether all fills already come in processing order, and their timestamps' range. */
  scan: TimestampScan;
  /** The processing order, when the ingest built it as the rows arrived (a job's). */
  ordered?: Ordered;
}

/**
 * Step 1, incremental: the fills of a window parsed as they arrive (a job adds each page of the
 * listing as it is fetched), so that after the last page only the aggregation remains. `add`
 * is the one parse path: it validates each fill in [from, to), reads every decimal string once
 * and appends a row to the columns; it throws AggregatesInputError at the fill the one-shot
 * call would refuse. `finish` checks what needs every fill (fee currency names) and hands the
 * columns to `aggregateWindow`, once (the aggregation reuses the timestamp column).
 */
export interface AggregatesIngest {
  add(fills: readonly Fill[]): void;
  /** Rows so far (fills in the window). */
  readonly rows: number;
  /**
   * The parsed window. With `final` (a job whose window is known only after its last page):
   * the same window narrowed to a later start that cuts no row, with its reporting currency;
   * null when the rows cannot stand for that window (a row before its start, or a symbol's
   * fills naming different base/quote, where the first fill's would win): the caller then
   * parses its fills in one call, as before.
   */
  finish(final?: AggregatesOptions): ParsedWindow | null;
  /**
   * Gives the ingest's work buffers back without an aggregation (a job that ends before it: a
   * refused page, a failed or cancelled listing); `add` and `finish` then throw. A no-op once
   * given back (after the aggregation, or again). `finish` gives them back itself when it
   * refuses or returns null.
   */
  release(): void;
}

/**
 * A new ingest of the window `opts`. `size`: the number of fills of a single `add` that is
 * the whole input (`computeAggregates`): the rows then live in the shared work buffers
 * (scratch.ts), valid until the next engine call. Without it (a job, whose pages arrive while
 * other engine calls run) the ingest holds a set of buffers of its own (scratch.ts,
 * `holdWorkspace`), grows it page by page, and gives it back after its aggregation, or when
 * the job ends without one (`release`).
 */
export function createIngest(opts: AggregatesOptions, size?: number): AggregatesIngest {
  const reportingCurrency = checkOptions(opts);
  const { from, to } = opts;
  const shared = size !== undefined;
  // A job's ingest holds a workspace of its own (scratch.ts) until its aggregation is done.
  let held = shared ? undefined : holdWorkspace(0);
  let rows = held ? heldViews(held, held.capacity) : workspace(size!);
  const pages: (readonly Fill[])[] = [];
  const pageStart: number[] = [];
  let added = 0;
  const symIndex = new Map<string, number>();
  const symNames: string[] = [];
  const symBase: string[] = [];
  const symQuote: string[] = [];
  const symQuoteCur: number[] = [];
  /** The base's currency index once a base fee has named it. */
  const symBaseCur: number[] = [];
  const curIndex = new Map<string, number>();
  const currencies: string[] = [];
  const symDigits: number[] = [];
  const symMaxQty: number[] = [];
  const symLastTs: number[] = [];
  const symLastRow: number[] = [];
  const st = {
    m: 0,
    bySymbolInOrder: true,
    /** Whether a symbol's fills name different base/quote (the first fill's are used). */
    partsVary: false,
    // One-entry caches: fills usually repeat the previous fill's symbol and third fee currency.
    lastSymbol: '',
    lastSym: -1,
    lastCurName: '',
    lastCur: -1,
    // The scan processingOrder needs, made here while the timestamps pass by.
    inOrder: true,
    lo: Number.POSITIVE_INFINITY,
    hi: -1,
  };
  let broken = false;
  let finished = false;
  // A job orders its rows as they arrive (most of the merging overlaps the page fetches); the
  // one call sorts them at once (processingOrder's radix sort), which is cheaper in one go.
  const runs = shared
    ? undefined
    : createRunOrder((a, b) => {
        const x = fillAt(sel(a));
        const y = fillAt(sel(b));
        return compareTie(x.id, x.symbol, y.id, y.symbol) || a - b;
      });
  const sel = (row: number): number => rows.sel[row]!;

  const fillAt = (k: number): Fill => {
    if (pages.length === 1) return pages[0]![k]!;
    let a = 0;
    let b = pages.length - 1;
    while (a < b) {
      const mid = (a + b + 1) >> 1;
      if (pageStart[mid]! <= k) a = mid;
      else b = mid - 1;
    }
    return pages[a]![k - pageStart[a]!]!;
  };

  function add(fills: readonly Fill[]): void {
    if (broken || finished) throw new TypeError('ingest: add after a refusal or after finish');
    const n = fills.length;
    if (shared ? pages.length > 0 || n > size : false)
      throw new TypeError('ingest: a shared ingest takes its fills in one add');
    if (n === 0 && !shared) return;
    if (held && st.m + n > held.capacity) {
      held = growHeld(held, st.m + n, st.m);
      rows = heldViews(held, held.capacity);
    }
    const { sel, ts, rec, recI } = rows;
    const base = added;
    pages.push(fills);
    pageStart.push(base);
    added += n;
    broken = true;
    // The loop's state in locals (a closure's variables live in its context, where V8 would
    // box every new double): written back once the page is read.
    let m = st.m;
    let lo = st.lo;
    let hi = st.hi;
    let inOrder = st.inOrder;
    let bySymbolInOrder = st.bySymbolInOrder;
    let partsVary = st.partsVary;
    let lastSymbol = st.lastSymbol;
    let lastSym = st.lastSym;
    let lastCurName = st.lastCurName;
    let lastCur = st.lastCur;
    for (let i = 0; i < n; i++) {
      const f = fills[i]!;
      const t = f.timestamp;
      if (!Number.isSafeInteger(t))
        throw new AggregatesInputError('fill timestamp is not an integer');
      if (t < from || t >= to) continue;
      const j = m++;
      // Still in processing order (time, then id, then symbol)? Ids are read only on ties.
      // (The previous timestamp is read back from its column: kept in a local, V8 boxed it.)
      // A job's ingest also closes the run this row breaks (runs, order.ts `createRunOrder`).
      if (j > 0) {
        const prevT = ts[j - 1]!;
        let breaks = t < prevT;
        if (t === prevT && (inOrder || runs !== undefined)) {
          const prev = fillAt(sel[j - 1]!);
          breaks = compareTie(prev.id, prev.symbol, f.id, f.symbol) > 0;
        }
        if (breaks) {
          inOrder = false;
          runs?.breakBefore(j, rows);
        }
      }
      if (t < lo) lo = t;
      if (t > hi) hi = t;
      sel[j] = base + i;
      ts[j] = t;
      let s = lastSym;
      if (f.symbol !== lastSymbol || s < 0) {
        const known = symIndex.get(f.symbol);
        if (known === undefined) {
          if (f.symbol !== `${f.base}/${f.quote}` || !CUR_RE.test(f.base) || !CUR_RE.test(f.quote))
            throw new AggregatesInputError('fill symbol does not match its base and quote');
          s = intern(symIndex, symNames, f.symbol);
          symBase.push(f.base);
          symQuote.push(f.quote);
          symQuoteCur.push(intern(curIndex, currencies, f.quote));
          symBaseCur.push(-1);
          symDigits.push(0);
          symMaxQty.push(0);
          symLastTs.push(-1);
          symLastRow.push(-1);
        } else s = known;
        lastSymbol = f.symbol;
        lastSym = s;
      }
      // Only the symbol's first fill is checked against its base and quote: does any differ?
      if (!shared && (f.base !== symBase[s] || f.quote !== symQuote[s])) partsVary = true;
      // Is this symbol's sequence still in processing order (time, then id; same symbol)?
      const lt = symLastTs[s]!;
      if (t < lt) bySymbolInOrder = false;
      else if (t === lt && bySymbolInOrder)
        bySymbolInOrder = compareIds(fillAt(sel[symLastRow[s]!]!).id, f.id) <= 0;
      symLastTs[s] = t;
      symLastRow[s] = j;
      let m0: number;
      if (f.side === 'buy') m0 = 1;
      else if (f.side === 'sell') m0 = 0;
      else throw new AggregatesInputError('fill side is neither buy nor sell');
      // Each decimal string is read straight into its column: price, amount, fee cost.
      const r = j * REC;
      if (readDecimal(f.price, rec, r) < 0)
        throw new AggregatesInputError('fill price is not a decimal');
      let digits = readDecimal(f.amount, rec, r + 1);
      const q = rec[r + 1]!;
      if (!(q > 0)) throw new AggregatesInputError('fill amount is not a positive decimal');
      let total = q;
      const fee = f.fee;
      if (fee === null) rec[r + 2] = 0;
      else {
        const costDigits = readDecimal(fee.cost, rec, r + 2);
        if (costDigits < 0) throw new AggregatesInputError('fill fee is not a decimal');
        const cost = rec[r + 2]!;
        const fc = fee.currency;
        let cur: number;
        let kind = FEE_OTHER;
        if (fc === symQuote[s]) {
          kind = FEE_QUOTE;
          cur = symQuoteCur[s]!;
        } else if (fc === symBase[s]) {
          kind = FEE_BASE;
          if (costDigits > digits) digits = costDigits;
          total += cost;
          cur = symBaseCur[s]!;
          if (cur < 0) symBaseCur[s] = cur = internFeeCurrency(curIndex, currencies, fc);
        } else {
          cur = lastCur;
          if (fc !== lastCurName || cur < 0) {
            cur = internFeeCurrency(curIndex, currencies, fc);
            lastCurName = fc;
            lastCur = cur;
          }
        }
        m0 += cur * META_CUR + kind * 2;
      }
      recI[2 * r + 6] = s;
      recI[2 * r + 7] = m0;
      if (digits > symDigits[s]!) symDigits[s] = digits;
      if (total > symMaxQty[s]!) symMaxQty[s] = total;
    }
    Object.assign(st, { m, lo, hi, inOrder, bySymbolInOrder, partsVary });
    Object.assign(st, { lastSymbol, lastSym, lastCurName, lastCur });
    broken = false;
  }

  /**
   * The held workspace back (after the aggregation, or instead of it). The ingest is done:
   * its `rows` are views of a set that another holder may now write.
   */
  function release(): void {
    finished = true;
    if (held) giveBack(held);
    held = undefined;
  }

  function finish(final?: AggregatesOptions): ParsedWindow | null {
    if (broken || finished) throw new TypeError('ingest: finish after a refusal or twice');
    try {
      return parsed(final);
    } catch (err) {
      release();
      throw err;
    }
  }

  function parsed(final: AggregatesOptions | undefined): ParsedWindow | null {
    const { m, lo, hi } = st;
    let window = { from, to, reportingCurrency };
    if (final !== undefined) {
      const rc = checkOptions(final);
      if (final.to !== to || final.from < from || (m > 0 && lo < final.from) || st.partsVary) {
        release();
        return null;
      }
      window = { from: final.from, to, reportingCurrency: rc };
    }
    finished = true;
    for (const c of currencies) {
      if (!CUR_RE.test(c)) throw new AggregatesInputError('fill fee currency');
    }
    return {
      fillAt,
      release,
      ...window,
      m,
      ordered: runs?.finish(m, rows),
      work: held ? heldViews(held, m) : workspace(size!),
      symNames,
      symQuote,
      curIndex,
      currencies,
      symDigits,
      symMaxQty,
      bySymbolInOrder: st.bySymbolInOrder,
      scan: { sorted: st.inOrder, lo: m > 0 ? lo : 0, hi: m > 0 ? hi : 0 },
    };
  }

  return {
    add,
    get rows() {
      return st.m;
    },
    finish,
    release,
  };
}

/**
 * Step 1 in one call: `createIngest` over all the fills at once, in the shared work buffers.
 * The result is valid until the next engine call.
 */
export function parseWindow(fills: readonly Fill[], opts: AggregatesOptions): ParsedWindow {
  const ingest = createIngest(opts, fills.length);
  ingest.add(fills);
  return ingest.finish()!;
}

/** matchFifo's slow path: the fill's units as BigInt, from its strings (rare). */
function matchExact(
  lots: ExactLotQueue,
  f: Fill,
  side: 1 | -1,
  baseFee: boolean,
  p: number,
  scale: number,
  digits: number,
): number {
  let units = decimalUnits(f.amount, digits);
  let unitPrice = p;
  if (baseFee) {
    const qUnits = units;
    const fee = decimalUnits(f.fee!.cost, digits);
    units = side === 1 ? units - fee : units + fee;
    if (units <= 0n) throw new AggregatesInputError('fill base fee is not below its amount');
    unitPrice = (p * Number(qUnits)) / Number(units);
  }
  return lots.match(side, units, unitPrice, scale);
}

/** Per-symbol figures, filled by matchFifo. */
interface SymbolSums {
  scale: Float64Array;
  lots: LotQueue[];
  exactLots: (ExactLotQueue | null)[];
  trades: Float64Array;
  volume: Float64Array;
  pnl: Float64Array;
  fees: Float64Array;
  feeSeen: Uint8Array;
  /** Closing fills, and those with a realized PnL above float noise (SNAP_RELATIVE, round.ts). */
  closes: Float64Array;
  wins: Float64Array;
}

/**
 * Step 3: FIFO lot matching per symbol, in each symbol's processing order: the input order when
 * every symbol's fills already come in order (then the columns are read sequentially), else
 * the global `order`. Lots depend only on their own symbol's sequence, so both give the same
 * result. Leaves each fill's realized PnL in `px`, its notional in `qty` and the closed bit in
 * `meta`, for the pass in global order (sumInOrder).
 */
function matchFifo(w: ParsedWindow, order: Uint32Array, nCur: number): SymbolSums {
  const { m, work } = w;
  const { rec, recI } = work;
  const nSym = w.symNames.length;
  const scale = new Float64Array(nSym);
  // Built by push, not `Array.prototype.map`: map's result is sometimes a holey array, and a
  // second array map at `lots[s]` deoptimized the hot loop below in a job's first large call.
  const lots: LotQueue[] = [];
  // Symbols whose quantities float64 cannot hold as exact integers: BigInt lots instead.
  const exactLots: (ExactLotQueue | null)[] = [];
  for (let s = 0; s < nSym; s++) {
    const digits = w.symDigits[s]!;
    scale[s] = 10 ** digits;
    lots.push(new LotQueue(4));
    exactLots.push(fitsFloatUnits(digits, w.symMaxQty[s]!) ? null : new ExactLotQueue());
  }
  const sTrades = new Float64Array(nSym);
  const sVol = new Float64Array(nSym);
  const sPnl = new Float64Array(nSym);
  const sFees = new Float64Array(nSym * nCur);
  const sFeeSeen = new Uint8Array(nSym * nCur);
  const sCloses = new Float64Array(nSym);
  const sWins = new Float64Array(nSym);
  const inInputOrder = w.bySymbolInOrder;
  for (let k = 0; k < m; k++) {
    const r = (inInputOrder ? k : order[k]!) * REC;
    const p = rec[r]!;
    const q = rec[r + 1]!;
    const cost = rec[r + 2]!;
    const s = recI[2 * r + 6]!;
    const mt = recI[2 * r + 7]!;
    const kind = (mt >> 1) & 3;
    const side = (mt & 1) === 1 ? 1 : -1;
    const sc = scale[s]!;
    const notional = p * q;
    let fillPnl: number;
    let closed: boolean;
    const exact = exactLots[s]!;
    if (exact === null) {
      let units = toUnits(q, sc);
      let unitPrice = p;
      if (kind === FEE_BASE) {
        // A base fee changes the quantity, not the money: p·q buys q − f or sells q + f units.
        const f = toUnits(cost, sc);
        const qUnits = units;
        units = side === 1 ? units - f : units + f;
        if (units <= 0) throw new AggregatesInputError('fill base fee is not below its amount');
        unitPrice = (p * qUnits) / units;
      }
      const lq = lots[s]!;
      fillPnl = lq.match(side, units, unitPrice, sc);
      closed = lq.closed;
    } else {
      fillPnl = matchExact(
        exact,
        w.fillAt(work.sel[r / REC]!),
        side,
        kind === FEE_BASE,
        p,
        sc,
        w.symDigits[s]!,
      );
      closed = exact.closed;
    }
    // Branch-free fee rules (the kind is as good as random from one fill to the next): a quote
    // fee is paid out of the PnL; without a fee the cost is 0 and the currency 0, and adding +0
    // changes no sum (none is −0).
    fillPnl -= cost * (kind & ~(kind >> 1) & 1); // kind === FEE_QUOTE
    const cell = s * nCur + (mt >>> 4);
    sFees[cell] += cost;
    sFeeSeen[cell] |= (kind | (kind >> 1)) & 1; // kind !== FEE_NONE
    sTrades[s]++;
    sVol[s] += notional;
    sPnl[s] += fillPnl;
    rec[r] = fillPnl;
    rec[r + 1] = notional;
    if (closed) {
      sCloses[s]++;
      // Float noise far below any real price tick is not a win (SNAP_RELATIVE, round.ts).
      if (fillPnl > SNAP_RELATIVE * notional) sWins[s]++;
    }
  }
  return {
    scale,
    lots,
    exactLots,
    trades: sTrades,
    volume: sVol,
    pnl: sPnl,
    fees: sFees,
    feeSeen: sFeeSeen,
    closes: sCloses,
    wins: sWins,
  };
}

type InOrderSums = Pick<
  AggregatesRun,
  | 'pnl'
  | 'volume'
  | 'maxDrawdown'
  | 'daily'
  | 'dailyVolume'
  | 'dailyCumulative'
  | 'feeTotal'
  | 'feeSeen'
  | 'feeOther'
  | 'feeOtherSeen'
  | 'quoteTrades'
  | 'quoteVolume'
  | 'quotePnl'
>;

/**
 * Step 4: everything that depends on the processing order (the drawdown path, and the sums in
 * the order they have always been added, so every float result is the same for any listing),
 * one pass over the matched records in that order.
 */
function sumInOrder(
  w: ParsedWindow,
  order: Uint32Array,
  sortedTs: Float64Array,
  symQuoteIdx: readonly number[],
  rcWeight: Float64Array,
): InOrderSums {
  const { m, from, to } = w;
  const { rec, recI } = w.work;
  const nCur = w.currencies.length;
  const feeTotal = new Float64Array(nCur);
  const feeSeen = new Uint8Array(nCur);
  const feeOther = new Float64Array(nCur);
  const feeOtherSeen = new Uint8Array(nCur);
  const qTrades = new Float64Array(nCur);
  const qVol = new Float64Array(nCur);
  const qPnl = new Float64Array(nCur);
  const nDays = windowDays(from, to);
  const day0 = Math.floor(from / DAY_MS);
  const daily = new Float64Array(nDays);
  const dailyVolume = new Float64Array(nDays);
  const dailyCumulative = new Float64Array(nDays).fill(Number.NaN);
  let pnl = 0;
  let volume = 0;
  let peak = 0;
  let maxDd = 0;
  for (let k = 0; k < m; k++) {
    const r = order[k]! * REC;
    const fillPnl = rec[r]!;
    const notional = rec[r + 1]!;
    const s = recI[2 * r + 6]!;
    const mt = recI[2 * r + 7]!;
    // Without a fee the cost is 0 and the currency 0: adding it changes nothing.
    const cur = mt >>> 4;
    const c = rec[r + 2]!;
    const kind = (mt >> 1) & 3;
    // No branch in this loop: its rows are read out of order, and a mispredicted branch would
    // cancel the reads already under way. Adding c × 0 (+0) changes no sum here (none is −0).
    const other = (kind >> 1) & kind & 1; // kind === FEE_OTHER
    feeTotal[cur] += c;
    feeSeen[cur] |= (kind | (kind >> 1)) & 1; // kind !== FEE_NONE
    feeOther[cur] += c * other;
    feeOtherSeen[cur] |= other;
    const qi = symQuoteIdx[s]!;
    qTrades[qi]++;
    qVol[qi] += notional;
    qPnl[qi] += fillPnl;
    const x = rcWeight[s]!;
    const rcPnl = fillPnl * x;
    const rcNotional = notional * x;
    volume += rcNotional;
    pnl += rcPnl;
    peak = Math.max(peak, pnl);
    maxDd = Math.max(maxDd, peak - pnl);
    const d = Math.floor(sortedTs[k]! / DAY_MS) - day0;
    daily[d] += rcPnl;
    dailyVolume[d] += rcNotional;
    dailyCumulative[d] = pnl;
  }
  // A day without fills ends where the previous one did (0 before the first fill).
  for (let d = 0; d < nDays; d++)
    if (Number.isNaN(dailyCumulative[d]!))
      dailyCumulative[d] = d === 0 ? 0 : dailyCumulative[d - 1]!;

  return {
    pnl,
    volume,
    maxDrawdown: maxDd,
    daily,
    dailyVolume,
    dailyCumulative,
    feeTotal,
    feeSeen,
    feeOther,
    feeOtherSeen,
    quoteTrades: qTrades,
    quoteVolume: qVol,
    quotePnl: qPnl,
  };
}

/** Steps 2–4 on a window parsed by `parseWindow` (before any other engine call). */
export function aggregateWindow(w: ParsedWindow): AggregatesRun {
  try {
    return aggregateRows(w);
  } finally {
    w.release();
  }
}

function aggregateRows(w: ParsedWindow): AggregatesRun {
  const { from, to, reportingCurrency: rc, m, work, currencies } = w;
  const nSym = w.symNames.length;
  const nCur = currencies.length;
  // Per-symbol fees are a dense symbol × currency table: real accounts have at most a few
  // thousand symbols and a few hundred currencies, far below this bound (~150 MB).
  if (nSym * nCur > MAX_FEE_CELLS) throw new AggregatesInputError('too many symbols × currencies');

  // 2. Processing order (a job's ingest built it already).
  const { order, ts: sortedTs } =
    w.ordered ??
    processingOrder(
      m,
      {
        ts: work.ts,
        id: (j) => w.fillAt(work.sel[j]!).id,
        symbol: (j) => w.fillAt(work.sel[j]!).symbol,
        scan: w.scan,
      },
      work,
    );

  // 3. Lots, per symbol.
  const sums = matchFifo(w, order, nCur);

  // 4. What depends on the processing order.
  // By push, not `map`, for the same reason as `lots` (matchFifo): one array map in the loop.
  const symQuoteIdx: number[] = [];
  for (const q of w.symQuote) symQuoteIdx.push(w.curIndex.get(q)!);
  // 1 for the reporting currency's symbols, else 0: a multiplier, so the loop has no branch
  // there (adding +0 changes no sum: no sum here is ever −0).
  const rcWeight = new Float64Array(nSym);
  let closes = 0;
  let wins = 0;
  for (let s = 0; s < nSym; s++) {
    if (w.symQuote[s] !== rc) continue;
    rcWeight[s] = 1;
    closes += sums.closes[s]!;
    wins += sums.wins[s]!;
  }
  const inOrder = sumInOrder(w, order, sortedTs, symQuoteIdx, rcWeight);

  return {
    from,
    to,
    reportingCurrency: rc,
    trades: m,
    ...inOrder,
    closes,
    wins,
    currencies,
    symbols: w.symNames.map((name, s) => ({
      name,
      quote: symQuoteIdx[s]!,
      trades: sums.trades[s]!,
      volume: sums.volume[s]!,
      pnl: sums.pnl[s]!,
      position: (sums.exactLots[s] ?? sums.lots[s]!).position() / sums.scale[s]!,
      fees: sums.fees.subarray(s * nCur, (s + 1) * nCur),
      feeSeen: sums.feeSeen.subarray(s * nCur, (s + 1) * nCur),
    })),
  };
}

/** Everything the figures are made of, before rounding (tests read the daily series). */
export function runAggregates(fills: readonly Fill[], opts: AggregatesOptions): AggregatesRun {
  return aggregateWindow(parseWindow(fills, opts));
}

/**
 * Sharpe ratio of the daily series: mean / sample standard deviation × √365; null with fewer
 * than two days or no deviation. Days are first rounded like every money figure, so days equal
 * in exact arithmetic compare equal here too.
 */
export function dailySharpe(daily: Float64Array, dailyVolume: Float64Array): number | null {
  const n = daily.length;
  if (n < 2) return null;
  const x = new Float64Array(n);
  let sum = 0;
  let allEqual = true;
  for (let d = 0; d < n; d++) {
    x[d] = roundMoney(daily[d]!, dailyVolume[d]!);
    sum += x[d]!;
    if (x[d] !== x[0]) allEqual = false;
  }
  if (allEqual) return null;
  const mean = sum / n;
  let ss = 0;
  for (let d = 0; d < n; d++) ss += (x[d]! - mean) ** 2;
  const sd = Math.sqrt(ss / (n - 1));
  if (!(sd > 0)) return null;
  return roundFigure((mean / sd) * Math.sqrt(365));
}

function feeMap(
  names: readonly string[],
  sums: Float64Array,
  seen: Uint8Array,
): Record<string, number> {
  const out: Record<string, number> = {};
  names.forEach((c, i) => {
    if (seen[i]) out[c] = roundFigure(sums[i]!);
  });
  return out;
}

/** The figures as signed: rounded (round.ts), finite, no −0. */
export function formatFigures(r: AggregatesRun): AggregateFigures {
  const by_quote: AggregateFigures['by_quote'] = {};
  r.currencies.forEach((c, i) => {
    if (c === r.reportingCurrency || r.quoteTrades[i] === 0) return;
    const vol = r.quoteVolume[i]!;
    by_quote[c] = {
      trades: r.quoteTrades[i]!,
      volume: roundFigure(vol),
      pnl: roundMoney(r.quotePnl[i]!, vol),
    };
  });
  const symbols: AggregateFigures['symbols'] = {};
  for (const s of r.symbols) {
    symbols[s.name] = {
      trades: s.trades,
      volume: roundFigure(s.volume),
      pnl: roundMoney(s.pnl, s.volume),
      fees: feeMap(r.currencies, s.fees, s.feeSeen),
      position: roundFigure(s.position),
    };
  }
  return {
    from: new Date(r.from).toISOString(),
    to: new Date(r.to).toISOString(),
    reporting_currency: r.reportingCurrency,
    trades: r.trades,
    volume: roundFigure(r.volume),
    pnl: roundMoney(r.pnl, r.volume),
    sharpe: dailySharpe(r.daily, r.dailyVolume),
    max_drawdown: roundMoney(r.maxDrawdown, r.volume),
    win_rate: r.closes === 0 ? null : roundFigure(r.wins / r.closes),
    fees: feeMap(r.currencies, r.feeTotal, r.feeSeen),
    fees_other: feeMap(r.currencies, r.feeOther, r.feeOtherSeen),
    by_quote,
    symbols,
  };
}

/** The aggregates of `fills` over [opts.from, opts.to), as defined in docs/aggregates.md. */
export function computeAggregates(
  fills: readonly Fill[],
  opts: AggregatesOptions,
): AggregateFigures {
  return formatFigures(runAggregates(fills, opts));
}
