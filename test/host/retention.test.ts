/**
 * Retention (issue 12 item 16): ended login sessions, expired refresh tokens, old ops_logs rows
 * and finished job rows are purged after their configured days, with one `retention.purged`
 * event per run giving the counts; live rows, running and queued jobs and signed results stay. On PGlite
 * and (with TEST_DATABASE_URL) PostgreSQL. Operator and data at rest, second review: an
 * unconfirmed registration (a `pending` account: anyone's address, typed by anyone) goes after
 * AUTH_SESSION_RETENTION_DAYS with its sealed password and email method; a confirmed one stays.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { purgeExpiredRows } from '../../src/host/db/repositories/retention.js';
import { engines, startTestService, type TestService } from '../helpers/service.js';

const hash = () => randomUUID().replaceAll('-', '').repeat(2);

for (const engine of engines()) {
  describe(`retention purge on ${engine}`, () => {
    let ts: TestService;
    const ids = {
      revokedOld: randomUUID(),
      live: randomUUID(),
      expiredOld: randomUUID(),
      revokedRecent: randomUUID(),
      jobDoneOld: randomUUID(),
      jobFailedOld: randomUUID(),
      jobRunningOld: randomUUID(),
      jobQueuedOld: randomUUID(),
      jobFailedRecent: randomUUID(),
      pendingOld: randomUUID(),
      pendingRecent: randomUUID(),
      activeOld: randomUUID(),
    };
    before(async () => {
      ts = await startTestService(engine);
      const db = ts.service.db;
      const {
        rows: [user],
      } = await db.query<{ id: string }>(
        "INSERT INTO users (email) VALUES ('retention@example.com') RETURNING id",
      );
      const session = async (id: string, createdDaysAgo: number, revokedDaysAgo: number | null) =>
        db.query(
          `INSERT INTO auth_sessions (id, user_id, created_at, revoked_at, revoked_reason)
           VALUES ($1, $2, now() - make_interval(days => $3),
                   now() - make_interval(days => $4), CASE WHEN $4::int IS NULL THEN NULL ELSE 'logout' END)`,
          [id, user!.id, createdDaysAgo, revokedDaysAgo],
        );
      const token = async (sessionId: string, expiresInDays: number) =>
        db.query(
          `INSERT INTO refresh_tokens (token_hash, session_id, user_id, expires_at)
           VALUES ($1, $2, $3, now() + make_interval(days => $4))`,
          [hash(), sessionId, user!.id, expiresInDays],
        );
      await session(ids.revokedOld, 50, 40);
      await token(ids.revokedOld, 10); // unexpired, but its session ended 40 days ago
      await session(ids.live, 50, null);
      await token(ids.live, -45); // an old rotated token: expired long ago
      await token(ids.live, 20); // the current one
      await session(ids.expiredOld, 80, null);
      await token(ids.expiredOld, -40); // its only token expired 40 days ago
      await session(ids.revokedRecent, 50, 1);
      await token(ids.revokedRecent, 5);

      await db.query(
        "INSERT INTO ops_logs (event_type, created_at) VALUES ('test.old', now() - interval '100 days'), ('test.recent', now() - interval '10 days')",
      );

      const credSession = randomUUID();
      await db.query(
        `INSERT INTO sessions (id, exchange, label, status, created_at, expires_at, ended_at)
         VALUES ($1, 'binance', 'retention', 'revoked', now() - interval '60 days', now() - interval '59 days', now() - interval '59 days')`,
        [credSession],
      );
      const {
        rows: [agg],
      } = await db.query<{ id: string }>(
        "INSERT INTO aggregates (session_id, payload, signature) VALUES ($1, '{}', 'AAAA') RETURNING id",
        [credSession],
      );
      const job = async (id: string, status: string, daysAgo: number, aggregate: boolean) =>
        db.query(
          `INSERT INTO aggregate_jobs (id, session_id, status, request, error_code, aggregate_id, created_at, updated_at)
           VALUES ($1, $2, $3, '{}', $4, $5, now() - make_interval(days => $6), now() - make_interval(days => $6))`,
          [
            id,
            credSession,
            status,
            status === 'failed' ? 'EXCHANGE_UNAVAILABLE' : null,
            aggregate ? agg!.id : null,
            daysAgo,
          ],
        );
      await job(ids.jobDoneOld, 'done', 40, true);
      await job(ids.jobFailedOld, 'failed', 40, false);
      await job(ids.jobRunningOld, 'running', 40, false);
      // Attack review: a queued job is as live as a running one (admitted, waiting for a slot).
      await job(ids.jobQueuedOld, 'queued', 40, false);
      await job(ids.jobFailedRecent, 'failed', 2, false);

      // Accounts: unconfirmed ones (with the rows a registration writes beside them) and an old
      // confirmed one.
      const account = async (id: string, status: string, daysAgo: number) => {
        await db.query(
          `INSERT INTO users (id, email, status, created_at)
           VALUES ($1, $2, $3, now() - make_interval(days => $4))`,
          [id, `${id}@example.com`, status, daysAgo],
        );
        await db.query(`INSERT INTO user_passwords (user_id, sealed) VALUES ($1, 'ph1.AAAA')`, [
          id,
        ]);
        await db.query(
          `INSERT INTO auth_methods (user_id, kind, identifier, binding) VALUES ($1, 'email', $2, $3)`,
          [id, `${id}@example.com`, `mb1.${'A'.repeat(43)}`],
        );
      };
      await account(ids.pendingOld, 'pending', 40);
      await account(ids.pendingRecent, 'pending', 2);
      await account(ids.activeOld, 'active', 400);
    });
    after(async () => ts?.stop());

    it('with every period 0, deletes nothing', async () => {
      const counts = await ts.service.db.transaction((tx) =>
        purgeExpiredRows(tx, { authSessionDays: 0, opsLogDays: 0, jobDays: 0 }),
      );
      assert.deepEqual(counts, {
        authSessions: 0,
        refreshTokens: 0,
        opsLogs: 0,
        jobs: 0,
        pendingAccounts: 0,
      });
    });

    it('purges what is past its retention, keeps the rest, and records the counts', async () => {
      const db = ts.service.db;
      const counts = await ts.service.sweeper.purgeRetention();
      assert.deepEqual(counts, {
        authSessions: 2,
        refreshTokens: 3,
        opsLogs: 1,
        jobs: 2,
        pendingAccounts: 1,
      });
      const { rows: users } = await db.query<{ id: string }>(
        'SELECT id FROM users WHERE id = ANY($1::uuid[])',
        [[ids.pendingOld, ids.pendingRecent, ids.activeOld]],
      );
      assert.deepEqual(
        users.map((u) => u.id).sort(),
        [ids.pendingRecent, ids.activeOld].sort(),
        'an old unconfirmed registration goes; a recent one and a confirmed account stay',
      );
      for (const table of ['user_passwords', 'auth_methods']) {
        const { rows } = await db.query(`SELECT 1 FROM ${table} WHERE user_id = $1`, [
          ids.pendingOld,
        ]);
        assert.equal(rows.length, 0, `${table} row of the purged registration`);
      }

      const { rows: sessions } = await db.query<{ id: string }>('SELECT id FROM auth_sessions');
      assert.deepEqual(
        sessions.map((s) => s.id).sort(),
        [ids.live, ids.revokedRecent].sort(),
        'live and recently ended login sessions stay',
      );
      const { rows: tokens } = await db.query<{ session_id: string }>(
        'SELECT session_id FROM refresh_tokens',
      );
      assert.deepEqual(
        tokens.map((t) => t.session_id).sort(),
        [ids.live, ids.revokedRecent].sort(),
      );
      const { rows: jobs } = await db.query<{ id: string }>('SELECT id FROM aggregate_jobs');
      assert.deepEqual(
        jobs.map((j) => j.id).sort(),
        [ids.jobRunningOld, ids.jobQueuedOld, ids.jobFailedRecent].sort(),
        'running, queued and recent jobs stay',
      );
      const { rows: aggs } = await db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM aggregates',
      );
      assert.equal(aggs[0]!.n, 1, 'the signed result stays');
      const { rows: ops } = await db.query<{ event_type: string; details: unknown }>(
        "SELECT event_type, details FROM ops_logs WHERE event_type LIKE 'test.%' OR event_type = 'retention.purged' ORDER BY id",
      );
      assert.deepEqual(
        ops.map((o) => o.event_type),
        ['test.recent', 'retention.purged'],
      );
      const details = ops[1]!.details;
      assert.deepEqual(typeof details === 'string' ? JSON.parse(details) : details, counts);
      assert.ok(
        ts.logs.some((l) => l.includes('"event":"retention.purged"') && l.includes('"opsLogs":1')),
        'the run is logged',
      );

      // A second run finds nothing left to delete, and says so.
      assert.deepEqual(await ts.service.sweeper.purgeRetention(), {
        authSessions: 0,
        refreshTokens: 0,
        opsLogs: 0,
        jobs: 0,
        pendingAccounts: 0,
      });
    });
  });
}
