/**
 * The enclave's job table (src/enclave/jobs/job-table.ts): a cancelled job is aborted through
 * its signal, answers `cancelled` at once and never becomes `done` whatever its run returns; a
 * finished, uncollected result that is cancelled can no longer be collected; the slot frees only
 * when the run has returned.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JobTable } from '../../src/enclave/jobs/job-table.js';

const ID = '00000000-0000-4000-8000-000000000001';

function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe('enclave job table: cancel', () => {
  it('aborts a running job, answers cancelled, and ignores its later result', async () => {
    const table = new JobTable<string>(1, 600, () => 1000);
    const release = deferred<void>();
    const aborted = deferred<void>();
    let signalSeen: AbortSignal | null = null;
    table.start(ID, async (_progress, signal) => {
      signalSeen = signal;
      signal.addEventListener('abort', () => aborted.resolve(), { once: true });
      await release.promise;
      return 'signed result';
    });
    await Promise.resolve();
    assert.equal(table.poll([ID])[0]!.state, 'running');
    assert.deepEqual(table.cancel([ID, '00000000-0000-4000-8000-000000000002']), [ID]);
    await aborted.promise;
    assert.equal(signalSeen!.aborted, true);
    assert.equal(table.poll([ID])[0]!.state, 'cancelled');
    // Its slot is held until the run returns (the enclave's memory bound still holds).
    assert.throws(() => table.start('00000000-0000-4000-8000-000000000003', async () => 'x'), {
      code: 'JOBS_BUSY',
    });
    release.resolve();
    await new Promise((r) => setImmediate(r));
    assert.equal(table.poll([ID])[0]!.state, 'cancelled', 'the result never replaces it');
    assert.equal(table.running(), 0);
  });

  it('a finished result that is cancelled before collection is gone', async () => {
    const table = new JobTable<string>(1, 600, () => 1000);
    table.start(ID, async () => 'signed result');
    await new Promise((r) => setImmediate(r));
    assert.equal(table.poll([ID])[0]!.state, 'done');
    table.cancel([ID]);
    const v = table.poll([ID])[0]!;
    assert.equal(v.state, 'cancelled');
    assert.ok(!('result' in v));
  });
});
