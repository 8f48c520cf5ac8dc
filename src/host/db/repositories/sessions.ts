/**
 * Sessions and their credential ciphertext. Writes that belong together (session, ciphertext,
 * ops event) take a transaction handle so they commit together or not at all.
 */
import {
  StoredCredentialSchema,
  type MethodResult,
  type StoredCredential,
} from '../../../protocol/rpc/methods.js';
import type { CredentialEnvelope } from '../../../protocol/envelope/registry.js';
import { insertRows } from '../bulk.js';
import type { Queryable } from '../database.js';

export interface StoredSession {
  session_id: string;
  /** The owner (access token `sub`); null only for development-mode sessions. */
  user_id: string | null;
  exchange: string;
  label: string;
  status: 'active' | 'revoked' | 'expired' | 'invalid';
  created_at: number;
  expires_at: number;
  key_id: string | null;
  alg: string | null;
  ephemeral_pub: string | null;
  nonce: string | null;
  ciphertext: string | null;
  tag: string | null;
  binding: string | null;
}

type Submitted = MethodResult<'credential.submit'>;

/**
 * How long a spent envelope's sender key is kept: the largest replay horizon an enclave can be
 * configured with (ENVELOPE_MAX_AGE_SECONDS ≤ 3600 plus ENVELOPE_MAX_FUTURE_SECONDS ≤ 600,
 * src/protocol/enclave-env.ts), after which every enclave refuses the envelope as stale.
 */
export const SPENT_ENVELOPE_KEEP_SECONDS = 3600 + 600;

export function createSessionRepository(db: Queryable) {
  return {
    async insertWithCredential(
      q: Queryable,
      s: Submitted,
      meta: { exchange: string; label: string },
      envelope: CredentialEnvelope,
      /** The owner (access token `sub`); null only in development mode (docs/protocol/auth.md). */
      userId: string | null = null,
    ): Promise<void> {
      // The envelope's sender key, spent in this transaction for every instance on this
      // database (migration 012): another instance whose enclave never saw this envelope finds
      // it here and refuses it (ENVELOPE_REPLAYED, db/bulk.ts). Kept for the longest replay
      // horizon an enclave may use. Inside a log batch this row and the session and credential
      // rows join the batch's multi-row INSERTs (one statement per table for the whole batch).
      await insertRows(q, 'spent_envelopes', [
        [s.sender_key, s.created_at + SPENT_ENVELOPE_KEEP_SECONDS],
      ]);
      await insertRows(q, 'sessions', [
        [s.session_id, userId, meta.exchange, meta.label, s.created_at, s.expires_at],
      ]);
      const v1 = 'ephemeral_pub' in envelope;
      await insertRows(q, 'credentials', [
        [
          s.session_id,
          s.alg,
          s.key_id,
          s.sender_key,
          v1 ? envelope.nonce : null,
          envelope.ciphertext,
          v1 ? envelope.tag : null,
          s.binding,
          s.envelope_digest,
          s.created_at,
          s.expires_at,
        ],
      ]);
    },

    /** Marks an active session revoked and deletes its ciphertext; false if none was active. */
    async revoke(q: Queryable, sessionId: string): Promise<boolean> {
      const { rows } = await q.query(
        `UPDATE sessions SET status = 'revoked', ended_at = now()
          WHERE id = $1 AND status = 'active' RETURNING id`,
        [sessionId],
      );
      if (rows.length === 0) return false;
      await q.query('DELETE FROM credentials WHERE session_id = $1', [sessionId]);
      return true;
    },

    /** The exchange rejected the key: the session becomes `invalid`, its ciphertext is purged. */
    async invalidate(q: Queryable, sessionId: string): Promise<void> {
      await q.query(
        `UPDATE sessions SET status = 'invalid', ended_at = now() WHERE id = $1 AND status = 'active'`,
        [sessionId],
      );
      await q.query('DELETE FROM credentials WHERE session_id = $1', [sessionId]);
    },

    async find(sessionId: string): Promise<StoredSession | null> {
      const { rows } = await db.query<StoredSession>(
        `SELECT s.id AS session_id, s.user_id, s.exchange, s.label, s.status,
                extract(epoch FROM s.created_at)::bigint::int8 AS created_at,
                extract(epoch FROM s.expires_at)::bigint::int8 AS expires_at,
                c.key_id, c.alg, c.ephemeral_pub, c.nonce, c.ciphertext, c.tag, c.binding
           FROM sessions s LEFT JOIN credentials c ON c.session_id = s.id
          WHERE s.id = $1`,
        [sessionId],
      );
      const row = rows[0];
      return row
        ? { ...row, created_at: Number(row.created_at), expires_at: Number(row.expires_at) }
        : null;
    },

    /** Deletes expired ciphertext (the SQL function); returns the affected session ids. */
    async cleanupExpired(q: Queryable): Promise<string[]> {
      const { rows } = await q.query<{ session_id: string }>(
        'SELECT session_id FROM cleanup_expired_credentials()',
      );
      await q.query('DELETE FROM spent_envelopes WHERE expires_at < now()');
      return rows.map((r) => r.session_id);
    },
  };
}
export type SessionRepository = ReturnType<typeof createSessionRepository>;

/** Rebuilds the envelope as submitted from its stored columns. */
export function storedEnvelope(s: StoredSession): CredentialEnvelope | null {
  if (!s.alg || !s.ephemeral_pub || !s.ciphertext) return null;
  if (s.alg === 'X25519-HKDF-SHA256-A256GCM') {
    return {
      alg: s.alg,
      ephemeral_pub: s.ephemeral_pub,
      nonce: s.nonce!,
      ciphertext: s.ciphertext,
      tag: s.tag!,
      key_id: s.key_id!,
    };
  }
  return {
    alg: s.alg as 'HPKE-Base-X25519-SHA256-A128GCM',
    enc: s.ephemeral_pub,
    ciphertext: s.ciphertext,
    key_id: s.key_id!,
  };
}

/**
 * The one session → stored-credential mapping (what `credential.verify_stored` and
 * `aggregates.start` take), parsed through the protocol schema: null when the session has no
 * complete, well-formed credential (revoked, purged, or a row the schema refuses).
 */
export function storedCredential(s: StoredSession): StoredCredential | null {
  const envelope = storedEnvelope(s);
  if (!envelope) return null;
  const parsed = StoredCredentialSchema.safeParse({
    session_id: s.session_id,
    envelope,
    key_id: s.key_id,
    exchange: s.exchange,
    label: s.label,
    expires_at: s.expires_at,
    binding: s.binding,
  });
  return parsed.success ? parsed.data : null;
}
