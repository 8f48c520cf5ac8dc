/**
 * Property: the database roles enforce the seed's access-control matrix. `operator_readonly`
 * can read users, sessions, aggregates, aggregate_jobs, merkle_logs, log_checkpoints, log_cosignatures, ops_logs and the
 * cluster metadata (job_leases, cluster_members) — and nothing in what it can
 * read holds ciphertext, a binding or sealed state — but is refused (SQLSTATE 42501) on every
 * other table (credentials, enclave_state, anything added later), on every write (INSERT, UPDATE,
 * DELETE, TRUNCATE), on cleanup_expired_credentials() and on creating objects. `app_service`
 * can read and write credentials and run the cleanup, but cannot truncate, drop or create.
 * On PostgreSQL each role is exercised through its own LOGIN member role and connection.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { engines, startTestService, type TestService } from '../helpers/service.js';
import { uniqueCredentials } from '../helpers/client.js';
import {
  actAsRole,
  dumpPublicSchema,
  enclaveKey,
  sqlState,
  submitOk,
  type RoleSession,
} from '../helpers/security-util.js';

const OPERATOR_READABLE = [
  'aggregate_jobs',
  'aggregates',
  // Cluster metadata (migration 013): who runs a scheduled job, and members' URLs and
  // measurements. Empty on a single instance.
  'cluster_members',
  'job_leases',
  'log_checkpoints',
  'log_cosignatures',
  'merkle_logs',
  'ops_logs',
  'sessions',
  'users',
];
/**
 * Tables the operator reads only some columns of (migration 024): `users.email` (who a user id
 * is) and `aggregates.account_salt` (opens the exchange-account commitment) are withheld;
 * test/security/operator-columns.test.ts checks those two.
 */
const OPERATOR_COLUMNS: Record<string, string> = {
  users: 'id, status, roles, created_at, updated_at',
  aggregates: 'id, session_id, payload, signature, job_id, payload_digest, created_at',
};
const DENIED = '42501'; // insufficient_privilege

for (const engine of engines()) {
  describe(`database roles on ${engine}`, () => {
    let ts: TestService;
    /** Every public table, with one of its columns (for UPDATE statements). */
    let tables: { name: string; column: string }[] = [];

    before(async () => {
      ts = await startTestService(engine);
      const { pub } = await enclaveKey(ts);
      await submitOk(ts.service.app, pub, uniqueCredentials('role1'));
      await submitOk(ts.service.app, pub, uniqueCredentials('role2'), {
        hpke: 'HPKE-Base-X25519-SHA256-A256GCM',
      });
      // Something in every operator-readable table, so "readable" is seen on real rows.
      await ts.service.db.query("INSERT INTO users (email) VALUES ('operator-test@example.com')");
      await ts.service.db.query(
        `INSERT INTO aggregates (payload, signature) VALUES ('{"pnl": 1}', 'c2lnbmF0dXJl')`,
      );
      await ts.service.db.query(
        `INSERT INTO aggregate_jobs (id, session_id, status, request)
         SELECT gen_random_uuid(), id, 'running', '{}' FROM sessions LIMIT 1`,
      );
      // merkle_logs and log_checkpoints already hold the submissions' entries and checkpoints.
      const { rows } = await ts.service.db.query<{ name: string; column: string }>(
        `SELECT c.table_name AS name, min(c.column_name) AS column
           FROM information_schema.columns c JOIN information_schema.tables t
             ON t.table_schema = c.table_schema AND t.table_name = c.table_name
          WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
          GROUP BY c.table_name ORDER BY c.table_name`,
      );
      tables = rows;
      for (const t of [...OPERATOR_READABLE, 'credentials', 'enclave_state']) {
        assert.ok(
          tables.some((x) => x.name === t),
          `table ${t} missing`,
        );
      }
    });
    after(async () => ts?.stop());

    async function as<T>(
      role: 'operator_readonly' | 'app_service',
      fn: (s: RoleSession) => Promise<T>,
    ): Promise<T> {
      const s = await actAsRole(ts, role);
      try {
        return await fn(s);
      } finally {
        await s.close();
      }
    }

    it('operator_readonly reads metadata tables only; credentials, enclave_state and any other table are refused', async () => {
      await as('operator_readonly', async (op) => {
        for (const t of tables) {
          const sql = `SELECT * FROM ${t.name}`;
          if (OPERATOR_READABLE.includes(t.name)) {
            const columns = OPERATOR_COLUMNS[t.name];
            const { rows } = await op.query(columns ? `SELECT ${columns} FROM ${t.name}` : sql);
            if (columns)
              assert.equal(await sqlState(op.query(sql), `operator ${sql}`), DENIED, sql);
            // No witness is configured here, so log_cosignatures is readable but empty; so are the
            // cluster tables of a single instance.
            if (!['log_cosignatures', 'cluster_members', 'job_leases'].includes(t.name))
              assert.ok(rows.length > 0, `${t.name} should be readable and non-empty`);
          } else {
            assert.equal(await sqlState(op.query(sql), `operator ${sql}`), DENIED, sql);
            assert.equal(
              await sqlState(
                op.query(`SELECT count(*) FROM ${t.name}`),
                `operator count ${t.name}`,
              ),
              DENIED,
            );
          }
        }
        // Not even one column of the secret-bearing tables, nor through a join.
        for (const sql of [
          'SELECT session_id FROM credentials',
          'SELECT generation FROM enclave_state',
          'SELECT s.id FROM sessions s JOIN credentials c ON c.session_id = s.id',
          'SELECT s.id FROM sessions s WHERE EXISTS (SELECT 1 FROM credentials c WHERE c.session_id = s.id)',
        ]) {
          assert.equal(await sqlState(op.query(sql), `operator ${sql}`), DENIED, sql);
        }
      });
    });

    it('nothing an operator can read holds ciphertext, key material, bindings or sealed state', async () => {
      const { rows: secrets } = await ts.service.db.query<Record<string, string | null>>(
        'SELECT ephemeral_pub, nonce, ciphertext, tag, binding FROM credentials',
      );
      const { rows: sealed } = await ts.service.db.query<{ sealed: string }>(
        'SELECT sealed FROM enclave_state',
      );
      const values = [
        ...secrets.flatMap((r) => Object.values(r)),
        ...sealed.map((s) => s.sealed),
      ].filter((v): v is string => typeof v === 'string' && v.length >= 16);
      assert.ok(values.length >= 2 * 4 + 1);
      const readable = await as('operator_readonly', async (op) => {
        const dump = await dumpPublicSchema({
          query: async <R>(sql: string, params?: unknown[]) => {
            // dumpPublicSchema reads every table; keep only what the operator is allowed to see.
            const m = /FROM public\."([a-z_]+)"/.exec(sql);
            if (m && !OPERATOR_READABLE.includes(m[1]!)) return { rows: [] as R[] };
            const columns = m && OPERATOR_COLUMNS[m[1]!];
            if (columns) {
              // A whole-row reference needs every column: read the granted ones instead.
              const { rows } = await op.query(
                `SELECT (${columns})::text AS row FROM public."${m[1]!}"`,
              );
              return { rows: rows as R[] };
            }
            return (await op.query(sql, params)) as { rows: R[] };
          },
        });
        return dump.flatMap((d) => d.rows).join('\n');
      });
      assert.ok(readable.includes('c2lnbmF0dXJl')); // positive control (a signature)
      assert.ok(!readable.includes('operator-test@example.com')); // users.email is withheld
      for (const v of values)
        assert.ok(!readable.includes(v), 'operator-readable data contains a secret column value');
    });

    it('operator_readonly cannot write anything, run the cleanup, or create objects', async () => {
      await as('operator_readonly', async (op) => {
        for (const t of tables) {
          for (const sql of [
            `INSERT INTO ${t.name} SELECT * FROM ${t.name} WHERE false`,
            `UPDATE ${t.name} SET ${t.column} = ${t.column} WHERE false`,
            `DELETE FROM ${t.name} WHERE false`,
            `TRUNCATE ${t.name}`,
          ]) {
            assert.equal(await sqlState(op.query(sql), `operator ${sql}`), DENIED, sql);
          }
        }
        assert.equal(
          await sqlState(
            op.query("UPDATE sessions SET status = 'active', ended_at = NULL"),
            'reactivate',
          ),
          DENIED,
        );
        assert.equal(
          await sqlState(op.query('SELECT * FROM cleanup_expired_credentials()'), 'cleanup'),
          DENIED,
        );
        assert.equal(
          await sqlState(op.query('CREATE TABLE operator_stash (x text)'), 'create table'),
          DENIED,
        );
        assert.equal(
          await sqlState(
            op.query(
              'CREATE FUNCTION operator_peek() RETURNS bigint LANGUAGE sql SECURITY DEFINER AS $$ SELECT count(*) FROM credentials $$',
            ),
            'create function',
          ),
          DENIED,
        );
        if (ts.engine === 'postgres') {
          // A real operator login cannot step up into the service's role.
          assert.equal(await sqlState(op.query('SET ROLE app_service'), 'set role'), DENIED);
        }
      });
      // Nothing changed.
      const { rows } = await ts.service.db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM sessions WHERE status = 'active'",
      );
      assert.equal(Number(rows[0]!.n), 2);
    });

    it('app_service reads and writes credentials and runs the cleanup, but cannot truncate, drop or create', async () => {
      const id = crypto.randomUUID();
      const b64 = (n: number) => randomBytes(n).toString('base64');
      await as('app_service', async (app) => {
        const { rows: before } = await app.query('SELECT count(*)::int AS n FROM credentials');
        assert.equal(Number(before[0]!.n), 2);
        await app.query(
          `INSERT INTO sessions (id, exchange, label, created_at, expires_at)
           VALUES ($1, 'binance', 'role-test', now(), now() + interval '1 hour')`,
          [id],
        );
        await app.query(
          `INSERT INTO credentials (session_id, alg, key_id, ephemeral_pub, nonce, ciphertext, tag, binding,
                                    envelope_digest, created_at, expires_at)
           VALUES ($1, 'X25519-HKDF-SHA256-A256GCM', $2, $3, $4, $5, $6, $7, $8, now(), now() + interval '1 hour')`,
          [
            id,
            randomBytes(32).toString('base64url'),
            b64(32),
            b64(12),
            b64(40),
            b64(16),
            b64(32),
            randomBytes(32).toString('hex'),
          ],
        );
        await app.query(
          "UPDATE credentials SET expires_at = now() - interval '1 second' WHERE session_id = $1",
          [id],
        );
        const { rows } = await app.query(
          'SELECT ciphertext FROM credentials WHERE session_id = $1',
          [id],
        );
        assert.equal(rows.length, 1);
        const { rows: swept } = await app.query(
          'SELECT session_id FROM cleanup_expired_credentials()',
        );
        assert.deepEqual(
          swept.map((r) => r.session_id),
          [id],
        );
        await app.query('INSERT INTO ops_logs (event_type, session_id) VALUES ($1, $2)', [
          'credential.expired',
          id,
        ]);
        await app.query('DELETE FROM ops_logs WHERE session_id = $1', [id]);
        await app.query('DELETE FROM sessions WHERE id = $1', [id]);
        const { rows: sealed } = await app.query('SELECT generation FROM enclave_state');
        assert.ok(sealed.length >= 1);

        // The transparency log is append-only, even for the service.
        for (const sql of [
          'UPDATE merkle_logs SET entry = entry',
          'DELETE FROM merkle_logs',
          'UPDATE log_checkpoints SET note = note',
          'DELETE FROM log_checkpoints',
        ]) {
          assert.equal(await sqlState(app.query(sql), `app ${sql}`), DENIED, sql);
        }
        assert.equal(await sqlState(app.query('TRUNCATE credentials'), 'app truncate'), DENIED);
        assert.equal(await sqlState(app.query('DROP TABLE credentials'), 'app drop'), DENIED);
        assert.equal(
          await sqlState(app.query('CREATE TABLE app_stash (x text)'), 'app create'),
          DENIED,
        );
        assert.equal(
          await sqlState(
            app.query('ALTER TABLE credentials DROP CONSTRAINT credentials_v1_fields'),
            'app alter',
          ),
          DENIED,
        );
      });
      const { rows } = await ts.service.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM credentials',
      );
      assert.equal(Number(rows[0]!.n), 2);
    });
  });
}
