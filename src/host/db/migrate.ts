/**
 * Applies `migrations/NNN_name.sql` in order, each in its own transaction, and records it with
 * a SHA-256 of its text in `schema_migrations`; an applied file whose text changed is an error
 * (edit by adding a migration, never by rewriting one), and so is a pending one numbered before
 * an applied one (it would run after its successors here but before them on a fresh database:
 * two schemas for one build). On PostgreSQL an advisory lock keeps two hosts starting at once
 * from racing.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { EX_CONFIG, StartupError } from '../startup-error.js';
import type { Db } from './database.js';

const MIGRATIONS_DIR = new URL('./migrations/', import.meta.url);
const LOCK_KEY = 0x636c6f69; // "cloi"

export interface Migration {
  version: string;
  sql: string;
  checksum: string;
}

export function loadMigrations(dir: URL = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((file) => {
      const sql = readFileSync(new URL(file, dir), 'utf8');
      return {
        version: file.replace(/\.sql$/, ''),
        sql,
        checksum: createHash('sha256').update(sql).digest('hex'),
      };
    });
}

function newestOf(versions: Iterable<string>): string | undefined {
  let newest: string | undefined;
  for (const v of versions) if (newest === undefined || v > newest) newest = v;
  return newest;
}

function outOfOrder(version: string, newest: string): StartupError {
  return new StartupError(
    `migration ${version} is numbered before the applied ${newest}: renumber it after ${newest}`,
    EX_CONFIG,
  );
}

/** Returns the versions applied by this call. */
export async function migrate(
  db: Db,
  migrations: Migration[] = loadMigrations(),
): Promise<string[]> {
  await db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
  const applied: string[] = [];
  for (const m of migrations) {
    await db.transaction(async (tx) => {
      if (db.engine === 'postgres') await tx.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY]);
      const { rows } = await tx.query<{ version: string; checksum: string }>(
        'SELECT version, checksum FROM schema_migrations',
      );
      const row = rows.find((r) => r.version === m.version);
      if (row) {
        if (row.checksum !== m.checksum) {
          throw new StartupError(
            `migration ${m.version} was changed after it was applied: restore it and add a new migration instead`,
            EX_CONFIG,
          );
        }
        return;
      }
      const newest = newestOf(rows.map((r) => r.version));
      if (newest !== undefined && newest > m.version) throw outOfOrder(m.version, newest);
      await tx.exec(m.sql);
      await tx.query('INSERT INTO schema_migrations (version, checksum) VALUES ($1, $2)', [
        m.version,
        m.checksum,
      ]);
      applied.push(m.version);
    });
  }
  return applied;
}

/**
 * At start without MIGRATE_ON_START: the schema must be exactly what this build's migrations
 * make. The service's login (a member of app_service) may read schema_migrations but not
 * create anything, so a behind schema is refused with the command that fixes it.
 */
export async function checkSchema(
  db: Db,
  migrations: Migration[] = loadMigrations(),
): Promise<void> {
  let rows: { version: string; checksum: string }[];
  try {
    ({ rows } = await db.query<{ version: string; checksum: string }>(
      'SELECT version, checksum FROM schema_migrations',
    ));
  } catch (err) {
    // 42P01: no such table (never migrated); 42501: no grant (migrated before 007).
    const code = (err as { code?: unknown }).code;
    if (code !== '42P01' && code !== '42501') throw err;
    rows = [];
  }
  const applied = new Map(rows.map((r) => [r.version, r.checksum]));
  const changed = migrations.find(
    (m) => applied.has(m.version) && applied.get(m.version) !== m.checksum,
  );
  if (changed) {
    throw new StartupError(
      `migration ${changed.version} was changed after it was applied: restore it and add a new migration instead`,
      EX_CONFIG,
    );
  }
  const pending = migrations.filter((m) => !applied.has(m.version)).map((m) => m.version);
  const newest = newestOf(applied.keys());
  const early = pending.find((v) => newest !== undefined && newest > v);
  if (early !== undefined) throw outOfOrder(early, newest!);
  if (pending.length > 0) {
    throw new StartupError(
      `database schema is behind (pending: ${pending.join(', ')}): run \`npm run migrate\` as the schema owner, or set MIGRATE_ON_START=true`,
      EX_CONFIG,
    );
  }
}
