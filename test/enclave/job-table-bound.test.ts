/**
 * Host–enclave boundary attack review: job ids and acknowledgements are the host's. A finished
 * job waits `keepSeconds` for its acknowledgement, and only running jobs were capped: a host that
 * starts jobs which end at once (it refuses the exchange connection, which it carries) and never
 * acknowledges them grew the table by AGGREGATES_MAX_JOBS entries per round trip for ten minutes,
 * each start scanning all of them. The table now holds at most MAX_JOBS_KEPT jobs, finished ones
 * included; past that a start is refused (JOBS_BUSY) and nothing kept is dropped.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JobTable, MAX_JOBS_KEPT } from '../../src/enclave/jobs/job-table.js';
import type { RpcError } from '../../src/protocol/rpc/errors.js';

const settle = () => new Promise((ok) => setImmediate(ok));
const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

describe('JobTable: finished jobs the host never acknowledges', () => {
  it('are kept up to MAX_JOBS_KEPT; then starts are refused until the host acknowledges', async () => {
    const t = new JobTable<number>(1, 600, () => 0);
    for (let n = 0; n < MAX_JOBS_KEPT; n++) {
      t.start(id(n), async () => {
        throw new Error('connection refused');
      });
      await settle();
    }
    assert.throws(
      () => t.start(id(MAX_JOBS_KEPT), async () => 1),
      (e) => (e as RpcError).code === 'JOBS_BUSY',
    );
    // Nothing kept was dropped to make room: every result can still be collected.
    assert.equal(t.poll([id(0)])[0]!.state, 'failed');
    t.ack([id(0)]);
    t.start(id(MAX_JOBS_KEPT), async () => 1);
    await settle();
    assert.equal(t.poll([id(MAX_JOBS_KEPT)])[0]!.state, 'done');
  });
});
