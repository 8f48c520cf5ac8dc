/**
 * Users, login sessions, refresh tokens and the sealed auth keyring (migration 004_auth.sql).
 * Only sealed blobs and SHA-256 digests are stored here; never a password or a token.
 */
import type { Role } from '../../../protocol/auth.js';
import { HostError } from '../../errors.js';
import type { Db, Queryable } from '../database.js';

export interface UserRow {
  user_id: string;
  email: string;
  password_sealed: string;
  roles: Role[];
  status: 'active' | 'disabled' | 'pending';
}

/** A password login's account with what its second factor needs, read in one statement. */
export interface LoginUserRow extends UserRow {
  /** The confirmed TOTP secret (sealed), or null: a second factor is due when set. */
  totp_sealed: string | null;
  /** The MACs of its unspent recovery codes (at most 10, as recoveryCodeMacs). */
  recovery_macs: string[];
}

/** The account an external login method (a SIWE address) is linked to, with its binding. */
export interface MethodUserRow {
  user_id: string;
  binding: string;
  roles: Role[];
  status: 'active' | 'disabled' | 'pending';
}

export type MethodKind = 'siwe' | 'email' | 'passkey';

export interface PasskeyRow extends MethodUserRow {
  id: string;
  credential_id: string;
  public_key: string;
  counter: number;
}

/** A pending account recovery as the enclave MACed it (auth_recoveries). */
export interface PendingRecoveryRow {
  id: string;
  unlock_at: number;
  expires_at: number;
  /** The new password, sealed for this recovery only. */
  password_sealed: string;
  mac: string;
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
  /** The account's status (null if the account is gone) and roles, read with the token. */
  user_status: UserRow['status'] | null;
  roles: Role[];
}

const epoch = (col: string) => `floor(extract(epoch FROM ${col}))::float8`;

/** A first password for the account; false when it has one. */
async function insertPassword(q: Queryable, userId: string, sealed: string): Promise<boolean> {
  const { rows } = await q.query(
    `INSERT INTO user_passwords (user_id, sealed) VALUES ($1, $2)
     ON CONFLICT (user_id) DO NOTHING RETURNING user_id`,
    [userId, sealed],
  );
  return rows.length === 1;
}

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
    /**
     * The account a password login names, with its confirmed TOTP secret and its recovery-code
     * MACs: one statement (one snapshot) instead of three lookups.
     */
    async findLoginUser(email: string): Promise<LoginUserRow | null> {
      const { rows } = await db.query<LoginUserRow>(
        `SELECT u.id AS user_id, u.email, p.sealed AS password_sealed, u.roles, u.status,
                (SELECT t.sealed FROM auth_totp t
                  WHERE t.user_id = u.id AND t.confirmed_at IS NOT NULL) AS totp_sealed,
                ARRAY(SELECT c.mac FROM auth_recovery_codes c
                       WHERE c.user_id = u.id ORDER BY c.mac LIMIT 10) AS recovery_macs
         FROM users u JOIN user_passwords p ON p.user_id = u.id WHERE u.email = $1`,
        [email],
        { name: 'auth_login_user' },
      );
      return rows[0] ?? null;
    },
    /** Any account, with or without a password (a SIWE-only account has none). */
    async findUser(userId: string): Promise<Omit<UserRow, 'password_sealed'> | null> {
      const { rows } = await db.query<Omit<UserRow, 'password_sealed'>>(
        `SELECT u.id AS user_id, u.email, u.roles, u.status FROM users u WHERE u.id = $1`,
        [userId],
      );
      return rows[0] ?? null;
    },
    async findUserByMethod(kind: MethodKind, identifier: string): Promise<MethodUserRow | null> {
      const { rows } = await db.query<MethodUserRow>(
        `SELECT u.id AS user_id, m.binding, u.roles, u.status
         FROM auth_methods m JOIN users u ON u.id = m.user_id
         WHERE m.kind = $1 AND m.identifier = $2`,
        [kind, identifier],
      );
      return rows[0] ?? null;
    },
    /**
     * A new account without a password, reached by one linked method. False when the method
     * (or, for an email, the address) is already taken: a concurrent first login won, or an
     * account older than the email link has that address.
     */
    async insertMethodUser(
      q: Queryable,
      userId: string,
      kind: MethodKind,
      identifier: string,
      binding: string,
    ): Promise<boolean> {
      // An email login's account carries that email (unique: a taken one fails the insert); an
      // unconfirmed registration of it gives way (the code proved the mailbox).
      if (kind === 'email')
        await q.query(`DELETE FROM users WHERE email = $1 AND status = 'pending'`, [identifier]);
      const user = await q.query(
        `INSERT INTO users (id, email) VALUES ($1, $2)
         ON CONFLICT (email) DO NOTHING RETURNING id`,
        [userId, kind === 'email' ? identifier : null],
      );
      if (user.rows.length !== 1) return false;
      const { rows } = await q.query(
        `INSERT INTO auth_methods (user_id, kind, identifier, binding) VALUES ($1, $2, $3, $4)
         ON CONFLICT (kind, identifier) DO NOTHING RETURNING id`,
        [userId, kind, identifier, binding],
      );
      return rows.length === 1;
    },
    /**
     * False when the email is taken: another account's `users.email`, or an address another
     * account linked besides its own (an `email` method row), which used to fail the insert with
     * a unique violation (a 409 of its own, telling such an address from a free one).
     */
    async insertUser(
      userId: string,
      email: string,
      sealed: string,
      emailBinding: string,
      status: 'active' | 'pending' = 'active',
    ): Promise<boolean> {
      const taken = new Error('email taken');
      return db
        .transaction(async (tx) => {
          // A pending registration of the same address gives way: it cannot block the owner.
          await tx.query(`DELETE FROM users WHERE email = $1 AND status = 'pending'`, [email]);
          const { rows } = await tx.query(
            `INSERT INTO users (id, email, status) VALUES ($1, $2, $3)
           ON CONFLICT (email) DO NOTHING RETURNING id`,
            [userId, email, status],
          );
          if (rows.length !== 1) return false;
          await tx.query('INSERT INTO user_passwords (user_id, sealed) VALUES ($1, $2)', [
            userId,
            sealed,
          ]);
          const linked = await tx.query(
            `INSERT INTO auth_methods (user_id, kind, identifier, binding) VALUES ($1, 'email', $2, $3)
           ON CONFLICT (kind, identifier) DO NOTHING RETURNING id`,
            [userId, email, emailBinding],
          );
          // Held by another account as a linked email: undo the account (throw rolls back).
          if (linked.rows.length !== 1) throw taken;
          return true;
        })
        .catch((err: unknown) => {
          if (err === taken) return false;
          throw err;
        });
    },
    /** Sets the password (an account made by SIWE or a code may have had none). */
    async upsertPassword(q: Queryable, userId: string, sealed: string): Promise<void> {
      await q.query(
        `INSERT INTO user_passwords (user_id, sealed) VALUES ($1, $2)
         ON CONFLICT (user_id) DO UPDATE SET sealed = EXCLUDED.sealed, updated_at = now()`,
        [userId, sealed],
      );
    },
    /** Any account with this email, whatever its status and methods. */
    async findAccountByEmail(email: string): Promise<{ user_id: string; status: string } | null> {
      const { rows } = await db.query<{ user_id: string; status: string }>(
        'SELECT id AS user_id, status FROM users WHERE email = $1',
        [email],
      );
      return rows[0] ?? null;
    },
    async activate(q: Queryable, userId: string): Promise<boolean> {
      const { rows } = await q.query(
        `UPDATE users SET status = 'active', updated_at = now()
         WHERE id = $1 AND status = 'pending' RETURNING id`,
        [userId],
      );
      return rows.length === 1;
    },
    /** The account's login methods: its password (if any) and its linked methods. */
    async listMethods(
      userId: string,
      q: Queryable = db,
    ): Promise<{ id: string; kind: string; identifier: string | null; created_at: number }[]> {
      const { rows } = await q.query<{
        id: string;
        kind: string;
        identifier: string | null;
        created_at: number;
      }>(
        `SELECT 'password' AS id, 'password' AS kind, NULL AS identifier,
                ${epoch('updated_at')} AS created_at
           FROM user_passwords WHERE user_id = $1
         UNION ALL
         SELECT id::text, kind, identifier, ${epoch('created_at')}
           FROM auth_methods WHERE user_id = $1
         ORDER BY created_at, id`,
        [userId],
      );
      return rows.map((r) => ({ ...r, created_at: Number(r.created_at) }));
    },
    /** Removes one method of the account (`password` or a linked method's id); false if none. */
    async deleteMethod(q: Queryable, userId: string, id: string): Promise<string | null> {
      if (id === 'password') {
        const r = await q.query('DELETE FROM user_passwords WHERE user_id = $1 RETURNING user_id', [
          userId,
        ]);
        return r.rows.length === 1 ? 'password' : null;
      }
      const r = await q.query<{ kind: string }>(
        'DELETE FROM auth_methods WHERE user_id = $1 AND id = $2 RETURNING kind',
        [userId, id],
      );
      return r.rows[0]?.kind ?? null;
    },
    async findPasskey(credentialId: string): Promise<PasskeyRow | null> {
      const { rows } = await db.query<PasskeyRow>(
        `SELECT m.id, m.identifier AS credential_id, m.public_key, m.counter, m.binding,
                u.id AS user_id, u.roles, u.status
         FROM auth_methods m JOIN users u ON u.id = m.user_id
         WHERE m.kind = 'passkey' AND m.identifier = $1`,
        [credentialId],
      );
      const row = rows[0];
      return row ? { ...row, counter: Number(row.counter) } : null;
    },
    async passkeyIds(userId: string): Promise<string[]> {
      const { rows } = await db.query<{ identifier: string }>(
        "SELECT identifier FROM auth_methods WHERE user_id = $1 AND kind = 'passkey'",
        [userId],
      );
      return rows.map((r) => r.identifier);
    },
    async insertPasskey(
      q: Queryable,
      userId: string,
      p: { credential_id: string; public_key: string; counter: number; binding: string },
    ): Promise<string | null> {
      const { rows } = await q.query<{ id: string }>(
        `INSERT INTO auth_methods (user_id, kind, identifier, binding, public_key, counter)
         VALUES ($1, 'passkey', $2, $3, $4, $5) ON CONFLICT (kind, identifier) DO NOTHING
         RETURNING id`,
        [userId, p.credential_id, p.binding, p.public_key, p.counter],
      );
      return rows[0]?.id ?? null;
    },
    /** Stores the counter the enclave saw and its new binding, only over the row it was given. */
    async advancePasskey(
      q: Queryable,
      id: string,
      from: number,
      to: { counter: number; binding: string },
    ): Promise<boolean> {
      const { rows } = await q.query(
        'UPDATE auth_methods SET counter = $3, binding = $4 WHERE id = $1 AND counter = $2 RETURNING id',
        [id, from, to.counter, to.binding],
      );
      return rows.length === 1;
    },
    /** The account's confirmed TOTP secret (sealed), or null: a second factor is due when set. */
    async confirmedTotp(userId: string, q: Queryable = db): Promise<string | null> {
      const { rows } = await q.query<{ sealed: string }>(
        'SELECT sealed FROM auth_totp WHERE user_id = $1 AND confirmed_at IS NOT NULL',
        [userId],
      );
      return rows[0]?.sealed ?? null;
    },
    async pendingTotp(userId: string): Promise<string | null> {
      const { rows } = await db.query<{ sealed: string }>(
        'SELECT sealed FROM auth_totp WHERE user_id = $1 AND confirmed_at IS NULL',
        [userId],
      );
      return rows[0]?.sealed ?? null;
    },
    /** A new pending enrolment, replacing a pending one; false when one is confirmed. */
    async startTotp(userId: string, sealed: string): Promise<boolean> {
      const { rows } = await db.query(
        `INSERT INTO auth_totp (user_id, sealed) VALUES ($1, $2)
         ON CONFLICT (user_id) DO UPDATE SET sealed = EXCLUDED.sealed, created_at = now()
           WHERE auth_totp.confirmed_at IS NULL
         RETURNING user_id`,
        [userId, sealed],
      );
      return rows.length === 1;
    },
    /** `step`: the confirming code's, the first one spent (spendTotpStep). */
    async confirmTotp(q: Queryable, userId: string, sealed: string, macs: string[], step: number) {
      const { rows } = await q.query(
        `UPDATE auth_totp SET confirmed_at = now(), last_step = $3
         WHERE user_id = $1 AND sealed = $2 AND confirmed_at IS NULL RETURNING user_id`,
        [userId, sealed, step],
      );
      if (rows.length !== 1) return false;
      await q.query('DELETE FROM auth_recovery_codes WHERE user_id = $1', [userId]);
      for (const mac of macs)
        await q.query('INSERT INTO auth_recovery_codes (user_id, mac) VALUES ($1, $2)', [
          userId,
          mac,
        ]);
      return true;
    },
    async deleteTotp(q: Queryable, userId: string): Promise<boolean> {
      await q.query('DELETE FROM auth_recovery_codes WHERE user_id = $1', [userId]);
      const { rows } = await q.query('DELETE FROM auth_totp WHERE user_id = $1 RETURNING user_id', [
        userId,
      ]);
      return rows.length === 1;
    },
    /**
     * Spends a TOTP code's step: true only when it is newer than the last one the account spent
     * (one statement, so two members racing with one code cannot both pass).
     */
    async spendTotpStep(q: Queryable, userId: string, step: number): Promise<boolean> {
      const { rows } = await q.query(
        `UPDATE auth_totp SET last_step = $2
         WHERE user_id = $1 AND confirmed_at IS NOT NULL
           AND (last_step IS NULL OR last_step < $2) RETURNING user_id`,
        [userId, step],
      );
      return rows.length === 1;
    },
    /** Spends a recovery code (by its enclave MAC): true once, false ever after. */
    async spendRecoveryCode(q: Queryable, userId: string, mac: string): Promise<boolean> {
      const { rows } = await q.query(
        'DELETE FROM auth_recovery_codes WHERE user_id = $1 AND mac = $2 RETURNING mac',
        [userId, mac],
      );
      return rows.length === 1;
    },
    /** The MACs of the account's unspent recovery codes (the enclave matches a code to one). */
    async recoveryCodeMacs(userId: string): Promise<string[]> {
      const { rows } = await db.query<{ mac: string }>(
        'SELECT mac FROM auth_recovery_codes WHERE user_id = $1 ORDER BY mac LIMIT 10',
        [userId],
      );
      return rows.map((r) => r.mac);
    },
    async recoveryCodesLeft(userId: string, q: Queryable = db): Promise<number> {
      const { rows } = await q.query<{ n: string }>(
        'SELECT count(*) AS n FROM auth_recovery_codes WHERE user_id = $1',
        [userId],
      );
      return Number(rows[0]?.n ?? 0);
    },
    async updatePassword(userId: string, sealed: string, q: Queryable = db): Promise<void> {
      await q.query(
        'UPDATE user_passwords SET sealed = $2, updated_at = now() WHERE user_id = $1',
        [userId, sealed],
      );
    },
    /**
     * `npm run operator -- grant <email>` and the route: gives `role` to the account with this
     * email; null (nothing done) when there is none, or only an unconfirmed registration: anyone
     * makes one for any address with a password of their own, so granting it would make a
     * stranger's row an operator and tell the operator a registration was started there.
     */
    async grantRole(email: string, role: Role, q: Queryable = db): Promise<string | null> {
      const { rows } = await q.query<{ id: string }>(
        `UPDATE users SET roles = ARRAY(SELECT DISTINCT unnest(roles || ARRAY[$2::text])),
         updated_at = now() WHERE email = $1 AND status <> 'pending' RETURNING id`,
        [email, role],
      );
      return rows[0]?.id ?? null;
    },
    /**
     * Removes a role and ends the user's login sessions in the same statement: their tokens
     * carry the role as a claim, so they must not outlive it (the next login gets fresh claims).
     */
    /**
     * Takes `role` from the account and ends its login sessions; null (nothing done) when no
     * account with this email holds the role. Only a holder's: a revocation ends the account's
     * sessions and answers its user id, so naming anyone would let an operator (the route, or
     * `npm run operator`) log any account out and look up who an email is.
     */
    async revokeRole(email: string, role: Role, q: Queryable = db): Promise<string | null> {
      const { rows } = await q.query<{ id: string }>(
        `WITH u AS (
           UPDATE users SET roles = array_remove(roles, $2::text), updated_at = now()
            WHERE email = $1 AND $2::text = ANY (roles) RETURNING id
         ), s AS (
           UPDATE auth_sessions SET revoked_at = now(), revoked_reason = 'operator'
            WHERE user_id IN (SELECT id FROM u) AND revoked_at IS NULL RETURNING id
         )
         SELECT id FROM u`,
        [email, role],
      );
      return rows[0]?.id ?? null;
    },
    /**
     * One statement: the login session and its first refresh token, and with `event` (an
     * `ops_logs` row: OpsLog.row) the login's audit event too, so that a login needs neither a
     * transaction nor a second INSERT (a data-modifying CTE runs whether or not it is read).
     */
    async insertSession(
      q: Queryable,
      sessionId: string,
      userId: string,
      refresh: { hash: string; expiresAt: number },
      event?: readonly [type: string, sessionId: string | null, details: string],
    ): Promise<void> {
      const session = `WITH s AS (INSERT INTO auth_sessions (id, user_id) VALUES ($1, $2) RETURNING id)`;
      const tokens = `INSERT INTO refresh_tokens (token_hash, session_id, user_id, expires_at)
         SELECT $3, s.id, $2, to_timestamp($4) FROM s`;
      const params = [sessionId, userId, refresh.hash, refresh.expiresAt];
      if (!event) {
        await q.query(`${session} ${tokens}`, params, { name: 'auth_session_insert' });
        return;
      }
      await q.query(
        `${session}, e AS (INSERT INTO ops_logs (event_type, session_id, details)
                            VALUES ($5, $6::uuid, $7::jsonb))
         ${tokens}`,
        [...params, ...event],
        { name: 'auth_session_insert_event' },
      );
    },
    /**
     * The session's new refresh chain after a step-up, and the end of its older one: every unused
     * refresh token of the session expires in the same statement. A token stolen before the
     * step-up would otherwise keep a chain of its own that no reuse ever shows (the user's client
     * has moved to the new one); presented now, it is AUTH_REFRESH_INVALID, and the session goes
     * on. Expired rather than marked used: a tab that still holds the old token is signed out,
     * not taken for a thief that ends every session of the account.
     */
    async addRefresh(
      q: Queryable,
      sessionId: string,
      userId: string,
      hash: string,
      expiresAt: number,
    ): Promise<void> {
      const { rows } = await q.query(
        `WITH s AS (
           SELECT id, user_id FROM auth_sessions
           WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL
         ), ended AS (
           UPDATE refresh_tokens SET expires_at = LEAST(expires_at, to_timestamp(0))
           WHERE session_id IN (SELECT id FROM s) AND used_at IS NULL
           RETURNING 1
         )
         INSERT INTO refresh_tokens (token_hash, session_id, user_id, expires_at)
         SELECT $1, id, user_id, to_timestamp($4) FROM s RETURNING token_hash`,
        [hash, sessionId, userId, expiresAt],
      );
      if (rows.length !== 1) throw new HostError('AUTH_TOKEN_INVALID');
    },
    async findRefresh(hash: string): Promise<RefreshRow | null> {
      const { rows } = await db.query<RefreshRow>(
        `SELECT r.token_hash, r.session_id, r.user_id, ${epoch('r.expires_at')} AS expires_at,
                ${epoch('r.used_at')} AS used_at, r.sealed_response,
                (s.revoked_at IS NOT NULL) AS session_revoked,
                (c.used_at IS NOT NULL) AS child_used,
                u.status AS user_status, COALESCE(u.roles, '{}') AS roles
         FROM refresh_tokens r JOIN auth_sessions s ON s.id = r.session_id
         LEFT JOIN refresh_tokens c ON c.token_hash = r.child_hash
         LEFT JOIN users u ON u.id = r.user_id
         WHERE r.token_hash = $1`,
        [hash],
        { name: 'refresh_find' },
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
    /** The account's linked email and its enclave binding, if any. */
    async emailMethodOf(userId: string): Promise<{ email: string; binding: string } | null> {
      const { rows } = await db.query<{ identifier: string; binding: string }>(
        "SELECT identifier, binding FROM auth_methods WHERE user_id = $1 AND kind = 'email' LIMIT 1",
        [userId],
      );
      return rows[0] ? { email: rows[0].identifier, binding: rows[0].binding } : null;
    },
    /**
     * The email the account's password logs in with (`users.email`) when it is also a linked
     * email method, with the enclave's binding of it; null when the account has none.
     */
    async passwordEmailOf(userId: string): Promise<{ email: string; binding: string } | null> {
      const { rows } = await db.query<{ email: string; binding: string }>(
        `SELECT u.email, m.binding FROM users u
           JOIN auth_methods m ON m.user_id = u.id AND m.kind = 'email' AND m.identifier = u.email
          WHERE u.id = $1`,
        [userId],
      );
      return rows[0] ?? null;
    },
    async hasPassword(userId: string): Promise<boolean> {
      const { rows } = await db.query('SELECT 1 FROM user_passwords WHERE user_id = $1', [userId]);
      return rows.length === 1;
    },
    insertPassword,
    /**
     * Sets the password only if it is still `expected` (null: the account has none), in one
     * statement, so a concurrent change is never overwritten: under READ COMMITTED the UPDATE
     * re-checks `sealed` on the row a committed change left, and the INSERT meets its conflict.
     * False when the password is no longer `expected`.
     */
    async swapPassword(
      q: Queryable,
      userId: string,
      expected: string | null,
      sealed: string,
    ): Promise<boolean> {
      if (expected === null) return insertPassword(q, userId, sealed);
      const { rows } = await q.query(
        `UPDATE user_passwords SET sealed = $3, updated_at = now()
         WHERE user_id = $1 AND sealed = $2 RETURNING user_id`,
        [userId, expected, sealed],
      );
      return rows.length === 1;
    },
    /** Replaces the account's password; false when it has none. */
    async replacePassword(q: Queryable, userId: string, sealed: string): Promise<boolean> {
      const { rows } = await q.query(
        'UPDATE user_passwords SET sealed = $2, updated_at = now() WHERE user_id = $1 RETURNING user_id',
        [userId, sealed],
      );
      return rows.length === 1;
    },
    /**
     * Links `email` to the account (an enclave binding): false when the address is taken by any
     * account, this one included. An unconfirmed registration of the address gives way, as at
     * registration. An account without an email gets this one as its `users.email` (the
     * address its password, reset and recovery use).
     */
    async linkEmail(
      q: Queryable,
      userId: string,
      email: string,
      binding: string,
    ): Promise<string | null> {
      await q.query(`DELETE FROM users WHERE email = $1 AND status = 'pending' AND id <> $2`, [
        email,
        userId,
      ]);
      // Any other account holding the address (its users row or a linked method) keeps it.
      const other = await q.query(
        `SELECT 1 FROM users WHERE email = $2 AND id <> $1
         UNION ALL
         SELECT 1 FROM auth_methods WHERE kind = 'email' AND identifier = $2 AND user_id <> $1`,
        [userId, email],
      );
      if (other.rows.length > 0) return null;
      const { rows } = await q.query<{ id: string }>(
        `INSERT INTO auth_methods (user_id, kind, identifier, binding) VALUES ($1, 'email', $2, $3)
         ON CONFLICT (kind, identifier) DO NOTHING RETURNING id`,
        [userId, email, binding],
      );
      if (rows.length !== 1) return null;
      await q.query(
        'UPDATE users SET email = $2, updated_at = now() WHERE id = $1 AND email IS NULL',
        [userId, email],
      );
      return rows[0]!.id;
    },
    /** Ends every session of the account but `keep` (a password change keeps its own). */
    async revokeOtherSessions(q: Queryable, userId: string, keep: string): Promise<number> {
      const { rows } = await q.query(
        `UPDATE auth_sessions SET revoked_at = now(), revoked_reason = 'logout_all'
         WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL RETURNING id`,
        [userId, keep],
      );
      return rows.length;
    },
    /** The account's pending recovery (auth_recoveries, migrations 018 and 019), if any. */
    async pendingRecovery(userId: string, q: Queryable = db): Promise<PendingRecoveryRow | null> {
      const { rows } = await q.query<Record<keyof PendingRecoveryRow, string>>(
        `SELECT id, unlock_at, expires_at, password_sealed, mac FROM auth_recoveries
          WHERE user_id = $1`,
        [userId],
      );
      const r = rows[0];
      return r ? { ...r, unlock_at: Number(r.unlock_at), expires_at: Number(r.expires_at) } : null;
    },
    /** Replaces any pending recovery of the account. */
    async putRecovery(q: Queryable, userId: string, r: PendingRecoveryRow): Promise<void> {
      await q.query(
        `INSERT INTO auth_recoveries (user_id, id, unlock_at, expires_at, password_sealed, mac)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (user_id) DO UPDATE SET id = EXCLUDED.id, unlock_at = EXCLUDED.unlock_at,
           expires_at = EXCLUDED.expires_at, password_sealed = EXCLUDED.password_sealed,
           mac = EXCLUDED.mac, created_at = now()`,
        [userId, r.id, r.unlock_at, r.expires_at, r.password_sealed, r.mac],
      );
    },
    /** The account's sealed password (null: none), which a pending recovery is bound to. */
    async sealedPassword(userId: string): Promise<string | null> {
      const { rows } = await db.query<{ sealed: string }>(
        'SELECT sealed FROM user_passwords WHERE user_id = $1',
        [userId],
      );
      return rows[0]?.sealed ?? null;
    },
    /** Deletes the pending recovery `id` (any, if null); true if there was one. */
    async deleteRecovery(q: Queryable, userId: string, id: string | null): Promise<boolean> {
      const { rows } = await q.query(
        'DELETE FROM auth_recoveries WHERE user_id = $1 AND ($2::uuid IS NULL OR id = $2) RETURNING id',
        [userId, id],
      );
      return rows.length === 1;
    },
    /** Removes the account's passkeys (a completed recovery: the device is taken as lost). */
    async deletePasskeys(q: Queryable, userId: string): Promise<number> {
      const { rows } = await q.query(
        "DELETE FROM auth_methods WHERE user_id = $1 AND kind = 'passkey' RETURNING id",
        [userId],
      );
      return rows.length;
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
