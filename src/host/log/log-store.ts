/**
 * The host's copy of the transparency log: leaves (entry text + leaf hash) and signed
 * checkpoints. The host cannot forge a checkpoint, so all this table can do wrong is be
 * altered or rolled back, which verifiers detect (docs/protocol/transparency-log.md).
 */
import type { Queryable } from '../db/database.js';

export interface StoredLeaf {
  index: number;
  entry: string;
  leafHash: string;
}

/** A leaf as written: with the subject and event type it is looked up by. */
export type StoredLeafRow = StoredLeaf & { subject: string; eventType: string };

export interface StoredCheckpoint {
  size: number;
  rootHash: string;
  note: string;
}

/**
 * A column's values as one text for `string_to_array(text, sep)`, which gives them back one for
 * one only if none is empty or holds `sep`: anything else is refused here, so that no row can
 * take another's value. Never refused for a stored leaf: an entry's canonical JSON has no raw
 * newline (JSON escapes every control character), and subjects, event types and hex leaf
 * hashes have no comma (LogEntrySchema; the table's checks refuse them too).
 */
function joinColumn(values: readonly string[], sep: string): string {
  for (const v of values) {
    if (v === '' || v.includes(sep)) throw new RangeError('a value cannot be stored this way');
  }
  return values.join(sep);
}

export function createLogStore(db: Queryable) {
  return {
    /**
     * Up to `limit` leaves with index ≥ `from`, in index order: `load()` reads the whole log
     * page by page (entry text included, to re-hash it) without holding it all in memory.
     */
    async leavesFrom(from: number, limit: number): Promise<StoredLeaf[]> {
      const { rows } = await db.query<{ leaf_index: string; entry: string; leaf_hash: string }>(
        `SELECT leaf_index, entry, leaf_hash FROM merkle_logs
          WHERE leaf_index >= $1 ORDER BY leaf_index LIMIT $2`,
        [from, limit],
      );
      return rows.map((r) => ({
        index: Number(r.leaf_index),
        entry: r.entry,
        leafHash: r.leaf_hash,
      }));
    },

    async latestCheckpoint(q: Queryable = db): Promise<StoredCheckpoint | null> {
      const { rows } = await q.query<{ tree_size: string; root_hash: string; note: string }>(
        'SELECT tree_size, root_hash, note FROM log_checkpoints ORDER BY tree_size DESC LIMIT 1',
      );
      const r = rows[0];
      return r ? { size: Number(r.tree_size), rootHash: r.root_hash, note: r.note } : null;
    },

    async insertLeaves(
      q: Queryable,
      leaves: readonly (StoredLeaf & { subject: string; eventType: string })[],
    ): Promise<void> {
      if (leaves.length === 0) return;
      await q.query(
        `INSERT INTO merkle_logs (leaf_index, subject, event_type, entry, leaf_hash)
         SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[])`,
        [
          leaves.map((l) => l.index),
          leaves.map((l) => l.subject),
          leaves.map((l) => l.eventType),
          leaves.map((l) => l.entry),
          leaves.map((l) => l.leafHash),
        ],
      );
    },

    /**
     * Locks the log head row until the transaction `q` ends and returns the head read under
     * the lock: the newest stored checkpoint, or null while there is none. Every instance
     * appending to this log takes the lock first, so their batches run one after another. One
     * round trip: `log_lock_head()` (migration 022) locks, then reads with a snapshot taken
     * after the lock is held, so the head includes every batch committed before it.
     */
    async lockHead(q: Queryable): Promise<StoredCheckpoint | null> {
      const { rows } = await q.query<{ tree_size: string; root_hash: string; note: string }>(
        'SELECT tree_size, root_hash, note FROM log_lock_head()',
        [],
        { name: 'log_lock_head' },
      );
      const r = rows[0];
      return r ? { size: Number(r.tree_size), rootHash: r.root_hash, note: r.note } : null;
    },

    /**
     * A batch's leaves and the checkpoint the enclave signed over them, in one statement (a
     * log batch's only write of its own besides the operations' rows).
     */
    async insertLeavesWithCheckpoint(
      q: Queryable,
      leaves: readonly StoredLeafRow[],
      cp: StoredCheckpoint,
    ): Promise<void> {
      // The leaves are consecutive: their first index, and each column as one text split in
      // the database (array literals cost both sides ~2x more: every entry's quotes escaped by
      // the client and parsed back by the server; bench/README.md, log-append).
      const first = leaves[0]?.index ?? 0;
      if (leaves.some((l, i) => l.index !== first + i)) {
        throw new RangeError('leaves must be consecutive');
      }
      await q.query(
        `WITH leaves AS (
           INSERT INTO merkle_logs (leaf_index, subject, event_type, entry, leaf_hash)
           SELECT $1::bigint + n - 1, subject, event_type, entry, leaf_hash
             FROM unnest(string_to_array($2::text, ','), string_to_array($3::text, ','),
                         string_to_array($4::text, E'\\n'), string_to_array($5::text, ','))
                  WITH ORDINALITY AS l(subject, event_type, entry, leaf_hash, n))
         INSERT INTO log_checkpoints (tree_size, root_hash, note) VALUES ($6, $7, $8)`,
        [
          first,
          joinColumn(
            leaves.map((l) => l.subject),
            ',',
          ),
          joinColumn(
            leaves.map((l) => l.eventType),
            ',',
          ),
          joinColumn(
            leaves.map((l) => l.entry),
            '\n',
          ),
          joinColumn(
            leaves.map((l) => l.leafHash),
            ',',
          ),
          cp.size,
          cp.rootHash,
          cp.note,
        ],
        { name: 'log_append_batch' },
      );
    },

    async insertCheckpoint(q: Queryable, cp: StoredCheckpoint): Promise<void> {
      await q.query(
        'INSERT INTO log_checkpoints (tree_size, root_hash, note) VALUES ($1, $2, $3)',
        [cp.size, cp.rootHash, cp.note],
      );
    },

    async checkpointAt(size: number, q: Queryable = db): Promise<StoredCheckpoint | null> {
      const { rows } = await q.query<{ tree_size: string; root_hash: string; note: string }>(
        'SELECT tree_size, root_hash, note FROM log_checkpoints WHERE tree_size = $1',
        [size],
      );
      const r = rows[0];
      return r ? { size: Number(r.tree_size), rootHash: r.root_hash, note: r.note } : null;
    },

    /** The newest checkpoint with at least one witness cosignature, and its cosignature lines. */
    async latestWitnessed(): Promise<{ checkpoint: StoredCheckpoint; lines: string[] } | null> {
      const { rows } = await db.query<{ tree_size: string }>(
        'SELECT max(tree_size) AS tree_size FROM log_cosignatures',
      );
      if (rows[0]?.tree_size == null) return null;
      const size = Number(rows[0].tree_size);
      const checkpoint = await this.checkpointAt(size);
      return checkpoint ? { checkpoint, lines: await this.cosignatures(size) } : null;
    },

    async cosignatures(size: number): Promise<string[]> {
      const { rows } = await db.query<{ line: string }>(
        'SELECT line FROM log_cosignatures WHERE tree_size = $1 ORDER BY witness',
        [size],
      );
      return rows.map((r) => r.line);
    },

    async insertCosignature(size: number, witness: string, line: string): Promise<void> {
      await db.query(
        `INSERT INTO log_cosignatures (tree_size, witness, line) VALUES ($1, $2, $3)
         ON CONFLICT (tree_size, witness) DO NOTHING`,
        [size, witness, line],
      );
    },

    async entries(start: number, end: number, q: Queryable = db): Promise<StoredLeaf[]> {
      const { rows } = await q.query<{ leaf_index: string; entry: string; leaf_hash: string }>(
        `SELECT leaf_index, entry, leaf_hash FROM merkle_logs
          WHERE leaf_index >= $1 AND leaf_index < $2 ORDER BY leaf_index`,
        [start, end],
      );
      return rows.map((r) => ({
        index: Number(r.leaf_index),
        entry: r.entry,
        leafHash: r.leaf_hash,
      }));
    },

    /** The leaves of one subject (a session's `sessionLogSubject`, or a key id). */
    async entriesForSubject(subject: string, limit: number): Promise<StoredLeaf[]> {
      const { rows } = await db.query<{ leaf_index: string; entry: string; leaf_hash: string }>(
        `SELECT leaf_index, entry, leaf_hash FROM merkle_logs
          WHERE subject = $1 ORDER BY leaf_index LIMIT $2`,
        [subject, limit],
      );
      return rows.map((r) => ({
        index: Number(r.leaf_index),
        entry: r.entry,
        leafHash: r.leaf_hash,
      }));
    },
  };
}
export type LogStore = ReturnType<typeof createLogStore>;
