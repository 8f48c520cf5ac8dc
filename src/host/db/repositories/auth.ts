/**
 * Users, login sessions, refresh tokens and the sealed auth keyring (migration 004_auth.sql).
 * Only sealed blobs and SHA-256 digests are stored here; never a password or a token.
 */
import type { Role } from '../../../protocol/auth.js';
import type { Db, Queryable } from '../database.js';

export interface UserRow {
  user_id: string;
  email: string;
  password_sealed: string;
  roles: Role[];
  status: 'active' | 'disabled';
}

export interface RefreshRow {
  token_hash: string;
  session_id: string;
  user_id: string;
  expires_at: number;
  used_at: number | null;
  sealed_response: string | null;
  session_revoked: boolean;
  /** The successor this token was rotated to has itself been used (false if none yet). */
  child_used: boolean;
}

const epoch = (col: string) => `floor(extract(epoch FROM ${col}))::float8`;

export function createAuthRepository(db: Queryable & Pick<Db, 'transaction'>) {
  return {
    db,
    async latestKeyring(): Promise<{ generation: number; sealed: string } | null> {
      const { rows } = await db.query<{ generation: number; sealed: string }>(
        // After a cluster genesis, the generation it converted is served wrapped (migration 007).
        `SELECT a.generation, COALESCE(c.wrapped, a.sealed) AS sealed
           FROM auth_state a
           LEFT JOIN cluster_keyrings c ON c.purpose = 'auth' AND c.generation = a.generation
          ORDER BY a.generation DESC LIMIT 1`,
      );
      return rows[0] ?? null;
    },
    /** When the latest auth keyring was stored, in ms since the epoch. */
    async latestKeyringTime(): Promise<number | null> {
      const { rows } = await db.query<{ t: number }>(
        `SELECT ${epoch('max(created_at)')} AS t FROM auth_state`,
      );
      return rows[0]?.t == null ? null : Number(rows[0].t) * 1000;
    },
    async insertKeyring(generation: number, sealed: string, q: Queryable = db): Promise<void> {
      await q.query('INSERT INTO auth_state (generation, sealed) VALUES ($1, $2)', [
        generation,
        sealed,
      ]);
    },
    async findUserByEmail(email: string): Promise<UserRow | null> {
      const { rows } = await db.query<UserRow>(
        `SELECT u.id AS user_id, u.email, p.sealed AS password_sealed, u.roles, u.status
         FROM users u JOIN user_passwords p ON p.user_id = u.id WHERE u.email = $1`,
        [email],
      );
      return rows[0] ?? null;
    },
    async findUser(userId: string): Promise<UserRow | null> {
      const { rows } = await db.query<UserRow>(
        `SELECT u.id AS user_id, u.email, p.sealed AS password_sealed, u.roles, u.status
         FROM users u JOIN user_passwords p ON p.user_id = u.id WHERE u.id = $1`,
        [userId],
      );
      return rows[0] ?? null;
    },
    /** False when the email is taken. */
    async insertUser(userId: string, email: string, sealed: string): Promise<boolean> {
      return db.transaction(async (tx) => {
        const { rows } = await tx.query(
          `INSERT INTO users (id, email) VALUES ($1, $2)
           ON CONFLICT (email) DO NOTHING RETURNING id`,
          [userId, email],
        );
        if (rows.length !== 1) return false;
        await tx.query('INSERT INTO user_passwords (user_id, sealed) VALUES ($1, $2)', [
          userId,
          sealed,
        ]);
        return true;
      });
    },
    async updatePassword(userId: string, sealed: string): Promise<void> {
      await db.query(
        'UPDATE user_passwords SET sealed = $2, updated_at = now() WHERE user_id = $1',
        [userId, sealed],
      );
    },
    /** `npm run operator -- grant <email>`: the user's id, null when no such user. */
    async grantRole(email: string, role: Role, q: Queryable = db): Promise<string | null> {
      const { rows } = await q.query<{ id: string }>(
        `UPDATE users SET roles = ARRAY(SELECT DISTINCT unnest(roles || ARRAY[$2::text])),
         updated_at = now() WHERE email = $1 RETURNING id`,
        [email, role],
      );
      return rows[0]?.id ?? null;
    },
    /**
     * Removes a role and ends the user's login sessions in the same statement: their tokens
     * carry the role as a claim, so they must not outlive it (the next login gets fresh claims).
     */
    async revokeRole(email: string, role: Role, q: Queryable = db): Promise<string | null> {
      const { rows } = await q.query<{ id: string }>(
        `WITH u AS (
           UPDATE users SET roles = array_remove(roles, $2::text), updated_at = now()
            WHERE email = $1 RETURNING id
         ), s AS (
           UPDATE auth_sessions SET revoked_at = now(), revoked_reason = 'operator'
            WHERE user_id IN (SELECT id FROM u) AND revoked_at IS NULL RETURNING id
         )
         SELECT id FROM u`,
        [email, role],
      );
      return rows[0]?.id ?? null;
    },
    async insertSession(
      q: Queryable,
      sessionId: string,
      userId: string,
      refresh: { hash: string; expiresAt: number },
    ): Promise<void> {
      // One statement: the login session and its first refresh token.
      await q.query(
        `WITH s AS (INSERT INTO auth_sessions (id, user_id) VALUES ($1, $2) RETURNING id)
         INSERT INTO refresh_tokens (token_hash, session_id, user_id, expires_at)
         SELECT $3, s.id, $2, to_timestamp($4) FROM s`,
        [sessionId, userId, refresh.hash, refresh.expiresAt],
        { name: 'auth_session_insert' },
      );
    },
    async findRefresh(hash: string): Promise<RefreshRow | null> {
      const { rows } = await db.query<RefreshRow>(
        `SELECT r.token_hash, r.session_id, r.user_id, ${epoch('r.expires_at')} AS expires_at,
                ${epoch('r.used_at')} AS used_at, r.sealed_response,
                (s.revoked_at IS NOT NULL) AS session_revoked,
                (c.used_at IS NOT NULL) AS child_used
         FROM refresh_tokens r JOIN auth_sessions s ON s.id = r.session_id
         LEFT JOIN refresh_tokens c ON c.token_hash = r.child_hash
         WHERE r.token_hash = $1`,
        [hash],
      );
      return rows[0] ?? null;
    },
    /**
     * Marks `parent` used, links it to its successor and stores the successor, atomically:
     * false if another request used `parent` first (the loser then goes through the reuse path).
     */
    async rotate(
      parentHash: string,
      sealedResponse: string,
      child: { hash: string; sessionId: string; userId: string; expiresAt: number },
    ): Promise<boolean> {
      // One statement (atomic on its own): the successor is inserted only if this request is
      // the one that marked the parent used.
      const { rows } = await db.query(
        `WITH parent AS (
           UPDATE refresh_tokens SET used_at = now(), sealed_response = $2, child_hash = $3
            WHERE token_hash = $1 AND used_at IS NULL RETURNING token_hash)
         INSERT INTO refresh_tokens (token_hash, session_id, user_id, expires_at)
         SELECT $3, $4, $5, to_timestamp($6) FROM parent
         RETURNING token_hash`,
        [parentHash, sealedResponse, child.hash, child.sessionId, child.userId, child.expiresAt],
        { name: 'refresh_rotate' },
      );
      return rows.length === 1;
    },
    async isSessionActive(sessionId: string): Promise<boolean> {
      const { rows } = await db.query(
        'SELECT 1 FROM auth_sessions WHERE id = $1 AND revoked_at IS NULL',
        [sessionId],
      );
      return rows.length === 1;
    },
    async revokeSession(
      q: Queryable,
      sessionId: string,
      userId: string,
      reason: string,
    ): Promise<boolean> {
      const { rows } = await q.query(
        `UPDATE auth_sessions SET revoked_at = now(), revoked_reason = $3
         WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL RETURNING id`,
        [sessionId, userId, reason],
      );
      return rows.length === 1;
    },
    async revokeAllSessions(q: Queryable, userId: string, reason: string): Promise<number> {
      const { rows } = await q.query(
        `UPDATE auth_sessions SET revoked_at = now(), revoked_reason = $2
         WHERE user_id = $1 AND revoked_at IS NULL RETURNING id`,
        [userId, reason],
      );
      return rows.length;
    },
  };
}
export type AuthRepository = ReturnType<typeof createAuthRepository>;
