/**
 * The engine's work-buffer sets (src/enclave/aggregates/scratch.ts): one primary set, growable
 * SharedArrayBuffers grown in place and never dropped, so a fresh job's ingest adds no memory
 * V8 counts; plain ArrayBuffer sets beside it. In a file of its own: "outgrowing the primary
 * set" makes a set of ~1 GB (address space; only the rows written are touched), which would
 * skew the array-buffer measure of engine.test.ts's "do not pile up" test in the same process.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  aggregateWindow,
  AggregatesInputError,
  createIngest,
  runAggregates,
  type AggregatesIngest,
} from '../../src/enclave/aggregates/engine.js';
import {
  giveBack,
  growHeld,
  heldViews,
  holdWorkspace,
  PRIMARY_MAX_ROWS,
  releaseScratch,
  workspace,
} from '../../src/enclave/aggregates/scratch.js';
import { buy, DAY, fill, sell, T0 } from './helpers.js';

/** Whether the primary set is free: the next holder gets it (given back at once). */
function primaryFree(): boolean {
  const h = holdWorkspace(0);
  giveBack(h);
  return h.primary;
}

describe('aggregates: work-buffer sets', () => {
  it('one primary set, grown in place and reused; sets held beside it are plain', () => {
    releaseScratch();
    const a = holdWorkspace(0);
    const b = holdWorkspace(0);
    const c = holdWorkspace(0);
    let ra = heldViews(growHeld(a, 2000, 0), 2000);
    assert.ok(ra.rec.buffer instanceof SharedArrayBuffer, 'the first holder has the primary');
    ra.sel[1999] = 7;
    // Grown in place: the same buffer, the rows where they were, nothing copied.
    const bufferBefore = ra.rec.buffer;
    assert.equal(growHeld(a, 100_000, 2000), a);
    ra = heldViews(a, 100_000);
    assert.equal(ra.rec.buffer, bufferBefore);
    assert.equal(ra.sel[1999], 7);
    for (const h of [b, c]) {
      assert.ok(!(heldViews(h, 1).rec.buffer instanceof SharedArrayBuffer), 'beside it: plain');
    }
    // While a job holds it, one-call parses get a plain set too.
    assert.ok(!(workspace(10).rec.buffer instanceof SharedArrayBuffer));
    giveBack(c);
    giveBack(b);
    giveBack(a);
    // Given back, it is the one handed out again (never dropped, never a second one).
    assert.equal(workspace(10).rec.buffer, bufferBefore);
    assert.equal(heldViews(holdWorkspace(0), 1).rec.buffer, bufferBefore);
    releaseScratch();
  });

  it("a fresh job's growing ingest adds no counted external memory", () => {
    // Counted bytes (plain ArrayBuffers) start V8's incremental marking of the whole heap,
    // which then finishes inside the job's aggregation (bench/README.md, "aggregates").
    releaseScratch();
    const page = Array.from({ length: 1000 }, (_, i) => buy('100', '1', { at: i * 1000 }));
    const before = process.memoryUsage().arrayBuffers;
    const job = createIngest({ from: T0, to: T0 + 30 * DAY });
    for (let p = 0; p < 200; p++) job.add(page);
    const grown = process.memoryUsage().arrayBuffers - before;
    job.finish()!.release();
    releaseScratch();
    // 200,000 rows as plain ArrayBuffers would add 12 MB (24 MB with the copies of growth).
    assert.ok(grown < 1e6, `counted bytes added: ${grown}`);
  });

  it('a job outgrowing the primary set moves to a plain one and frees the primary', () => {
    releaseScratch();
    const h = holdWorkspace(0);
    const rows = heldViews(growHeld(h, 3, 0), 3);
    rows.rec.set([1.5, 2, 3, 0]);
    rows.ts.set([10, 20, 30]);
    rows.sel.set([4, 5, 6]);
    // Untouched pages of the new set are never committed, so this costs little memory.
    const big = growHeld(h, PRIMARY_MAX_ROWS + 1, 3);
    assert.equal(big.primary, false);
    const moved = heldViews(big, 3);
    assert.deepEqual([...moved.rec.subarray(0, 3)], [1.5, 2, 3]);
    assert.deepEqual([...moved.ts], [10, 20, 30]);
    assert.deepEqual([...moved.sel], [4, 5, 6]);
    // The primary is free again: the next holder gets it.
    assert.ok(heldViews(holdWorkspace(0), 1).rec.buffer instanceof SharedArrayBuffer);
    releaseScratch();
  });

  it('an ingest given up before its aggregation gives its set back, and takes nothing after', () => {
    // A job whose listing fails or is cancelled, or whose page is refused, never aggregates:
    // it must still give the primary back, or every later job runs on plain sets.
    releaseScratch();
    const window = { from: T0, to: T0 + 30 * DAY };
    const job = createIngest(window);
    job.add([buy('100', '1'), sell('120', '1')]);
    assert.equal(primaryFree(), false, 'held while the job runs');
    job.release();
    assert.equal(primaryFree(), true);
    // The set is another holder's now: the ingest must never write into it or hand it out.
    const other = holdWorkspace(0);
    assert.throws(() => job.add([buy('100', '1')]), TypeError);
    assert.throws(() => job.finish(), TypeError);
    giveBack(other);
    job.release();
    assert.equal(primaryFree(), true, 'a second release changes nothing');
    releaseScratch();
  });

  it('an ingest whose finish refuses its fills gives its set back', () => {
    releaseScratch();
    const job = createIngest({ from: T0, to: T0 + 30 * DAY });
    // A third fee currency's name is checked once all fills are in (engine.ts, `finish`).
    job.add([fill({ side: 'buy', price: '100', amount: '1', fee: ['1', 'usdt'] })]);
    assert.throws(() => job.finish(), AggregatesInputError);
    assert.equal(primaryFree(), true);
    releaseScratch();
  });

  it("concurrent jobs, one-call parses between their pages and jobs given up keep every job's rows", () => {
    // Whoever drives the jobs picks the interleaving: a set handed to two holders at once (or
    // to a one-call parse while a job holds it) would change a job's signed figures.
    releaseScratch();
    let seed = 17;
    const rnd = (k: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % k;
    };
    const history = (n: number) =>
      Array.from({ length: n }, () =>
        (rnd(2) ? buy : sell)(String(90 + rnd(20)), String(1 + rnd(3)), {
          at: rnd(20 * DAY),
          symbol: rnd(2) ? 'BTC/USDT' : 'ETH/USDT',
        }),
      );
    const window = { from: T0, to: T0 + 30 * DAY };
    for (let round = 0; round < 20; round++) {
      const jobs = Array.from({ length: 1 + rnd(4) }, () => {
        const fills = history(500 + rnd(4000));
        const ingest: AggregatesIngest = createIngest(window);
        return { fills, at: 0, ingest, expected: runAggregates(fills, window), quits: !rnd(3) };
      });
      let left = jobs.length;
      while (left > 0) {
        const j = jobs[rnd(jobs.length)]!;
        if (j.at < 0) continue;
        if (!rnd(5)) runAggregates(history(100 + rnd(3000)), window);
        if (j.at >= j.fills.length || (j.quits && !rnd(8))) {
          if (j.at >= j.fills.length)
            assert.deepEqual(aggregateWindow(j.ingest.finish()!), j.expected);
          else j.ingest.release();
          j.at = -1;
          left--;
          continue;
        }
        const n = rnd(1500);
        j.ingest.add(j.fills.slice(j.at, j.at + n));
        j.at += n;
      }
      assert.equal(primaryFree(), true);
    }
    releaseScratch();
  });

  it('releaseScratch while a job holds the primary: the job keeps its set, nothing is handed twice', () => {
    releaseScratch();
    const a = holdWorkspace(0);
    const before = heldViews(growHeld(a, 10, 0), 10).rec.buffer;
    releaseScratch();
    const b = holdWorkspace(0);
    assert.ok(b.primary && b !== a, 'a new primary');
    // The dropped primary given back frees nothing: b is still held.
    giveBack(a);
    assert.equal(primaryFree(), false);
    assert.ok(!(workspace(10).rec.buffer instanceof SharedArrayBuffer), 'nor to a one-call parse');
    assert.notEqual(heldViews(growHeld(b, 10, 0), 10).rec.buffer, before);
    giveBack(b);
    assert.equal(primaryFree(), true);
    releaseScratch();
  });

  it('a grow of the primary set that fails part-way leaves it usable', (t) => {
    // Committing the pages can fail (memory exhausted) after some columns grew: the next,
    // smaller grow must not shrink those (a RangeError for every later job that grows).
    releaseScratch();
    const h = holdWorkspace(0);
    const proto = SharedArrayBuffer.prototype;
    const grow = Object.getOwnPropertyDescriptor(proto, 'grow')!;
    t.after(() => Object.defineProperty(proto, 'grow', grow));
    let calls = 0;
    Object.defineProperty(proto, 'grow', {
      ...grow,
      value: function (this: SharedArrayBuffer, n: number) {
        if (++calls === 2) throw new RangeError('Out of memory: Cannot grow');
        (grow.value as (n: number) => void).call(this, n);
      },
    });
    assert.throws(() => growHeld(h, 100_000, 0), RangeError);
    Object.defineProperty(proto, 'grow', grow);
    const rows = heldViews(growHeld(h, 2000, 0), 2000);
    rows.sel[1999] = 7;
    assert.equal(heldViews(growHeld(h, 200_000, 2000), 200_000).sel[1999], 7);
    giveBack(h);
    releaseScratch();
  });

  it('without the address space for the primary set, plain sets do the work', (t) => {
    releaseScratch();
    const fills = [buy('100', '1'), buy('90', '2'), sell('120', '1.5')];
    const window = { from: T0, to: T0 + 30 * DAY };
    const expected = runAggregates(fills, window);
    const Real = globalThis.SharedArrayBuffer;
    t.after(() => {
      globalThis.SharedArrayBuffer = Real;
      releaseScratch();
    });
    releaseScratch();
    // As under `ulimit -v`: reserving the growable buffers' address space throws.
    globalThis.SharedArrayBuffer = function () {
      throw new RangeError('Array buffer allocation failed');
    } as unknown as SharedArrayBufferConstructor;
    const h = holdWorkspace(0);
    assert.equal(h.primary, false);
    giveBack(h);
    assert.deepEqual(runAggregates(fills, window), expected);
    const job = createIngest(window);
    job.add(fills.slice(0, 2));
    job.add(fills.slice(2));
    const w = job.finish()!;
    assert.ok(!(w.work.rec.buffer instanceof Real));
    assert.deepEqual(aggregateWindow(w), expected);
    w.release();
  });
});
