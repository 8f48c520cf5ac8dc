/**
 * The periodic-job helper under a fake clock that behaves like Node's timers (a delay above
 * 2^31 - 1 ms, or below 1, fires after 1 ms): long periods do not spin, a job whose stored last
 * run is old runs at once after a restart, runs never overlap, and stop() waits for a run.
 * Plus the credential-rotation job on real timers: a 30-day period does not fire at once.
 */
import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { createPeriodicJob, MAX_TIMER_MS, type Clock } from '../../src/host/jobs/periodic.js';
import { createKeyRotationJob } from '../../src/host/jobs/key-rotation.js';

const DAY = 86_400_000;

/** A manual clock; `advance` fires due timers in order and lets their async work settle. */
function fakeClock(start = Date.UTC(2026, 0, 1)) {
  let now = start;
  let seq = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  let fired = 0;
  const clock: Clock = {
    now: () => now,
    setTimeout(fn, ms) {
      const delay = ms > MAX_TIMER_MS || ms < 1 ? 1 : ms; // Node's rule
      const id = ++seq;
      timers.set(id, { at: now + delay, fn });
      return id;
    },
    clearTimeout: (id) => void timers.delete(id as number),
  };
  async function settle() {
    for (let i = 0; i < 2; i++) await tick();
  }
  return {
    clock,
    fired: () => fired,
    async advance(ms: number, maxFires = 100_000) {
      const until = now + ms;
      await settle();
      for (;;) {
        const next = [...timers].sort((a, b) => a[1].at - b[1].at)[0];
        if (!next || next[1].at > until) break;
        timers.delete(next[0]);
        now = next[1].at;
        next[1].fn();
        if (++fired > maxFires) throw new Error('timer loop');
        await settle();
      }
      now = until;
    },
  };
}

function deferred<T = void>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

const silent = { error: () => undefined, info: () => undefined };

describe('createPeriodicJob', () => {
  it('a 30-day period checks at a bounded rate and runs only when due', async () => {
    const f = fakeClock();
    let runs = 0;
    const job = createPeriodicJob({
      name: 't',
      everyMs: 30 * DAY,
      run: async () => void runs++,
      logger: silent,
      clock: f.clock,
    });
    job.start();
    await f.advance(DAY);
    assert.equal(runs, 0, 'ran before it was due');
    assert.ok(f.fired() <= 24 * 60 + 2, `${f.fired()} checks in a day`);
    // Checked once a minute: due at 30 days, run within the minute after.
    await f.advance(29 * DAY + 61_000);
    assert.equal(runs, 1);
    await f.advance(30 * DAY);
    assert.equal(runs, 2);
    await job.stop();
  });

  it('runs at once after a restart when the stored last run is older than the period', async () => {
    const f = fakeClock();
    let runs = 0;
    const job = createPeriodicJob({
      name: 't',
      everyMs: 7 * DAY,
      lastRunAt: async () => new Date(f.clock.now() - 40 * DAY),
      run: async () => void runs++,
      logger: silent,
      clock: f.clock,
    });
    job.start();
    await f.advance(1);
    assert.equal(runs, 1);
    await job.stop();
  });

  it('counts from the stored last run, not from process start', async () => {
    const f = fakeClock();
    let last = f.clock.now() - 6 * DAY;
    let runs = 0;
    const job = createPeriodicJob({
      name: 't',
      everyMs: 7 * DAY,
      lastRunAt: async () => new Date(last),
      run: async () => {
        runs++;
        last = f.clock.now();
      },
      logger: silent,
      clock: f.clock,
    });
    job.start();
    await f.advance(DAY - 60_000);
    assert.equal(runs, 0);
    await f.advance(120_000);
    assert.equal(runs, 1, 'due one day after start, when 7 days have passed since the stored run');
    await job.stop();
  });

  it('never overlaps a run in flight; runNow joins it', async () => {
    const f = fakeClock();
    let runs = 0;
    const gate = deferred();
    const job = createPeriodicJob({
      name: 't',
      everyMs: 1000,
      run: async () => {
        runs++;
        await gate.promise;
        return runs;
      },
      logger: silent,
      clock: f.clock,
    });
    job.start(); // first check after 1 ms, then one a second
    await f.advance(1001);
    assert.equal(runs, 1);
    const joined = job.runNow();
    await f.advance(10_000);
    assert.equal(runs, 1, 'a second run started while the first was in flight');
    gate.resolve();
    assert.equal(await joined, 1);
    await job.stop();
  });

  it('stop() waits for the run in flight and no run starts after it', async () => {
    const f = fakeClock();
    let runs = 0;
    let finished = false;
    const gate = deferred();
    const job = createPeriodicJob({
      name: 't',
      everyMs: 1000,
      run: async () => {
        runs++;
        await gate.promise;
        finished = true;
      },
      logger: silent,
      clock: f.clock,
    });
    job.start();
    await f.advance(1001);
    let stopped = false;
    const stopping = job.stop().then(() => (stopped = true));
    await f.advance(0);
    assert.equal(stopped, false, 'stop() returned with a run in flight');
    gate.resolve();
    await stopping;
    assert.ok(finished);
    await f.advance(10_000);
    assert.equal(runs, 1);
  });

  it('logs a failed run by its code only, and retries at the next check', async () => {
    const f = fakeClock();
    const logged: unknown[] = [];
    let runs = 0;
    const job = createPeriodicJob({
      name: 'thing',
      everyMs: 1000,
      run: async () => {
        runs++;
        if (runs === 1)
          throw Object.assign(new Error('secret detail'), { code: 'ENCLAVE_TIMEOUT' });
      },
      logger: { error: ((obj: unknown, msg: string) => void logged.push([obj, msg])) as never },
      clock: f.clock,
    });
    job.start();
    await f.advance(2001);
    assert.equal(runs, 2);
    assert.deepEqual(logged, [[{ job: 'thing', code: 'ENCLAVE_TIMEOUT' }, 'thing failed']]);
    await job.stop();
  });

  it('a period of 0 disables the schedule', async () => {
    const f = fakeClock();
    let runs = 0;
    const job = createPeriodicJob({
      name: 't',
      everyMs: 0,
      run: async () => void runs++,
      logger: silent,
      clock: f.clock,
    });
    job.start();
    await f.advance(DAY);
    assert.equal(runs, 0);
    assert.equal(f.fired(), 0);
    await job.runNow();
    assert.equal(runs, 1);
  });
});

describe('credential key rotation schedule (real timers)', () => {
  it('a 30-day interval does not rotate in a loop', async () => {
    let rotations = 0;
    const job = createKeyRotationJob({
      keyring: {
        rotate: async () => {
          rotations++;
          return { generation: 2 } as never;
        },
        lastRotatedAt: async () => new Date(),
        reload: async () => false,
      },
      enclave: { call: (() => Promise.reject(new Error('unused'))) as never },
      log: { commit: (() => Promise.reject(new Error('unused'))) as never },
      logger: silent,
      intervalMs: 30 * DAY,
    });
    job.start();
    // Any fixed wait shows it: Node fires an over-long interval every millisecond.
    await new Promise((r) => setTimeout(r, 200));
    await job.stop();
    assert.equal(rotations, 0);
  });
});
