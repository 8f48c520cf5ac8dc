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

export interface OrderKeys {
  readonly ts: Float64Array;
  readonly id: (j: number) => string;
  readonly symbol: (j: number) => string;
}

/**
 * The positions 0..m-1 in processing order: a natural merge sort (stable) over the ascending
 * runs already present. An input in order costs one linear check; one listed symbol by symbol
 * (k sorted runs, as per-symbol pagers return fills) costs log2(k) merge passes; the common
 * comparison (different timestamps) is inlined, the full order is consulted only on ties.
 */
export interface Ordered {
  /** Positions in processing order. */
  order: Uint32Array;
  /** The timestamps in that order (moved with the positions, so the merge reads sequentially). */
  ts: Float64Array;
}

export function processingOrder(
  m: number,
  k: OrderKeys,
  work: Pick<Workspace, 'orderA' | 'orderB' | 'tsA' | 'tsB'>,
): Ordered {
  // Ids are read only on timestamp ties, so the common case never touches the id strings.
  const tie = (a: number, b: number): number => {
    const ia = k.id(a);
    const ib = k.id(b);
    const x = smallIntId(ia);
    const y = smallIntId(ib);
    // Both small integers and different: numeric order (NaN fails `x === x`).
    if (x === x && y === y && x !== y) return x - y;
    return compareTradeIds(ia, ib) || cmpStr(k.symbol(a), k.symbol(b)) || a - b;
  };
  let src = work.orderA.subarray(0, m);
  for (let j = 0; j < m; j++) src[j] = j;
  let srcTs: Float64Array = k.ts.subarray(0, m);
  // Run starts, then m as a sentinel.
  const starts: number[] = [0];
  for (let j = 1; j < m; j++) {
    const d = srcTs[j - 1]! - srcTs[j]!;
    if (d > 0 || (d === 0 && tie(j - 1, j) > 0)) starts.push(j);
  }
  if (m === 0 || starts.length === 1) return { order: src, ts: srcTs };
  starts.push(m);
  let dst = work.orderB.subarray(0, m);
  work.tsA.set(srcTs); // the caller's array stays as it was
  srcTs = work.tsA.subarray(0, m);
  let dstTs = work.tsB.subarray(0, m);
  let runs = starts;
  while (runs.length > 2) {
    const next: number[] = [];
    for (let r = 0; r + 1 < runs.length; r += 2) {
      const lo = runs[r]!;
      const mid = runs[r + 1]!;
      const hi = r + 2 < runs.length ? runs[r + 2]! : mid;
      next.push(lo);
      let i = lo;
      let j = mid;
      let o = lo;
      while (i < mid && j < hi) {
        const ta = srcTs[i]!;
        const tb = srcTs[j]!;
        // Take from the right run only when strictly earlier: stability keeps input order.
        if (tb < ta || (tb === ta && tie(src[j]!, src[i]!) < 0)) {
          dstTs[o] = tb;
          dst[o++] = src[j++]!;
        } else {
          dstTs[o] = ta;
          dst[o++] = src[i++]!;
        }
      }
      while (i < mid) {
        dstTs[o] = srcTs[i]!;
        dst[o++] = src[i++]!;
      }
      while (j < hi) {
        dstTs[o] = srcTs[j]!;
        dst[o++] = src[j++]!;
      }
    }
    next.push(m);
    runs = next;
    [src, dst] = [dst, src];
    [srcTs, dstTs] = [dstTs, srcTs];
  }
  return { order: src, ts: srcTs };
}
