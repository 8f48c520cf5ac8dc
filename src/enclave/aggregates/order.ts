/**
 * The order fills are processed in (docs/aggregates.md, "Order"): by timestamp, then by the
 * exchange's trade id — numerically when both ids are integers (decimal digit strings, of any
 * length), else by UTF-16 code units, integer ids before non-integer ones so the order is total —
 * then by symbol (Binance trade ids are unique per symbol only). Input order decides only
 * between fills equal in all three, which a correct connector never returns.
 */

import type { Workspace } from './scratch.js';

/** A digit-only id of at most 15 digits as a number (exact), else NaN: the fast path. */
export function smallIntId(s: string): number {
  const n = s.length;
  if (n === 0 || n > 15) return Number.NaN;
  let v = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return Number.NaN;
    v = v * 10 + c;
  }
  return v;
}

function isDigits(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

function cmpStr(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Total order on trade ids: integers numerically (then by spelling), then the rest. */
export function compareTradeIds(a: string, b: string): number {
  const ai = isDigits(a);
  const bi = isDigits(b);
  if (ai && bi) {
    const x = a.replace(/^0+(?=.)/, '');
    const y = b.replace(/^0+(?=.)/, '');
    if (x.length !== y.length) return x.length - y.length;
    return cmpStr(x, y) || cmpStr(a, b);
  }
  if (ai !== bi) return ai ? -1 : 1;
  return cmpStr(a, b);
}

/** The tie order of two ids: the fast path for small integers, else compareTradeIds. */
export function compareIds(a: string, b: string): number {
  const x = smallIntId(a);
  const y = smallIntId(b);
  // Both small integers and different: numeric order (NaN fails `x === x`).
  if (x === x && y === y && x !== y) return x - y;
  return compareTradeIds(a, b);
}

/** The tie order of two fills with equal timestamps (without the row): id, then symbol. */
export function compareTie(aId: string, aSymbol: string, bId: string, bSymbol: string): number {
  return compareIds(aId, bId) || cmpStr(aSymbol, bSymbol);
}

/** What one pass over the timestamps learnt (parseWindow computes it while it reads them). */
export interface TimestampScan {
  /** Whether the rows already come in processing order. */
  sorted: boolean;
  /** Smallest and largest timestamp (any values with lo ≤ every timestamp ≤ hi will do). */
  lo: number;
  hi: number;
}

export interface OrderKeys {
  /** Timestamps, one per row; used as a work buffer (its contents are lost). */
  readonly ts: Float64Array;
  readonly id: (j: number) => string;
  readonly symbol: (j: number) => string;
  /** The scan of `ts`, if the caller made it; else processingOrder makes it. */
  readonly scan?: TimestampScan;
}

export interface Ordered {
  /** Rows in processing order. */
  order: Uint32Array;
  /** The timestamps in that order. */
  ts: Float64Array;
}

/** Bits per radix digit: 4096 counters, which stay in the L1/L2 cache while rows scatter. */
const MAX_DIGIT_BITS = 12;
/** Ties longer than this are sorted by Array.prototype.sort instead of insertion. */
const INSERTION_MAX = 16;

/**
 * The rows 0..m-1 in processing order. An input already in order costs one linear check.
 * Otherwise an LSD radix sort on the timestamp (stable, no comparisons, so no mispredicted
 * branches: a window of a year needs 35 bits, 3 passes of 12) and then, within each run of
 * equal timestamps, a sort by the tie order (id, symbol, row). The order is total (the row
 * breaks every tie), so it is unique: any correct sort gives this permutation.
 */
export function processingOrder(
  m: number,
  k: OrderKeys,
  work: Pick<Workspace, 'orderA' | 'orderB' | 'tsA'>,
): Ordered {
  // Ids are read only on timestamp ties, so the common case never touches the id strings.
  const tie = (a: number, b: number): number =>
    compareTie(k.id(a), k.symbol(a), k.id(b), k.symbol(b)) || a - b;
  const ts = k.ts.subarray(0, m);
  const { sorted, lo, hi } = k.scan ?? scanTimestamps(m, ts, tie);
  let order = work.orderA.subarray(0, m);
  if (sorted) {
    for (let j = 0; j < m; j++) order[j] = j;
    return { order, ts };
  }

  // Radix passes over the offset t − lo (an integer below 2^53), low digit first.
  let bits = 1;
  while (2 ** bits <= hi - lo) bits++;
  const passes = Math.ceil(bits / MAX_DIGIT_BITS);
  const digitBits = Math.ceil(bits / passes);
  const radix = 1 << digitBits;
  const mask = radix - 1;
  const count = new Uint32Array(passes * radix);
  // Digit p of x is ((x · 2^-(p·digitBits)) >>> 0) & mask: the product is exact, and `>>> 0`
  // floors it and keeps its low 32 bits, of which we need fewer (no division per digit).
  const inv = new Float64Array(passes);
  for (let p = 0; p < passes; p++) inv[p] = 2 ** -(p * digitBits);
  for (let j = 0; j < m; j++) {
    const x = ts[j]! - lo;
    for (let p = 0; p < passes; p++) count[p * radix + (((x * inv[p]!) >>> 0) & mask)]++;
  }
  // Counts to start offsets.
  for (let p = 0; p < passes; p++) {
    let sum = 0;
    for (let b = p * radix; b < (p + 1) * radix; b++) {
      const c = count[b]!;
      count[b] = sum;
      sum += c;
    }
  }
  let src = ts;
  let dst = work.tsA.subarray(0, m);
  let dstOrder = work.orderB.subarray(0, m);
  for (let p = 0; p < passes; p++) {
    const base = p * radix;
    const f = inv[p]!;
    // The first pass reads the rows in input order: row j is j (no identity array to read).
    const first = p === 0;
    for (let j = 0; j < m; j++) {
      const t = src[j]!;
      const b = base + ((((t - lo) * f) >>> 0) & mask);
      const o = count[b]!;
      count[b] = o + 1;
      dst[o] = t;
      dstOrder[o] = first ? j : order[j]!;
    }
    [src, dst] = [dst, src];
    [order, dstOrder] = [dstOrder, order];
  }

  // Runs of equal timestamps, still in row order (the sort is stable): order them by the tie.
  // First a scan without a branch lists the rows that continue a run (in the order buffer the
  // passes left free), then only those runs are visited. The pass over all rows so has no path
  // that only ties take: short runs are rare in small calls, so such a path had no type
  // feedback from earlier calls, and the first one deoptimized the pass over 10^6 rows mid-way.
  const cont = dstOrder;
  let nCont = 0;
  for (let j = 1; j < m; j++) {
    cont[nCont] = j;
    nCont += src[j] === src[j - 1] ? 1 : 0;
  }
  for (let q = 0; q < nCont;) {
    const a = cont[q]! - 1;
    let b = cont[q]! + 1;
    q++;
    while (q < nCont && cont[q] === b) {
      b++;
      q++;
    }
    if (b - a > INSERTION_MAX) {
      const run = Array.from(order.subarray(a, b)).sort(tie);
      order.set(run, a);
    } else {
      for (let i = a + 1; i < b; i++) {
        const x = order[i]!;
        let h = i - 1;
        while (h >= a && tie(order[h]!, x) > 0) {
          order[h + 1] = order[h]!;
          h--;
        }
        order[h + 1] = x;
      }
    }
  }
  return { order, ts: src };
}

/** Whether rows 0..m-1 are in processing order (`tie` orders equal timestamps), and their range. */
export function scanTimestamps(
  m: number,
  ts: Float64Array,
  tie: (a: number, b: number) => number,
): TimestampScan {
  let sorted = true;
  let lo = m > 0 ? ts[0]! : 0;
  let hi = lo;
  for (let j = 1; j < m; j++) {
    const t = ts[j]!;
    const d = ts[j - 1]! - t;
    if (d > 0 || (d === 0 && sorted && tie(j - 1, j) > 0)) sorted = false;
    if (t < lo) lo = t;
    else if (t > hi) hi = t;
  }
  return { sorted, lo, hi };
}

/**
 * The processing order built while a job's rows arrive, page by page (engine.ts, `createIngest`):
 * a natural merge sort. The rows come in runs already in processing order (a per-symbol pager
 * lists each symbol's fills in order); each run is closed where the next row breaks it and
 * merged with its neighbours as TimSort's stack rules say (run lengths shrink geometrically up
 * the stack), so most merging overlaps the network waits between pages and what remains after
 * the last page is a few merges of about m rows in all, instead of a radix sort of every row.
 * Same total order as `processingOrder` (time, then `tie`, then row), so the same permutation.
 *
 * Layout in the ingest's buffers: positions [0, open) hold the closed runs, each in order, as
 * `ts` (timestamps by position) and `orderA` (rows by position); positions from `open` on are
 * the open run's rows in arrival order (position = row), so the ingest can still read the
 * previous row's timestamp at `ts[j − 1]`. Merges use `orderB` and `tsA` as temporary space.
 */
export interface RunOrder {
  /** Row `j` breaks the open run (it is not in order after row j − 1): close the run before it. */
  breakBefore(j: number, work: RunWork): void;
  /** All `m` rows in processing order (positions of `ts` and `orderA`). */
  finish(m: number, work: RunWork): Ordered;
}

export type RunWork = Pick<Workspace, 'ts' | 'orderA' | 'orderB' | 'tsA'>;

/** `tie(a, b)`: the order of rows a ≠ b with equal timestamps (id, symbol, then a − b). */
export function createRunOrder(tie: (a: number, b: number) => number): RunOrder {
  const start: number[] = [];
  const len: number[] = [];
  let open = 0;

  /** Merges runs i and i + 1 (adjacent) into run i. */
  function mergeAt(i: number, w: RunWork): void {
    const s = start[i]!;
    const mid = s + len[i]!;
    const e = mid + len[i + 1]!;
    len[i] = e - s;
    start.splice(i + 1, 1);
    len.splice(i + 1, 1);
    const { ts, orderA: ord } = w;
    // (x at position p) comes after (y at position q)?
    const after = (tp: number, rp: number, tq: number, rq: number): boolean =>
      tp > tq || (tp === tq && tie(rp, rq) > 0);
    // Already in order across the boundary (runs of one symbol split by a page boundary, say).
    if (!after(ts[mid - 1]!, ord[mid - 1]!, ts[mid]!, ord[mid]!)) return;
    // A's rows that come before B's first stay where they are (binary search).
    const t0 = ts[mid]!;
    const r0 = ord[mid]!;
    let lo = s;
    let hi = mid - 1; // ts[mid − 1] comes after B's first
    while (lo < hi) {
      const h = (lo + hi) >>> 1;
      if (after(ts[h]!, ord[h]!, t0, r0)) hi = h;
      else lo = h + 1;
    }
    // A's rest to the temporary space, then merged with B into place (B's rows move only down,
    // never past a row of B not yet read).
    const na = mid - lo;
    const tmpTs = w.tsA;
    const tmpOrd = w.orderB;
    tmpTs.set(ts.subarray(lo, mid));
    tmpOrd.set(ord.subarray(lo, mid));
    let pa = 0;
    let pb = mid;
    let out = lo;
    while (pa < na && pb < e) {
      const ta = tmpTs[pa]!;
      const tb = ts[pb]!;
      if (tb < ta || (tb === ta && tie(ord[pb]!, tmpOrd[pa]!) < 0)) {
        ts[out] = tb;
        ord[out] = ord[pb]!;
        pb++;
      } else {
        ts[out] = ta;
        ord[out] = tmpOrd[pa]!;
        pa++;
      }
      out++;
    }
    if (pa < na) {
      ts.set(tmpTs.subarray(pa, na), out);
      ord.set(tmpOrd.subarray(pa, na), out);
    }
  }

  /** Closes the open run [open, end) and restores the stack rules (TimSort's mergeCollapse). */
  function close(end: number, w: RunWork): void {
    if (end === open) return;
    for (let p = open; p < end; p++) w.orderA[p] = p;
    start.push(open);
    len.push(end - open);
    open = end;
    for (let n = len.length; n > 1; n = len.length) {
      let i = n - 2;
      if (
        (i > 0 && len[i - 1]! <= len[i]! + len[i + 1]!) ||
        (i > 1 && len[i - 2]! <= len[i - 1]! + len[i]!)
      ) {
        if (len[i - 1]! < len[i + 1]!) i--;
      } else if (len[i]! > len[i + 1]!) break;
      mergeAt(i, w);
    }
  }

  return {
    breakBefore: close,
    finish(m, w) {
      close(m, w);
      // The rest of the stack, top down (TimSort's mergeForceCollapse).
      for (let n = len.length; n > 1; n = len.length) {
        let i = n - 2;
        if (i > 0 && len[i - 1]! < len[i + 1]!) i--;
        mergeAt(i, w);
      }
      return { order: w.orderA.subarray(0, m), ts: w.ts.subarray(0, m) };
    },
  };
}
