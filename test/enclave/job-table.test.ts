/** The enclave's job table: bounded concurrency, closed failure codes, ack and expiry. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RpcError } from '../../src/protocol/rpc/errors.js';
import { JobTable } from '../../src/enclave/jobs/job-table.js';

const settle = () => new Promise((ok) => setImmediate(ok));
const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

describe('JobTable', () => {
  it('runs a job, reports progress, keeps the result until acknowledged', async () => {
    let now = 1000;
    const t = new JobTable<string>(2, 60, () => now);
    let finish!: (v: string) => void;
    t.start(id(1), (progress) => {
      progress({ requests: 3, fills: 10, rate_limit_waits: 1, rate_limit_wait_ms: 500 });
      return new Promise<string>((ok) => (finish = ok));
    });
    await settle();
    assert.deepEqual(t.poll([id(1)]), [
      {
        job_id: id(1),
        state: 'running',
        progress: { requests: 3, fills: 10, rate_limit_waits: 1, rate_limit_wait_ms: 500 },
      },
    ]);
    t.ack([id(1)]); // running jobs are not forgotten
    finish('signed');
    await settle();
    const [v] = t.poll([id(1)]);
    assert.equal(v!.state, 'done');
    assert.equal((v as { result: string }).result, 'signed');
    now += 30;
    assert.equal(t.poll([id(1)])[0]!.state, 'done');
    t.ack([id(1)]);
    assert.equal(t.poll([id(1)])[0]!.state, 'unknown');
  });

  it('refuses more than maxRunning jobs and a reused id', async () => {
    const t = new JobTable<number>(1, 60, () => 0);
    t.start(id(1), () => new Promise(() => undefined));
    assert.throws(
      () => t.start(id(2), async () => 1),
      (e) => (e as RpcError).code === 'JOBS_BUSY',
    );
    assert.throws(
      () => t.start(id(1), async () => 1),
      (e) => (e as RpcError).code === 'JOB_EXISTS',
    );
  });

  it('a failure is a closed code: RpcError and known codes pass, anything else is INTERNAL', async () => {
    const t = new JobTable<number>(4, 60, () => 0);
    t.start(id(1), async () => {
      throw new RpcError('EXCHANGE_KEY_REJECTED');
    });
    t.start(id(2), async () => {
      throw Object.assign(new Error('secret-looking message APISECRET'), {
        code: 'EXCHANGE_TIMEOUT',
      });
    });
    t.start(id(3), async () => {
      throw new Error('raw failure with APISECRET inside');
    });
    await settle();
    const views = t.poll([id(1), id(2), id(3)]);
    assert.deepEqual(
      views.map((v) => (v as { error?: string }).error),
      ['EXCHANGE_KEY_REJECTED', 'EXCHANGE_TIMEOUT', 'INTERNAL'],
    );
    assert.ok(!JSON.stringify(views).includes('APISECRET'));
  });

  it('forgets unacknowledged results after keepSeconds', async () => {
    let now = 0;
    const t = new JobTable<number>(1, 10, () => now);
    t.start(id(1), async () => 7);
    await settle();
    now = 11;
    assert.equal(t.poll([id(1)])[0]!.state, 'unknown');
    // and the slot is free again
    t.start(id(2), async () => 8);
  });
});
