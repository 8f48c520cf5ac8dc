/**
 * The engine's large work buffers, kept between calls. Tens of megabytes of fresh typed arrays
 * per call count as external memory and make V8 run a full mark-compact of the whole heap —
 * which holds the fills themselves, so it costs a third of a 10^6-fill call. Reusing the
 * buffers avoids that after the first call. Safe because an engine call is synchronous and
 * never re-entered, because a job's ingest that spans pages holds a set of its own while it
 * runs (`holdWorkspace` below), and because nothing returned is a view of these buffers.
 *
 * Two kinds of set:
 * - **The primary set**, one per process: growable SharedArrayBuffers, one per column, reserved
 *   up to PRIMARY_MAX_ROWS and grown in place, so a growing ingest never copies its rows and
 *   never allocates a new buffer. V8 does not count their bytes as external memory, so a fresh
 *   job's ingest no longer starts a mark-compact of the whole heap that lands in its first
 *   aggregation (bench/README.md, "aggregates"). That is safe only because the primary set is
 *   never dropped (`releaseScratch` aside, for tests and the bench): it goes back to the free
 *   state after each use, whether the job aggregates or ends before (engine.ts, `release`),
 *   and is reused, so nothing uncounted can pile up.
 * - **Plain sets** (ArrayBuffers, counted as external memory), for what runs while the primary
 *   is held (concurrent jobs, or a one-call parse during a job), for calls of more than
 *   PRIMARY_MAX_ROWS, and where the primary cannot be reserved. They grow by copying and are
 *   dropped; one, the largest, is kept as the spare. As SharedArrayBuffers, the sets concurrent
 *   jobs drop were freed only by a mark-compact that the JS heap happened to need, and piled up
 *   hundreds of megabytes (test/aggregates/engine.test.ts, "do not pile up").
 *
 * Cost: the primary set keeps 60 bytes per fill of the largest call so far committed (75 at
 * most with its growth margin; PRIMARY_MAX_ROWS rows, ~1 GB, at most). Once a plain set was
 * needed, the largest is kept as the spare: 60 to 120 bytes per fill of the largest call that
 * used one (they grow by doubling). So a job that outgrew the primary leaves its ~1 GB
 * committed beside the spare. Plus one plain set per job running beside the one that holds the
 * primary. `releaseScratch` drops both kept sets (a dropped primary is freed by the next GC
 * that visits it, not sooner).
 */

/** The window's fills, one row per fill in ingest order (engine.ts, `createIngest`). */
export interface Workspace {
  /** Index of the row's fill in the input. */
  sel: Uint32Array;
  /** Timestamp (in a job's ingest, by position of its ordered runs: order.ts, `createRunOrder`). */
  ts: Float64Array;
  /**
   * REC doubles per row, read together (one cache line holds two rows): price, amount, fee
   * cost, and in the last double's bytes two int32 read through `recI` (symbol, meta).
   * Matching overwrites price with the fill's realized PnL and amount with its notional.
   */
  rec: Float64Array;
  /** The same bytes as int32: row j's symbol at 8j + 6, its meta at 8j + 7. */
  recI: Int32Array;
  /** Sort buffers (order.ts); a job's ingest keeps its order in orderA. */
  orderA: Uint32Array;
  orderB: Uint32Array;
  tsA: Float64Array;
}

/** Doubles per row of `rec`. */
export const REC = 4;
const F64_PER_ROW = REC + 2;
const U32_PER_ROW = 3;
/**
 * Rows the primary set reserves address space for (60 bytes each: ~1 GB reserved, committed
 * only as it grows). A larger job moves to a plain set (`growHeld`). The default fill limit is
 * 3 million (AGGREGATES_MAX_FILLS).
 */
export const PRIMARY_MAX_ROWS = 1 << 24;
/** Smallest set, in rows. */
const MIN_ROWS = 1024;

/** A set of work buffers: the primary (grown in place) or a plain one (grown by copying). */
export type HeldWorkspace = PrimarySet | PlainSet;

interface PlainSet {
  readonly primary: false;
  capacity: number;
  f64: Float64Array<ArrayBuffer>;
  u32: Uint32Array<ArrayBuffer>;
}

interface PrimarySet {
  readonly primary: true;
  capacity: number;
  readonly rec: SharedArrayBuffer;
  readonly ts: SharedArrayBuffer;
  readonly tsA: SharedArrayBuffer;
  readonly sel: SharedArrayBuffer;
  readonly orderA: SharedArrayBuffer;
  readonly orderB: SharedArrayBuffer;
}

let primary: PrimarySet | undefined;
/** Set once reserving the primary's address space failed (a capped address space): plain sets only. */
let primaryRefused = false;
/**
 * Whether a job holds the primary set. `workspace` hands out its views only while no job does,
 * for one synchronous call, so it does not set this.
 */
let primaryHeld = false;
/** The largest plain set given back, reused while the primary is held. */
let spare: PlainSet | undefined;

function growable(bytesPerRow: number): SharedArrayBuffer {
  return new SharedArrayBuffer(0, { maxByteLength: PRIMARY_MAX_ROWS * bytesPerRow });
}

/** The primary set, made on first use; undefined if its address space cannot be reserved. */
function primarySet(): PrimarySet | undefined {
  if (primary || primaryRefused) return primary;
  try {
    primary = newPrimary();
  } catch {
    // A RangeError where the address space is capped (ulimit -v): slower first calls, nothing else.
    primaryRefused = true;
  }
  return primary;
}

function newPrimary(): PrimarySet {
  return {
    primary: true,
    capacity: 0,
    rec: growable(REC * 8),
    ts: growable(8),
    tsA: growable(8),
    sel: growable(4),
    orderA: growable(4),
    orderB: growable(4),
  };
}

/** Room for `rows` in place (`rows` ≤ PRIMARY_MAX_ROWS); new bytes are zero. */
function growPrimary(p: PrimarySet, rows: number): void {
  if (rows <= p.capacity) return;
  // A quarter more than asked, so a job growing page by page grows a few dozen times at most.
  const c = Math.min(PRIMARY_MAX_ROWS, Math.max(rows, MIN_ROWS, Math.ceil(p.capacity * 1.25)));
  // A grow that failed part-way (memory exhausted) left some columns longer than `capacity`:
  // a SharedArrayBuffer never shrinks, so those are left as they are.
  for (const [b, bytesPerRow] of [
    [p.rec, REC * 8],
    [p.ts, 8],
    [p.tsA, 8],
    [p.sel, 4],
    [p.orderA, 4],
    [p.orderB, 4],
  ] as const) {
    if (b.byteLength < c * bytesPerRow) b.grow(c * bytesPerRow);
  }
  p.capacity = c;
}

function newPlain(rows: number): PlainSet {
  const c = Math.max(rows, MIN_ROWS);
  return {
    primary: false,
    capacity: c,
    f64: new Float64Array(c * F64_PER_ROW),
    u32: new Uint32Array(c * U32_PER_ROW),
  };
}

/**
 * Views for `n` rows, valid until the next engine call; contents are left over, not zeroed.
 * The primary set when no job holds it, else the spare plain set.
 */
export function workspace(n: number): Workspace {
  const p = !primaryHeld && n <= PRIMARY_MAX_ROWS ? primarySet() : undefined;
  if (p) {
    growPrimary(p, n);
    return heldViews(p, n);
  }
  if (!spare || spare.capacity < n) {
    const had = spare?.capacity ?? 0;
    // Drop the old buffers first: external memory counts towards V8's next GC.
    spare = undefined;
    spare = newPlain(Math.max(n, Math.ceil(had * 1.5)));
  }
  return heldViews(spare, n);
}

/** Frees the kept sets (tests, the bench). A set a job still holds stays valid until given back. */
export function releaseScratch(): void {
  primary = undefined;
  primaryRefused = false;
  primaryHeld = false;
  spare = undefined;
}

/**
 * A set an ingest holds for itself across its pages (engine.ts, `createIngest`): a job's
 * fills are parsed page by page while other engine calls run, so it cannot share the buffers
 * `workspace` hands out. It takes the primary set if free (else the spare, else a new plain
 * set), grows it with `growHeld`, and gives it back when its aggregation is done.
 */
export function holdWorkspace(need: number): HeldWorkspace {
  const p = !primaryHeld && need <= PRIMARY_MAX_ROWS ? primarySet() : undefined;
  if (p) {
    growPrimary(p, need);
    primaryHeld = true;
    return p;
  }
  if (spare && spare.capacity >= need) {
    const s = spare;
    spare = undefined;
    return s;
  }
  return newPlain(need);
}

/** Room for `need` rows, the first `used` rows' rec, ts, sel and orderA kept. */
export function growHeld(h: HeldWorkspace, need: number, used: number): HeldWorkspace {
  if (need <= h.capacity) return h;
  if (h.primary && need <= PRIMARY_MAX_ROWS) {
    growPrimary(h, need);
    return h;
  }
  // Doubling, so a job copies each row a few times at most.
  const to = newPlain(Math.max(need, h.capacity * 2));
  const from = heldViews(h, used);
  const rows = heldViews(to, used);
  rows.rec.set(from.rec);
  rows.ts.set(from.ts);
  rows.sel.set(from.sel);
  // A job's ingest orders its rows as they arrive (order.ts, `createRunOrder`).
  rows.orderA.set(from.orderA);
  // The primary goes back to the free state; an outgrown plain set is dropped.
  if (h.primary) giveBack(h);
  return to;
}

/** The set's views for `n` rows (`n` ≤ its capacity). */
export function heldViews(h: HeldWorkspace, n: number): Workspace {
  if (h.primary) {
    return {
      rec: new Float64Array(h.rec, 0, n * REC),
      recI: new Int32Array(h.rec, 0, n * REC * 2),
      ts: new Float64Array(h.ts, 0, n),
      tsA: new Float64Array(h.tsA, 0, n),
      sel: new Uint32Array(h.sel, 0, n),
      orderA: new Uint32Array(h.orderA, 0, n),
      orderB: new Uint32Array(h.orderB, 0, n),
    };
  }
  const { f64: f, u32: u, capacity: c } = h;
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

/**
 * Gives a held set back; the holder must not use it again. The primary becomes free; a plain
 * set is kept as the spare if it is larger than the spare, else dropped.
 */
export function giveBack(h: HeldWorkspace): void {
  if (h.primary) {
    // A primary dropped by `releaseScratch` while held is just dropped.
    if (h === primary) primaryHeld = false;
    return;
  }
  if (!spare || h.capacity > spare.capacity) spare = h;
}
