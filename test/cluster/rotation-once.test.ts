/**
 * Issue 13: the key-rotation schedule runs once per cluster, not once per instance. Two
 * instances' schedules (two leases, different holders, one database) check at the same moment;
 * the job lease (migration 013) lets exactly one of them run. Without the lease both would.
 * PostgreSQL when TEST_DATABASE_URL is set, PGlite otherwise.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openPostgres, type Db } from '../../src/host/db/database.js';
import { migrate } from '../../src/host/db/migrate.js';
import { createJobLease } from '../../src/host/jobs/lease.js';
import { createPeriodicJob } from '../../src/host/jobs/periodic.js';
import { createTestDatabase, openTestPglite } from '../helpers/service.js';

const silent = { error() {} };

describe('scheduled rotation: once per cluster', () => {
  let db: Db;
  let drop: (() => Promise<void>) | undefined;
  before(async () => {
    if (process.env.TEST_DATABASE_URL) {
      const created = await createTestDatabase();
      drop = created.drop;
      db = await openPostgres(created.url);
    } else {
      db = await openTestPglite({ migrated: true });
    }
    await migrate(db);
  });
  after(async () => {
    await db.close();
    await drop?.();
  });

  it('a lease is held by one instance until it expires; its holder renews it', async () => {
    const a = createJobLease({ db, leaseMs: 60_000 });
    const b = createJobLease({ db, leaseMs: 60_000 });
    assert.equal(await a.acquire('job-x'), true);
    assert.equal(await b.acquire('job-x'), false);
    assert.equal(await a.acquire('job-x'), true, 'the holder renews');
    const short = createJobLease({ db, leaseMs: 1 });
    assert.equal(await short.acquire('job-y'), true);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(await b.acquire('job-y'), true, 'an expired lease is taken over');
  });

  for (const leased of [true, false]) {
    it(`two instances due at once: ${leased ? 'one run with the lease' : 'two runs without it (the control)'}`, async () => {
      let runs = 0;
      let stored: Date = new Date(0); // last rotation, as the shared database records it
      const name = `rotation-${leased}`;
      const job = () => {
        const lease = createJobLease({ db, leaseMs: 60_000 });
        return createPeriodicJob({
          name,
          everyMs: 3_600_000,
          lastRunAt: async () => stored,
          run: async () => {
            runs++;
            await new Promise((r) => setTimeout(r, 50));
            stored = new Date();
          },
          ...(leased ? { lease: () => lease.acquire(name) } : {}),
          logger: silent,
        });
      };
      const jobs = [job(), job()];
      for (const j of jobs) j.start();
      await new Promise((r) => setTimeout(r, 400));
      for (const j of jobs) await j.stop();
      assert.equal(runs, leased ? 1 : 2);
    });
  }
});
