/**
 * Availability attack review (SECURITY.md, "Availability: attack review"): on PostgreSQL, a
 * request whose query finds every pool connection taken waited for one for as long as it took
 * (pg-pool's default), so a flood piled requests, bodies and promises up on the host and ran
 * them after their clients had gone. Now it waits DATABASE_POOL_WAIT_MS at most and is answered
 * 503 DATABASE_UNAVAILABLE with Retry-After; once connections free up, requests are served again.
 * Runs when TEST_DATABASE_URL is set.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestService, type TestService } from '../helpers/service.js';

const POOL_MAX = 10; // openPostgres's default

describe('DATABASE_POOL_WAIT_MS', { skip: !process.env.TEST_DATABASE_URL }, () => {
  let ts: TestService;
  before(async () => {
    ts = await startTestService('postgres', { DATABASE_POOL_WAIT_MS: '200' });
  });
  after(async () => ts?.stop());

  const login = () =>
    ts.service.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email: 'nobody@example.com', password: 'not-the-password-1234' },
    });

  it(
    'a query that finds the pool taken is answered 503, not queued for ever',
    { timeout: 60_000 },
    async () => {
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let held = 0;
      const holders = Array.from({ length: POOL_MAX }, () =>
        ts.service.db.transaction(async () => {
          held++;
          await gate;
        }),
      );
      while (held < POOL_MAX) await new Promise((r) => setImmediate(r));
      const res = await login();
      assert.equal(res.statusCode, 503, res.body);
      assert.equal(res.json().error.code, 'DATABASE_UNAVAILABLE');
      assert.ok(Number(res.headers['retry-after']) >= 1);
      release();
      await Promise.all(holders);
      const again = await login();
      assert.equal(again.statusCode, 401);
    },
  );
});
