/**
 * The log head lock and the head read in one round trip (`log_lock_head()`, migration 022;
 * issue 17). What it must keep from the two statements it replaces: the head it returns is read
 * after the lock is held, so a writer that waited for another one's batch sees that batch's
 * checkpoint (otherwise it would sign over a stale head). On PGlite and, with
 * TEST_DATABASE_URL, on PostgreSQL; the two-writer case needs two connections (PostgreSQL).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { openPostgres, type Db } from '../../src/host/db/database.js';
import { migrate } from '../../src/host/db/migrate.js';
import { createLogStore } from '../../src/host/log/log-store.js';
import { createTestDatabase, openTestPglite } from '../helpers/service.js';

const checkpoint = (size: number) => ({
  size,
  rootHash: randomBytes(32).toString('base64'),
  note: `note ${size}`,
});

const engines: [string, () => Promise<{ db: Db; url?: string; drop: () => Promise<void> }>][] = [
  [
    'PGlite',
    async () => ({ db: await openTestPglite({ migrated: true }), drop: async () => undefined }),
  ],
];
if (process.env.TEST_DATABASE_URL) {
  engines.push([
    'PostgreSQL',
    async () => {
      const t = await createTestDatabase();
      return { db: await openPostgres(t.url, 4), url: t.url, drop: t.drop };
    },
  ]);
}

for (const [engine, make] of engines) {
  describe(`log_lock_head() (${engine})`, () => {
    let db: Db;
    let drop: () => Promise<void>;
    before(async () => {
      ({ db, drop } = await make());
      await migrate(db);
    });
    after(async () => {
      await db.close();
      await drop();
    });

    it('returns no head on an empty log, then the newest checkpoint, in one statement', async () => {
      const store = createLogStore(db);
      const sent: string[] = [];
      const head = () =>
        db.transaction((tx) =>
          store.lockHead({
            query: (sql, params, options) => {
              sent.push(sql);
              return tx.query(sql, params, options);
            },
            exec: (sql) => tx.exec(sql),
          }),
        );
      assert.equal(await head(), null);
      assert.equal(sent.length, 1, 'the lock and the read are one statement');
      const cp1 = checkpoint(1);
      const cp3 = checkpoint(3);
      await db.transaction(async (tx) => {
        await store.insertCheckpoint(tx, cp1);
        await store.insertCheckpoint(tx, cp3);
      });
      assert.deepEqual(await head(), cp3);
    });

    it('refuses a log whose head row is gone', async () => {
      await assert.rejects(
        db.transaction(async (tx) => {
          await tx.query('DELETE FROM log_head');
          await createLogStore(db).lockHead(tx);
        }),
        /log_head row missing/,
      );
    });

    it('only app_service may run it', async () => {
      const { rows } = await db.query<{ app: boolean; operator: boolean; anyone: boolean }>(
        `SELECT has_function_privilege('app_service', 'log_lock_head()', 'EXECUTE') AS app,
                has_function_privilege('operator_readonly', 'log_lock_head()', 'EXECUTE') AS operator,
                has_function_privilege('public', 'log_lock_head()', 'EXECUTE') AS anyone`,
      );
      assert.deepEqual(rows[0], { app: true, operator: false, anyone: false });
    });
  });
}

if (process.env.TEST_DATABASE_URL) {
  describe('log_lock_head() with two writers (PostgreSQL)', () => {
    it('a writer that waited for the lock reads the head the holder committed', async () => {
      const t = await createTestDatabase();
      const db = await openPostgres(t.url, 2);
      const a = new pg.Client({ connectionString: t.url });
      const b = new pg.Client({ connectionString: t.url });
      try {
        await migrate(db);
        const store = createLogStore(db);
        await store.insertCheckpoint(db, checkpoint(1));
        await a.connect();
        await b.connect();
        // A holds the lock and stores a newer head; B asks for the lock meanwhile.
        await a.query('BEGIN');
        const held = await a.query<{ tree_size: string }>('SELECT * FROM log_lock_head()');
        assert.equal(held.rows[0]?.tree_size, '1');
        await a.query(
          `INSERT INTO log_checkpoints (tree_size, root_hash, note) VALUES ($1, $2, $3)`,
          [2, randomBytes(32).toString('base64'), 'note 2'],
        );
        await b.query('BEGIN');
        const waiting = b.query<{ tree_size: string }>('SELECT * FROM log_lock_head()');
        // B's call has started and waits for the lock (it is granted once A ends).
        for (;;) {
          const { rows } = await db.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_stat_activity
              WHERE datname = current_database() AND wait_event_type = 'Lock'`,
          );
          if (rows[0]!.n > 0) break;
          await new Promise((r) => setTimeout(r, 10));
        }
        await a.query('COMMIT');
        const seen = await waiting;
        await b.query('COMMIT');
        assert.equal(seen.rows[0]?.tree_size, '2', 'the head A committed while B waited');
      } finally {
        await a.end().catch(() => undefined);
        await b.end().catch(() => undefined);
        await db.close();
        await t.drop();
      }
    });
  });
}
