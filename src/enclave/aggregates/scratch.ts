/**
 * The engine's large work buffers, kept between calls. Tens of megabytes of fresh typed arrays
 * per call count as external memory and make V8 run a full mark-compact of the whole heap —
 * which holds the fills themselves, so it costs a third of a 10^6-fill call. Reusing the
 * buffers avoids that after the first call. Safe because an engine call is synchronous and
 * never re-entered, because a job's ingest that spans pages holds a set of its own while it
 * runs (`holdWorkspace` below), and because nothing returned is a view of these buffers.
 * Cost: 60 bytes per fill of the largest call so far stay allocated (`releaseScratch` frees
 * them), plus, while jobs run at the same time, one set per such job.
 * They are plain ArrayBuffers, counted as external memory, on purpose: as SharedArrayBuffers
 * (not counted) the sets jobs drop (`growHeld`, `giveBack`) were freed only by a mark-compact
 * that the JS heap happened to need, so concurrent jobs piled up hundreds of megabytes of them
 * (test/aggregates/engine.test.ts, "do not pile up").
 */

/** The window's fills, one row per fill in ingest order (engine.ts, `createIngest`). */
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
  return views(f64, u32, capacity, n);
}

function views(f: Float64Array, u: Uint32Array, c: number, n: number): Workspace {
  return {
    rec: f.subarray(0, n * REC),
    recI: new Int32Array(f.buffer, 0, n * REC * 2),
    ts: f.subarray(REC * c, REC * c + n),
    tsA: f.subarray((REC + 1) * c, (REC + 1) * c + n),
    sel: u.subarray(0, n),
    orderA: u.subarray(c, c + n),
    orderB: u.subarray(2 * c, 2 * c + n),
  };
}

export function releaseScratch(): void {
  capacity = 0;
  f64 = new Float64Array(0);
  u32 = new Uint32Array(0);
}

/**
 * A workspace an ingest holds for itself across its pages (engine.ts, `createIngest`): a job's
 * fills are parsed page by page while other engine calls run, so it cannot share the buffers
 * above. It takes them instead (the next call elsewhere allocates its own), grows them by
 * copying the rows so far, and gives them back when its aggregation is done; the larger set is
 * kept. So in the steady state a job allocates nothing, and one set of buffers stays, as before.
 */
export interface HeldWorkspace {
  capacity: number;
  f64: Float64Array<ArrayBuffer>;
  u32: Uint32Array<ArrayBuffer>;
}

/** The shared buffers if they are at least `need` rows (else fresh ones), now held by the caller. */
export function holdWorkspace(need: number): HeldWorkspace {
  if (capacity >= need && capacity > 0) {
    const held = { capacity, f64, u32 };
    releaseScratch();
    return held;
  }
  const c = Math.max(need, 1024);
  return {
    capacity: c,
    f64: new Float64Array(c * F64_PER_ROW),
    u32: new Uint32Array(c * U32_PER_ROW),
  };
}

/** Room for `need` rows, the first `used` rows' rec, ts and sel kept (doubling). */
export function growHeld(h: HeldWorkspace, need: number, used: number): HeldWorkspace {
  if (need <= h.capacity) return h;
  const c = Math.max(need, h.capacity * 2);
  const f = new Float64Array(c * F64_PER_ROW);
  const u = new Uint32Array(c * U32_PER_ROW);
  f.set(h.f64.subarray(0, used * REC));
  f.set(h.f64.subarray(REC * h.capacity, REC * h.capacity + used), REC * c);
  u.set(h.u32.subarray(0, used));
  return { capacity: c, f64: f, u32: u };
}

/** The held buffers' views for `n` rows, laid out as `workspace` lays out the shared ones. */
export function heldViews(h: HeldWorkspace, n: number): Workspace {
  return views(h.f64, h.u32, h.capacity, n);
}

/** Gives held buffers back (kept if larger than the shared ones); the holder must not use them again. */
export function giveBack(h: HeldWorkspace): void {
  if (h.capacity <= capacity) return;
  capacity = h.capacity;
  f64 = h.f64;
  u32 = h.u32;
}
