/**
 * The database ceiling for submit_key (issue 17), measured on the service's own database in
 * a scratch schema (`bench_ceiling`, copies of the tables with their constraints and indexes,
 * dropped afterwards) so that nothing touches the real log:
 *
 * - PostgreSQL: the same rows a submission writes (spent envelope, session, credential, ops
 *   event, log leaf, and one checkpoint per transaction) with the service's own statements
 *   (db/bulk.ts, log-store.ts), `batch` requests per transaction, durable commits (the
 *   server's default synchronous_commit), `connections` connections at once.
 * - PGlite: single-row durable INSERTs (one autocommitted `sessions` row each) on the same
 *   PGlite instance, serially (PGlite runs one statement at a time).
 *
 * Figures are request-equivalents per second.
 */
import { randomUUID, randomBytes, createHash } from 'node:crypto';
import pg from 'pg';
import { BulkRows } from '../../src/host/db/bulk.js';
import { pgQueryable, type Queryable } from '../../src/host/db/database.js';
import { createLogStore, type StoredLeafRow } from '../../src/host/log/log-store.js';
import { databaseCpu, selfCpuMs } from './cpu.js';
import type { BenchService } from './service.js';

const TABLES = [
  'spent_envelopes',
  'sessions',
  'credentials',
  'ops_logs',
  'merkle_logs',
  'log_checkpoints',
];
const SCHEMA = 'bench_ceiling';

async function createScratch(q: Queryable): Promise<void> {
  await q.exec(
    `DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE; CREATE SCHEMA ${SCHEMA};` +
      TABLES.map((t) => `CREATE TABLE ${SCHEMA}.${t} (LIKE public.${t} INCLUDING ALL);`).join(''),
  );
}

const b64 = (n: number) => randomBytes(n).toString('base64');

/** One submission's rows, valid under the tables' constraints. */
function addRequest(rows: BulkRows, now: number): { subject: string; entry: string } {
  const id = randomUUID();
  const senderKey = b64(32);
  rows.add('spent_envelopes', [senderKey, now + 4200]);
  rows.add('sessions', [id, null, 'binance', 'bench', now, now + 3600]);
  rows.add('credentials', [
    id,
    'X25519-HKDF-SHA256-A256GCM',
    'k'.repeat(43),
    senderKey,
    b64(12),
    b64(200),
    b64(16),
    b64(32),
    randomBytes(32).toString('hex'),
    now,
    now + 3600,
  ]);
  rows.add('ops_logs', [
    'credential.submitted',
    id,
    JSON.stringify({ exchange: 'binance', label: 'bench', keyId: 'k'.repeat(43) }),
  ]);
  const subject = createHash('sha256').update(id).digest('base64url').slice(0, 43);
  return {
    subject,
    entry: JSON.stringify({ v: 1, type: 'credential.submitted', subject, time: now }),
  };
}

export interface WriteCeiling {
  kind: string;
  perSec: number;
  seconds: number;
  /**
   * CPU per request written (ms) over the run: this process (the client side, and PGlite
   * itself) plus, on PostgreSQL, the database's backends (`databaseCpu`). What the database
   * part of a submission costs at the least, for the bench's floor (submit-key.ts).
   */
  cpuMsPerRequest: number;
}

/**
 * Runs `work` and returns the CPU ms it cost the database's client and the database itself:
 * this process's CPU time (the client side, and PGlite, which runs in this process, its WASM
 * included) plus, on PostgreSQL, the CPU of the server's backends of the service's database
 * (`databaseCpu`). Nothing else may run in this process meanwhile.
 */
export async function withDatabaseCpu<T>(
  s: BenchService,
  work: () => Promise<T>,
): Promise<{ result: T; cpuMs: number }> {
  const dbCpu = s.engine === 'postgres' && s.databaseUrl ? await databaseCpu(s.databaseUrl) : null;
  const self0 = selfCpuMs();
  try {
    const result = await work();
    return { result, cpuMs: selfCpuMs() - self0 + (dbCpu ? await dbCpu.stop() : 0) };
  } catch (err) {
    await dbCpu?.stop();
    throw err;
  }
}

export async function writeCeiling(
  s: BenchService,
  opts: { seconds: number; connections: number; batch: number },
): Promise<WriteCeiling> {
  const db = s.service.db;
  await createScratch(db);
  try {
    const { result: r, cpuMs } = await withDatabaseCpu(s, () =>
      s.engine === 'postgres' && s.databaseUrl
        ? pgCeiling(s.databaseUrl, opts)
        : pgliteCeiling(db, opts.seconds),
    );
    return { ...r, cpuMsPerRequest: cpuMs / Math.max(1, r.perSec * r.seconds) };
  } finally {
    await db.exec(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
  }
}

async function pgCeiling(
  url: string,
  opts: { seconds: number; connections: number; batch: number },
): Promise<Omit<WriteCeiling, 'cpuMsPerRequest'>> {
  const pool = new pg.Pool({ connectionString: url, max: opts.connections });
  pool.on('error', () => undefined);
  let nextLeaf = 0;
  let done = 0;
  const end = performance.now() + opts.seconds * 1000;
  const t0 = performance.now();
  try {
    await Promise.all(
      Array.from({ length: opts.connections }, async () => {
        const client = await pool.connect();
        try {
          await client.query(`SET search_path = ${SCHEMA}, public`);
          const q = pgQueryable(client);
          const store = createLogStore(q);
          while (performance.now() < end) {
            const now = Math.floor(Date.now() / 1000);
            const rows = new BulkRows();
            const leaves = [];
            const first = nextLeaf;
            nextLeaf += opts.batch;
            for (let i = 0; i < opts.batch; i++) {
              const { subject, entry } = addRequest(rows, now);
              leaves.push({
                index: first + i,
                entry,
                leafHash: randomBytes(32).toString('hex'),
                subject,
                eventType: 'credential.submitted',
              });
            }
            await client.query('BEGIN');
            await rows.flush(q);
            await store.insertLeavesWithCheckpoint(q, leaves, {
              size: first + opts.batch,
              rootHash: b64(32),
              note: 'bench ceiling checkpoint',
            });
            await client.query('COMMIT');
            done += opts.batch;
          }
        } finally {
          client.release();
        }
      }),
    );
  } finally {
    await pool.end();
  }
  const seconds = (performance.now() - t0) / 1000;
  return {
    kind: `same rows, the service's statements, ${opts.batch}/transaction, durable, ${opts.connections} connections`,
    perSec: done / seconds,
    seconds,
  };
}

/**
 * The log's own database ceiling (bench/log-append.ts): only the rows a log batch writes, the
 * leaves and one checkpoint per transaction with the service's own statement
 * (`insertLeavesWithCheckpoint`), `batch` leaves per transaction, durable commits, one
 * transaction at a time (the log head lock serializes a log's batches), through the service's
 * own `Db` in the scratch schema. `leaves(first, n)` makes the rows (real entry text and leaf
 * hashes, so the constraints check what they check in the service), before the clock starts.
 * Leaves per second.
 */
export async function logWriteCeiling(
  s: BenchService,
  opts: { seconds: number; batch: number },
  leaves: (first: number, n: number) => StoredLeafRow[],
): Promise<Omit<WriteCeiling, 'cpuMsPerRequest'>> {
  const db = s.service.db;
  await createScratch(db);
  try {
    // Rows made before the clock starts (a few distinct batches, taken in turn with their
    // indexes moved on), so that only the database's work is timed.
    const made = Array.from({ length: 4 }, () => leaves(0, opts.batch));
    let done = 0;
    const end = performance.now() + opts.seconds * 1000;
    const t0 = performance.now();
    while (performance.now() < end) {
      const from = done;
      const rows = made[(done / opts.batch) % made.length]!.map((r, i) => ({
        ...r,
        index: from + i,
      }));
      await db.transaction(async (tx) => {
        await tx.query(`SET LOCAL search_path = ${SCHEMA}, public`);
        await createLogStore(tx).insertLeavesWithCheckpoint(tx, rows, {
          size: done + opts.batch,
          rootHash: b64(32),
          note: 'bench ceiling checkpoint',
        });
      });
      done += opts.batch;
    }
    const seconds = (performance.now() - t0) / 1000;
    return {
      kind: `leaves + checkpoint, one statement, ${opts.batch}/transaction, durable, serial`,
      perSec: done / seconds,
      seconds,
    };
  } finally {
    await db.exec(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
  }
}

async function pgliteCeiling(
  db: Queryable,
  seconds: number,
): Promise<Omit<WriteCeiling, 'cpuMsPerRequest'>> {
  const now = Math.floor(Date.now() / 1000);
  const sql = `INSERT INTO ${SCHEMA}.sessions (id, user_id, exchange, label, status, created_at, expires_at)
               VALUES ($1, NULL, 'binance', 'bench', 'active', to_timestamp($2), to_timestamp($3))`;
  let done = 0;
  const end = performance.now() + seconds * 1000;
  const t0 = performance.now();
  while (performance.now() < end) {
    await db.query(sql, [randomUUID(), now, now + 3600]);
    done++;
  }
  const s = (performance.now() - t0) / 1000;
  return { kind: 'single-row durable INSERTs, same PGlite', perSec: done / s, seconds: s };
}
