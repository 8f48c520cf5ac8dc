/**
 * The engine's large work buffers, kept between calls. Tens of megabytes of fresh typed arrays
 * per call, counted as external memory, made V8 run a full mark-compact of the whole heap —
 * which holds the fills themselves, so it cost a third of a 10^6-fill call. Reusing the
 * buffers avoids that after the first call, and the buffers are SharedArrayBuffers, which V8
 * does not count (`f64Array` below), so the first call (or a job's growing ingest) does not
 * start one either. Safe because an engine call is synchronous and
 * never re-entered, because a job's ingest that spans pages holds a set of its own while it
 * runs (`holdWorkspace` below), and because nothing returned is a view of these buffers.
 * Cost: 60 bytes per fill of the largest call so far stay allocated (`releaseScratch` frees
 * them), plus, while jobs run at the same time, one set per such job.
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

/**
 * The buffers' memory: a SharedArrayBuffer's, which V8 does not count as this heap's external
 * memory (such memory may be shared with other threads; nothing here shares it). Counted, the
 * ~120 MB a fresh job's ingest allocates while its buffers double up to 10^6 rows (60 MB, plus
 * the smaller sets it copies from) started a mark-compact of the whole heap ("external memory
 * pressure"), which holds the fills themselves (~300 MB): it finished inside the job's
 * aggregation, 20–85 ms of pause (bench/README.md, "the aggregates first call, stop 24").
 * The cost: a set dropped when it grows is freed with its object by the next GC that visits
 * it (a scavenge while it is young, else the next mark-compact), not sooner because of its
 * size: at most about one more set's worth per growing set (the geometric sum) in between.
 */
function f64Array(n: number): Float64Array<SharedArrayBuffer> {
  return new Float64Array(new SharedArrayBuffer(n * 8));
}

function u32Array(n: number): Uint32Array<SharedArrayBuffer> {
  return new Uint32Array(new SharedArrayBuffer(n * 4));
}

/** Doubles per row of `rec`. */
export const REC = 4;
const F64_PER_ROW = REC + 2;
const U32_PER_ROW = 3;
let capacity = 0;
let f64 = f64Array(0);
let u32 = u32Array(0);

/** Views for `n` rows; contents are left over, not zeroed. */
export function workspace(n: number): Workspace {
  if (n > capacity) {
    capacity = Math.max(n, Math.ceil(capacity * 1.5), 1024);
    // Drop the old buffers first (they are freed with their objects by a later GC).
    f64 = f64Array(0);
    u32 = u32Array(0);
    f64 = f64Array(capacity * F64_PER_ROW);
    u32 = u32Array(capacity * U32_PER_ROW);
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
  f64 = f64Array(0);
  u32 = u32Array(0);
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
  f64: Float64Array<SharedArrayBuffer>;
  u32: Uint32Array<SharedArrayBuffer>;
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
    f64: f64Array(c * F64_PER_ROW),
    u32: u32Array(c * U32_PER_ROW),
  };
}

/** Room for `need` rows, the first `used` rows' rec, ts and sel kept (doubling). */
export function growHeld(h: HeldWorkspace, need: number, used: number): HeldWorkspace {
  if (need <= h.capacity) return h;
  const c = Math.max(need, h.capacity * 2);
  const f = f64Array(c * F64_PER_ROW);
  const u = u32Array(c * U32_PER_ROW);
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
