/**
 * The database part of the token-issuance and login floors (issue 17; bench/auth.ts): the CPU
 * per statement (ms) of the least a refresh and a login must ask of the database, each one a
 * minimal statement on a scratch table (schema `bench_floor`, dropped afterwards) of the
 * service's own database on the same engine, autocommitted (durable, as the service's), named
 * (prepared once per connection, as the service's), `inFlight` at a time through the service's
 * own `Db`. Its CPU is the client's and the database's (`withDatabaseCpu`: this process, PGlite
 * and its WASM included, and on PostgreSQL the server's backends).
 *
 * The tables have only the columns and the one index these statements need (the service's have
 * more of both), so each figure is at most what any implementation pays.
 */
import { randomUUID } from 'node:crypto';
import type { BenchService } from './service.js';
import { withDatabaseCpu } from './write-ceiling.js';

const SCHEMA = 'bench_floor';

export interface AuthStatementsCpu {
  /** A refresh: mark the presented token used and store its successor, in one statement. */
  rotate: number;
  /** A login: the account (its id and password hash) by email. */
  accountLookup: number;
  /** A login: its first refresh token. */
  refreshInsert: number;
}

/** A token hash as stored (64 hex characters), distinct per chain and step, cheap to make. */
const tokenHash = (chain: number, step: number) =>
  `${chain.toString(16)}f${step.toString(16)}`.padStart(64, '0');

export async function authStatementsCpuMs(
  s: BenchService,
  opts: { seconds: number; inFlight: number },
): Promise<AuthStatementsCpu> {
  const db = s.service.db;
  await db.exec(
    `DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE; CREATE SCHEMA ${SCHEMA};
     CREATE TABLE ${SCHEMA}.users (email text PRIMARY KEY, id uuid NOT NULL, password text NOT NULL);
     CREATE TABLE ${SCHEMA}.refresh (token_hash text PRIMARY KEY, session_id uuid NOT NULL,
       user_id uuid NOT NULL, expires_at timestamptz NOT NULL, used_at timestamptz,
       child_hash text);`,
  );
  try {
    const userId = randomUUID();
    const sessionId = randomUUID();
    const expires = Math.floor(Date.now() / 1000) + 30 * 86400;
    await db.query(`INSERT INTO ${SCHEMA}.users (email, id, password) VALUES ($1, $2, $3)`, [
      'bench@example.com',
      userId,
      // An Argon2id PHC string's size.
      `$argon2id$v=19$m=19456,t=2,p=1$${'s'.repeat(22)}$${'h'.repeat(43)}`,
    ]);

    // `inFlight` loops of `step(loop, i)` for `seconds` after a short warm-up; CPU ms per call.
    const cpuPerCall = async (step: (loop: number, i: number) => Promise<void>) => {
      const counters = Array.from({ length: opts.inFlight }, () => 0);
      const run = async (ms: number) => {
        const end = performance.now() + ms;
        let calls = 0;
        await Promise.all(
          counters.map(async (_, loop) => {
            while (performance.now() < end) {
              await step(loop, counters[loop]!++);
              calls++;
            }
          }),
        );
        return calls;
      };
      await run(Math.min(300, opts.seconds * 250));
      const { result: calls, cpuMs } = await withDatabaseCpu(s, () => run(opts.seconds * 1000));
      return cpuMs / Math.max(1, calls);
    };

    // Refresh: one chain of tokens per loop, each step rotating the last one; the statement
    // answers the session and the user, which the new access token names.
    const rotateSql = `WITH parent AS (
        UPDATE ${SCHEMA}.refresh SET used_at = now(), child_hash = $2
         WHERE token_hash = $1 AND used_at IS NULL RETURNING session_id, user_id)
      INSERT INTO ${SCHEMA}.refresh (token_hash, session_id, user_id, expires_at)
      SELECT $2, session_id, user_id, to_timestamp($3) FROM parent
      RETURNING session_id, user_id`;
    const chains = 1_000_000;
    const insertSql = `INSERT INTO ${SCHEMA}.refresh (token_hash, session_id, user_id, expires_at)
      VALUES ($1, $2, $3, to_timestamp($4))`;
    for (let loop = 0; loop < opts.inFlight; loop++)
      await db.query(insertSql, [tokenHash(loop, 0), sessionId, userId, expires]);
    const rotate = await cpuPerCall(async (loop, i) => {
      const { rows } = await db.query(
        rotateSql,
        [tokenHash(loop, i), tokenHash(loop, i + 1), expires],
        { name: 'bench_floor_rotate' },
      );
      if (rows.length !== 1) throw new Error('bench_floor rotate: the chain broke');
    });

    const accountLookup = await cpuPerCall(async () => {
      const { rows } = await db.query(
        `SELECT id, password FROM ${SCHEMA}.users WHERE email = $1`,
        ['bench@example.com'],
        { name: 'bench_floor_account' },
      );
      if (rows.length !== 1) throw new Error('bench_floor account lookup: no row');
    });

    // Login refresh tokens: chains the rotation never reached.
    const refreshInsert = await cpuPerCall(async (loop, i) => {
      await db.query(insertSql, [tokenHash(chains + loop, i), sessionId, userId, expires], {
        name: 'bench_floor_insert',
      });
    });
    return { rotate, accountLookup, refreshInsert };
  } finally {
    await db.exec(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
  }
}
