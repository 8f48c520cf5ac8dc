/**
 * Operator and data at rest: attack review (SECURITY.md). What `operator_readonly` may read is
 * metadata, results and logs; two columns of the tables it reads are not that:
 *
 * - `users.email` names the person behind a user id, and so behind that id's sessions
 *   (exchange, label) and signed results;
 * - `aggregates.account_salt` opens a v2 result's exchange-account commitment: with it a
 *   guessed account id (Binance uids are small numbers) is tested against the payload.
 *
 * Both are withheld by column grants (migration 024); the rest of both tables stays readable.
 * And no role but the schema owner may create objects in `public` (a function or operator
 * planted there that the service or the migration resolves instead of the built-in runs with
 * their rights), also on a database first made by a PostgreSQL before 15, where PUBLIC had
 * CREATE on `public` by default (simulated here by granting it before migrating).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { openPglite, openPostgres, type Db } from '../../src/host/db/database.js';
import { migrate } from '../../src/host/db/migrate.js';
import { createTestDatabase, engines } from '../helpers/service.js';

const DENIED = '42501';

async function sqlState(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code;
  }
}

for (const engine of engines()) {
  describe(`operator_readonly columns and the public schema on ${engine}`, () => {
    let db: Db;
    let drop: (() => Promise<void>) | undefined;
    /** The connection that acts as operator_readonly (on PostgreSQL one of its own: a pool
     * drops a connection whose query failed, and the next one would not have the role). */
    let op: Pick<Db, 'query' | 'exec'>;
    let client: pg.Client | undefined;

    before(async () => {
      if (engine === 'pglite') {
        db = await openPglite(null);
      } else {
        const t = await createTestDatabase();
        drop = t.drop;
        db = await openPostgres(t.url, 1);
        client = new pg.Client({ connectionString: t.url });
        await client.connect();
      }
      // A database made before PostgreSQL 15 (or by an administrator who opened it up).
      await db.exec('GRANT CREATE ON SCHEMA public TO PUBLIC');
      await migrate(db);
      await db.query("INSERT INTO users (email) VALUES ('olga@example.com')");
      await db.query(
        `INSERT INTO aggregates (payload, signature, account_salt)
         VALUES ('{"pnl":1}', 'c2lnbmF0dXJl', $1)`,
        [Buffer.alloc(32, 7).toString('base64')],
      );
    });
    after(async () => {
      await client?.end();
      await db?.close();
      await drop?.();
    });

    /** Runs `fn` with `op` acting as operator_readonly. */
    async function asOperator<T>(fn: () => Promise<T>): Promise<T> {
      op = client
        ? {
            query: async <R>(sql: string) => ({ rows: (await client!.query(sql)).rows as R[] }),
            exec: async (sql: string) => void (await client!.query(sql)),
          }
        : db;
      await op.exec('SET ROLE operator_readonly');
      try {
        return await fn();
      } finally {
        await op.exec('RESET ROLE');
      }
    }

    it('withholds users.email and aggregates.account_salt, and nothing else of those tables', async () => {
      await asOperator(async () => {
        assert.equal(await sqlState(op.query('SELECT email FROM users')), DENIED);
        assert.equal(await sqlState(op.query('SELECT * FROM users')), DENIED);
        assert.equal(await sqlState(op.query('SELECT account_salt FROM aggregates')), DENIED);
        assert.equal(
          await sqlState(op.query("SELECT id FROM users WHERE email = 'olga@example.com'")),
          DENIED,
        );
        const users = await op.query('SELECT id, status, roles, created_at, updated_at FROM users');
        assert.equal(users.rows.length, 1);
        const results = await op.query(
          'SELECT id, session_id, payload, signature, job_id, payload_digest, created_at FROM aggregates',
        );
        assert.equal(results.rows.length, 1);
      });
    });

    it('no role but the owner may create in the public schema', async () => {
      const { rows } = await db.query<{ op: boolean; app: boolean; pub: boolean }>(
        `SELECT has_schema_privilege('operator_readonly', 'public', 'CREATE') AS op,
                has_schema_privilege('app_service', 'public', 'CREATE') AS app,
                (SELECT bool_or(a.privilege_type = 'CREATE' AND a.grantee = 0)
                   FROM pg_namespace n, aclexplode(n.nspacl) a
                  WHERE n.nspname = 'public') AS pub`,
      );
      assert.deepEqual(rows[0], { op: false, app: false, pub: false });
      await asOperator(async () => {
        assert.equal(
          await sqlState(
            op.query(
              'CREATE FUNCTION public.lower(v varchar) RETURNS text LANGUAGE sql AS $$ SELECT v $$',
            ),
          ),
          DENIED,
        );
      });
    });
  });
}
