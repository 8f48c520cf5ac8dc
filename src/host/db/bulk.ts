/**
 * Multi-row INSERTs for the rows that logged operations write (issue 17). An operation running
 * inside a log batch does not send its INSERTs one by one: it hands its rows to the batch
 * (`insertRows`), and the batch writes every operation's rows of a table with one multi-row
 * INSERT (`INSERT … SELECT … FROM unnest($1::type[], …)`), and the INSERTs of every table that
 * has rows with ONE statement: each INSERT is a data-modifying CTE of it, tables in the order
 * below (parents first, for the foreign keys, which PostgreSQL checks at the end of the
 * statement). So a batch's rows cost one round trip, whatever tables and however many rows.
 * Outside a batch the same statement runs at once with the operation's rows.
 *
 * Only rows nobody reads back inside the same operation may be deferred this way: a batch
 * writes them after every operation's `work` has run, still inside the batch's transaction,
 * so they commit with it or not at all.
 */
import { HostError, type HttpErrorCode } from '../errors.js';
import type { Queryable } from './database.js';

interface BulkTable {
  /** The INSERT, its parameters numbered from $1 (renumbered in the combined statement). */
  sql: string;
  columns: number;
  /**
   * A claim: the statement inserts with `ON CONFLICT DO NOTHING RETURNING 1`, and a row that
   * was already there (or twice in one statement) fails the write with this error. In a log
   * batch that fails the batch's first attempt, and the batch runs again with one savepoint
   * and one statement per operation, so only the operation whose row was already there gets
   * the error (log-service.ts).
   */
  conflict?: HttpErrorCode;
  /** A claim's row count in SQL, over its own parameters (the gate below compares it). */
  rows?: string;
}

/**
 * Tables whose rows may be deferred, in write order. Timestamps travel as epoch seconds
 * (float8), as `to_timestamp` takes them.
 */
export const BULK_TABLES = {
  /**
   * The envelope's sender key, spent for every instance on this database (migration 012).
   * Values: the sender key (hashed here as it always was) and the row's expiry (epoch seconds).
   */
  spent_envelopes: {
    sql: `INSERT INTO spent_envelopes (sender_key_hash, expires_at)
          SELECT encode(sha256(convert_to(sender_key, 'UTF8')), 'hex'), to_timestamp(expires_at)
            FROM unnest($1::text[], $2::float8[]) AS t (sender_key, expires_at)
          ON CONFLICT DO NOTHING RETURNING 1`,
    columns: 2,
    conflict: 'ENVELOPE_REPLAYED',
    rows: 'cardinality($1::text[])',
  },
  sessions: {
    sql: `INSERT INTO sessions (id, user_id, exchange, label, status, created_at, expires_at)
          SELECT id, user_id, exchange, label, 'active', to_timestamp(created_at), to_timestamp(expires_at)
            FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::float8[], $6::float8[])
              AS t (id, user_id, exchange, label, created_at, expires_at)`,
    columns: 6,
  },
  credentials: {
    sql: `INSERT INTO credentials (session_id, alg, key_id, ephemeral_pub, nonce, ciphertext, tag,
                                   binding, envelope_digest, created_at, expires_at)
          SELECT session_id, alg, key_id, ephemeral_pub, nonce, ciphertext, tag, binding,
                 envelope_digest, to_timestamp(created_at), to_timestamp(expires_at)
            FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                        $7::text[], $8::text[], $9::text[], $10::float8[], $11::float8[])
              AS t (session_id, alg, key_id, ephemeral_pub, nonce, ciphertext, tag, binding,
                    envelope_digest, created_at, expires_at)`,
    columns: 11,
  },
  ops_logs: {
    sql: `INSERT INTO ops_logs (event_type, session_id, details)
          SELECT event_type, session_id, details::jsonb
            FROM unnest($1::text[], $2::uuid[], $3::text[]) AS t (event_type, session_id, details)`,
    columns: 3,
  },
} as const satisfies Record<string, BulkTable>;

export type BulkTableName = keyof typeof BULK_TABLES;
const ORDER = Object.keys(BULK_TABLES) as BulkTableName[];

/** Rows collected for deferred multi-row INSERTs, by table. */
export class BulkRows {
  private readonly rows = new Map<BulkTableName, unknown[][]>();

  add(table: BulkTableName, row: readonly unknown[]): void {
    if (row.length !== BULK_TABLES[table].columns) {
      throw new Error(
        `bulk ${table}: ${row.length} values for ${BULK_TABLES[table].columns} columns`,
      );
    }
    let xs = this.rows.get(table);
    if (!xs) this.rows.set(table, (xs = []));
    xs.push(row as unknown[]);
  }

  get size(): number {
    let n = 0;
    for (const xs of this.rows.values()) n += xs.length;
    return n;
  }

  /** Writes every collected row with one statement (see the file comment); then forgets them. */
  async flush(q: Queryable): Promise<void> {
    await writeRows(q, this.rows);
    this.rows.clear();
  }
}

/**
 * The combined statement for a set of tables (in ORDER): one CTE per table, and a final SELECT
 * that counts the rows each claim table inserted. Its text depends only on which tables have
 * rows, so it is built once per set and prepared once per connection on PostgreSQL.
 */
function statementFor(tables: readonly BulkTableName[]): { name: string; sql: string } {
  const key = tables.join(',');
  let st = STATEMENTS.get(key);
  if (st) return st;
  let offset = 0;
  /** Every claim inserted all its rows: the other tables' INSERTs are gated on it. */
  const gates: string[] = [];
  const ctes = tables.map((table) => {
    const t: BulkTable = BULK_TABLES[table];
    const at = offset;
    offset += t.columns;
    const renumber = (sql: string) =>
      sql.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + at}`);
    if (t.conflict) {
      gates.push(`(SELECT count(*) FROM w_${table}) = ${renumber(t.rows!)}`);
      return `w_${table} AS (${renumber(t.sql)})`;
    }
    // A claimed row that was already there writes nothing else (the statement then fails
    // with the claim's error): the other rows would hit their own unique constraints first.
    const gate = gates.length ? ` WHERE ${gates.join(' AND ')}` : '';
    return `w_${table} AS (${renumber(t.sql)}${gate})`;
  });
  const claims = tables.filter((table) => (BULK_TABLES[table] as BulkTable).conflict);
  const counts = claims.length
    ? claims.map((table) => `(SELECT count(*)::int FROM w_${table}) AS ${table}`).join(', ')
    : '1 AS done';
  st = { name: `bulk_${tables.join('_')}`, sql: `WITH ${ctes.join(',\n')}\nSELECT ${counts}` };
  STATEMENTS.set(key, st);
  return st;
}
const STATEMENTS = new Map<string, { name: string; sql: string }>();

async function writeRows(q: Queryable, byTable: ReadonlyMap<BulkTableName, unknown[][]>) {
  const tables = ORDER.filter((table) => (byTable.get(table)?.length ?? 0) > 0);
  if (tables.length === 0) return;
  const params: unknown[][] = [];
  for (const table of tables) {
    const rows = byTable.get(table)!;
    const n = BULK_TABLES[table].columns;
    const columns: unknown[][] = Array.from({ length: n }, () => new Array(rows.length));
    for (let r = 0; r < rows.length; r++) {
      const row = rows[r]!;
      for (let c = 0; c < n; c++) columns[c]![r] = row[c] ?? null;
    }
    params.push(...columns);
  }
  const st = statementFor(tables);
  const { rows } = await q.query<Record<string, number>>(st.sql, params, { name: st.name });
  for (const table of tables) {
    const conflict = (BULK_TABLES[table] as BulkTable).conflict;
    if (conflict && Number(rows[0]![table]) !== byTable.get(table)!.length)
      throw new HostError(conflict);
  }
}

/** A transaction handle that collects rows for the batch's multi-row INSERTs (log-service.ts). */
export interface BulkQueryable extends Queryable {
  readonly bulk: BulkRows;
}

function isBulk(q: Queryable): q is BulkQueryable {
  return (q as Partial<BulkQueryable>).bulk instanceof BulkRows;
}

/**
 * Inserts `rows` into `table`: deferred to the batch's multi-row statement when `q` is a log
 * batch's handle, at once (the same statement) otherwise.
 */
export async function insertRows(
  q: Queryable,
  table: BulkTableName,
  rows: readonly unknown[][],
): Promise<void> {
  if (isBulk(q)) {
    for (const row of rows) q.bulk.add(table, row);
    return;
  }
  await writeRows(q, new Map([[table, rows as unknown[][]]]));
}
