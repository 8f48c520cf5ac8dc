/**
 * One small interface over the two engines the host runs on: PGlite (PostgreSQL compiled to
 * WASM, embedded, the default) and a PostgreSQL server through `pg` (when DATABASE_URL is set).
 * The schema, roles and functions are the same SQL on both. Repositories see only `Db`.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import type { Config } from '../config.js';
import { databaseStartupError } from '../startup-error.js';
import { lockDataDir, secureDataDir, tightenTree } from './data-dir.js';

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
 * the files.
 */
const PGLITE_MEMORY = [
  ['shared_buffers', '16MB'],
  ['wal_buffers', '1MB'],
  ['work_mem', '2MB'],
  ['maintenance_work_mem', '16MB'],
  ['temp_buffers', '2MB'],
] as const;

export async function openPglite(dataDir: string | null): Promise<Db> {
  const { PGlite } = await import('@electric-sql/pglite');
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const options = {
    startParams: [
      ...PGlite.defaultStartParams,
      ...PGLITE_MEMORY.flatMap(([name, value]) => ['-c', `${name}=${value}`]),
    ],
  };
  const db = dataDir ? await PGlite.create(dataDir, options) : await PGlite.create(options);
  return {
    engine: 'pglite',
    query: async <R>(sql: string, params?: unknown[]) => ({
      rows: (await db.query<R>(sql, params)).rows,
    }),
    exec: async (sql) => {
      await db.exec(sql);
    },
    transaction: (fn) =>
      db.transaction((tx) =>
        fn({
          query: async <R>(sql: string, params?: unknown[]) => ({
            rows: (await tx.query<R>(sql, params)).rows,
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

export async function openPostgres(connectionString: string, max = 10): Promise<Db> {
  const pool = new pg.Pool({ connectionString, max });
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
  config: Pick<Config, 'databaseUrl' | 'dataDir'>,
): Promise<Db> {
  if (config.databaseUrl) {
    try {
      return await openPostgres(config.databaseUrl);
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
