/**
 * One small interface over the two engines the host runs on: PGlite (PostgreSQL compiled to
 * WASM, embedded, the default) and a PostgreSQL server through `pg` (when DATABASE_URL is set).
 * The schema, roles and functions are the same SQL on both. Repositories see only `Db`.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, renameSync, rmdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import pg from 'pg';
import type { Config } from '../config.js';
import { databaseStartupError } from '../startup-error.js';
import { lockDataDir, secureDataDir, tightenTree } from './data-dir.js';
import { pgliteStatements } from './pglite-statements.js';

export interface QueryOptions {
  /**
   * A name for a statement run often with the same text (PostgreSQL prepares it once per
   * connection and then only binds and executes). Never a name for text built per call.
   */
  name?: string;
}

export interface Queryable {
  query<R = Record<string, unknown>>(
    sql: string,
    params?: unknown[],
    options?: QueryOptions,
  ): Promise<{ rows: R[] }>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export interface Db extends Queryable {
  readonly engine: 'pglite' | 'postgres';
  /** All-or-nothing: `fn`'s statements commit together or not at all. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/**
 * PGlite's memory (issue 17). It runs PostgreSQL's defaults inside its WASM heap, which only
 * grows: shared_buffers 128 MB, wal_buffers 4 MB, work_mem 4 MB, maintenance_work_mem 64 MB.
 * A bare instance then idles at ~470 MiB RSS here; with these it is ~270–300 MiB. The data
 * of a single-node service fits the smaller buffer pool, and the OS page cache still holds
 * the files. They are passed at every start and, for a data folder created here, also written
 * into its postgresql.conf (initdb's `-c`).
 */
const PGLITE_MEMORY = [
  ['shared_buffers', '16MB'],
  ['wal_buffers', '1MB'],
  ['work_mem', '2MB'],
  ['maintenance_work_mem', '16MB'],
  ['temp_buffers', '2MB'],
] as const;

/**
 * V8 compiles PGlite's WASM with its baseline compiler (Liftoff) only. With tier-up on, V8
 * recompiles a function with its optimizing compiler once it is hot, and PostgreSQL's parser
 * (`raw_parser`, 105 KB of WASM: the grammar's one big switch) is hot from the first queries:
 * optimizing that one function takes ~600 MB of compiler memory for 1–4 s, so the host peaked
 * at 700–1 200 MiB RSS and kept ~50 MiB of it as malloc fragmentation (bench/README.md,
 * "Memory"). The cost is the speed of PGlite's own code (see the same section). The flags are
 * process-wide and must be set before the module is compiled (PGlite compiles it once per
 * process); the host loads no other WASM on a hot path.
 */
const WASM_BASELINE_ONLY = ['--no-wasm-tier-up', '--no-wasm-dynamic-tiering'] as const;

function pgliteOptions(defaultStartParams: string[]) {
  const memory = PGLITE_MEMORY.flatMap(([name, value]) => ['-c', `${name}=${value}`]);
  return { startParams: [...defaultStartParams, ...memory], initDbStartParams: memory };
}

/**
 * Creates a PGlite data folder in a child process (then the host opens it as an existing one).
 * PGlite's initdb runs a second PostgreSQL instance and initdb's own WASM next to the first,
 * each with its heap: ~600 MiB RSS for a few seconds, and the host kept ~90 MiB of malloc heap
 * it could not return afterwards. In a child all of it ends with the process. The folder is
 * built under a temporary name and renamed into place once complete, so a start interrupted
 * during initdb leaves no half-made database behind (the next start removes the leftover).
 */
async function initPgliteDataDir(dataDir: string, initDbStartParams: string[]): Promise<void> {
  const tmp = `${dataDir}.init`;
  rmSync(tmp, { recursive: true, force: true });
  const script = [
    `const { PGlite } = await import(${JSON.stringify(import.meta.resolve('@electric-sql/pglite'))});`,
    `const db = await PGlite.create(process.argv[1], JSON.parse(process.argv[2]));`,
    `await db.close();`,
  ].join('\n');
  await new Promise<void>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        ...WASM_BASELINE_ONLY,
        '--input-type=module',
        '-e',
        script,
        tmp,
        JSON.stringify({ initDbStartParams }),
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env.PATH ?? '' } },
    );
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      if (stderr.length < 4000) stderr += chunk.toString('utf8');
    });
    child.once('error', reject);
    // initdb takes seconds; a child that never ends must not hang the start.
    const timer = setTimeout(() => child.kill('SIGKILL'), INITDB_TIMEOUT_MS);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else
        reject(
          new Error(`PGlite initdb failed (code ${code}, signal ${signal}): ${stderr.trim()}`),
        );
    });
  });
  if (existsSync(dataDir)) rmdirSync(dataDir); // empty (isEmptyOrMissing)
  renameSync(tmp, dataDir);
}

const INITDB_TIMEOUT_MS = 180_000;

function isEmptyOrMissing(dir: string): boolean {
  return !existsSync(dir) || readdirSync(dir).length === 0;
}

/**
 * PGlite on `dataDir` (initdb'd first when empty or missing), or in memory when it is null.
 * In memory, `dump` (a data folder as PGlite's `dumpDataDir` writes it, uncompressed) is loaded
 * instead of running initdb: the tests start their in-memory databases from one initdb'd
 * folder (test/helpers/service.ts, `openTestPglite`).
 */
export async function openPglite(dataDir: string | null, dump?: Blob): Promise<Db> {
  setFlagsFromString(WASM_BASELINE_ONLY.join(' '));
  const { PGlite } = await import('@electric-sql/pglite');
  const options = pgliteOptions(PGlite.defaultStartParams);
  if (dataDir && isEmptyOrMissing(dataDir))
    await initPgliteDataDir(dataDir, options.initDbStartParams);
  const db = dataDir
    ? await PGlite.create(dataDir, { startParams: options.startParams })
    : dump
      ? await PGlite.create({ loadDataDir: dump, startParams: options.startParams })
      : await PGlite.create(options);
  // A named statement is prepared once, as node-postgres does on PostgreSQL (pglite-statements.ts).
  const named = pgliteStatements(db);
  return {
    engine: 'pglite',
    query: async <R>(sql: string, params?: unknown[], options?: QueryOptions) => ({
      rows: options?.name
        ? await named.query<R>(options.name, sql, params ?? [], null)
        : (await db.query<R>(sql, params)).rows,
    }),
    exec: async (sql) => {
      await db.exec(sql);
    },
    transaction: (fn) =>
      db.transaction((tx) =>
        fn({
          query: async <R>(sql: string, params?: unknown[], options?: QueryOptions) => ({
            rows: options?.name
              ? await named.query<R>(options.name, sql, params ?? [], tx)
              : (await tx.query<R>(sql, params)).rows,
          }),
          exec: async (sql: string) => {
            await tx.exec(sql);
          },
        }),
      ),
    close: () => db.close(),
  };
}

/** A pool or one of its clients as a `Queryable`; a named query is prepared once per connection. */
export function pgQueryable(target: pg.Pool | pg.PoolClient): Queryable {
  return {
    query: async <R>(sql: string, params?: unknown[], options?: QueryOptions) => ({
      rows: (
        await (options?.name
          ? target.query({ name: options.name, text: sql, values: params as unknown[] })
          : target.query(sql, params as unknown[]))
      ).rows as R[],
    }),
    exec: async (sql: string) => {
      await target.query(sql);
    },
  };
}

/** How long a query waits for a free pool connection by default (DATABASE_POOL_WAIT_MS). */
export const DEFAULT_POOL_WAIT_MS = 10_000;

/**
 * pg-pool's refusal of a query that waited `connectionTimeoutMillis` for a connection (it has no
 * code): the error handler answers it 503 DATABASE_UNAVAILABLE.
 */
export const isPoolWaitTimeout = (err: unknown): boolean =>
  err instanceof Error && err.message === 'timeout exceeded when trying to connect';

/**
 * `waitMs` bounds the wait for one of the `max` connections: without it pg-pool queues every
 * query for as long as the database is behind, so a flood piles up requests (their bodies and
 * promises) on the host and runs them after their clients gave up.
 */
export async function openPostgres(
  connectionString: string,
  max = 10,
  waitMs = DEFAULT_POOL_WAIT_MS,
): Promise<Db> {
  const pool = new pg.Pool({ connectionString, max, connectionTimeoutMillis: waitMs });
  // An idle client's error (server restart) must not crash the host; the next query reconnects.
  pool.on('error', () => undefined);
  try {
    await pool.query('SELECT 1');
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw err;
  }
  return {
    engine: 'postgres',
    ...pgQueryable(pool),
    transaction: async (fn) => {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const out = await fn(pgQueryable(client));
        await client.query('COMMIT');
        return out;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}

/**
 * The database a configuration names: PostgreSQL at DATABASE_URL, or the embedded PGlite in
 * DATA_DIR/pglite — then DATA_DIR is made private and locked to this process until close()
 * (data-dir.ts). Failures are StartupErrors naming the variable to change.
 */
export async function openDatabaseFor(
  config: Pick<Config, 'databaseUrl' | 'dataDir'> & Partial<Pick<Config, 'databasePoolWaitMs'>>,
): Promise<Db> {
  if (config.databaseUrl) {
    try {
      return await openPostgres(config.databaseUrl, undefined, config.databasePoolWaitMs);
    } catch (err) {
      throw databaseStartupError(err);
    }
  }
  secureDataDir(config.dataDir);
  const lock = lockDataDir(config.dataDir);
  let db: Db;
  try {
    db = await openPglite(join(config.dataDir, 'pglite'));
    // PGlite's initial files are born 0666 whatever the umask (data-dir.ts).
    tightenTree(config.dataDir);
  } catch (err) {
    lock.release();
    throw err;
  }
  return {
    ...db,
    async close() {
      try {
        await db.close();
        tightenTree(config.dataDir);
      } finally {
        lock.release();
      }
    },
  };
}
