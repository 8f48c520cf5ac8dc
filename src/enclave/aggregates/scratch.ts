/**
 * The engine's large work buffers, kept between calls. Tens of megabytes of fresh typed arrays
 * per call count as external memory and make V8 run a full mark-compact of the whole heap —
 * which holds the fills themselves, so it costs a third of a 10^6-fill call. Reusing the
 * buffers avoids that after the first call. Safe because the engine is synchronous and never
 * re-entered, and because nothing it returns is a view of these buffers. Cost: 60 bytes per
 * fill of the largest call so far stay allocated (`releaseScratch` frees them).
 */

/** The window's fills, one row per fill in input order (engine.ts, parseWindow). */
export interface Workspace {
  /** Index of the row's fill in the input. */
  sel: Uint32Array;
  /** Timestamp. */
  ts: Float64Array;
  /**
   * REC doubles per row, read together (one cache line holds two rows): price, amount, fee
   * cost, and in the last double's bytes two int32 read through `recI` (symbol, meta).
   * Matching overwrites price with the fill's realized PnL and amount with its notional.
   */
  rec: Float64Array;
  /** The same bytes as int32: row j's symbol at 8j + 6, its meta at 8j + 7. */
  recI: Int32Array;
  /** Sort buffers (order.ts). */
  orderA: Uint32Array;
  orderB: Uint32Array;
  tsA: Float64Array;
}

/** Doubles per row of `rec`. */
export const REC = 4;
const F64_PER_ROW = REC + 2;
const U32_PER_ROW = 3;
let capacity = 0;
let f64 = new Float64Array(0);
let u32 = new Uint32Array(0);

/** Views for `n` rows; contents are left over, not zeroed. */
export function workspace(n: number): Workspace {
  if (n > capacity) {
    capacity = Math.max(n, Math.ceil(capacity * 1.5), 1024);
    // Drop the old buffers first: external memory counts towards V8's next GC.
    f64 = new Float64Array(0);
    u32 = new Uint32Array(0);
    f64 = new Float64Array(capacity * F64_PER_ROW);
    u32 = new Uint32Array(capacity * U32_PER_ROW);
  }
  const c = capacity;
  return {
    rec: f64.subarray(0, n * REC),
    recI: new Int32Array(f64.buffer, 0, n * REC * 2),
    ts: f64.subarray(REC * c, REC * c + n),
    tsA: f64.subarray((REC + 1) * c, (REC + 1) * c + n),
    sel: u32.subarray(0, n),
    orderA: u32.subarray(c, c + n),
    orderB: u32.subarray(2 * c, 2 * c + n),
  };
}

export function releaseScratch(): void {
  capacity = 0;
  f64 = new Float64Array(0);
  u32 = new Uint32Array(0);
}
