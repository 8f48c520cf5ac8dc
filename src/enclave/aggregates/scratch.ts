/**
 * The engine's large work buffers, kept between calls. Tens of megabytes of fresh typed arrays
 * per call count as external memory and make V8 run a full mark-compact of the whole heap —
 * which holds the fills themselves, so it costs a third of a 10^6-fill call. Reusing the
 * buffers avoids that after the first call. Safe because the engine is synchronous and never
 * re-entered, and because nothing it returns is a view of these buffers. Cost: about 60 bytes
 * per fill of the largest call so far stay allocated (`releaseScratch` frees them).
 */

export interface Workspace {
  /** Index of the i-th fill in the window, in input order. */
  sel: Uint32Array;
  /** Timestamps, in the same order. */
  ts: Float64Array;
  /** REC doubles per fill (engine.ts). */
  rec: Float64Array;
  /** Merge sort ping-pong buffers (order.ts). */
  orderA: Uint32Array;
  orderB: Uint32Array;
  tsA: Float64Array;
  tsB: Float64Array;
}

let capacity = 0;
let f64 = new Float64Array(0);
let u32 = new Uint32Array(0);

/** Views for `n` fills with `rec` doubles of record each; contents are left over, not zeroed. */
export function workspace(n: number, rec: number): Workspace {
  if (n > capacity || f64.length < n * (3 + rec)) {
    capacity = Math.max(n, Math.ceil(capacity * 1.5), 1024);
    f64 = new Float64Array(capacity * (3 + rec));
    u32 = new Uint32Array(capacity * 3);
  }
  return {
    sel: u32.subarray(0, n),
    orderA: u32.subarray(capacity, capacity + n),
    orderB: u32.subarray(2 * capacity, 2 * capacity + n),
    ts: f64.subarray(0, n),
    tsA: f64.subarray(capacity, capacity + n),
    tsB: f64.subarray(2 * capacity, 2 * capacity + n),
    rec: f64.subarray(3 * capacity, 3 * capacity + n * rec),
  };
}

export function releaseScratch(): void {
  capacity = 0;
  f64 = new Float64Array(0);
  u32 = new Uint32Array(0);
}
