/**
 * What the access checks and the operator routes read: who owns a session or an aggregates job,
 * the operator's session listing and an account's own (metadata only, never ciphertext), and
 * the counters.
 */
import type { Queryable } from '../database.js';

export interface OperatorSessionRow {
  session_id: string;
  user_id: string | null;
  exchange: string;
  label: string;
  status: string;
  created_at: Date;
  expires_at: Date;
}

export function createOperatorRepository(db: Pick<Queryable, 'query'>) {
  return {
    /** The session's owner: undefined when no such session, null when it has none. */
    async sessionOwner(sessionId: string): Promise<string | null | undefined> {
      const { rows } = await db.query<{ user_id: string | null }>(
        'SELECT user_id FROM sessions WHERE id = $1',
        [sessionId],
      );
      return rows[0]?.user_id;
    },
    /** The owner of the job's session: undefined when no such job. */
    async jobOwner(jobId: string): Promise<string | null | undefined> {
      const { rows } = await db.query<{ user_id: string | null }>(
        'SELECT s.user_id FROM aggregate_jobs j JOIN sessions s ON s.id = j.session_id WHERE j.id = $1',
        [jobId],
      );
      return rows[0]?.user_id;
    },
    async listSessions(limit: number): Promise<OperatorSessionRow[]> {
      const { rows } = await db.query<OperatorSessionRow>(
        `SELECT id AS session_id, user_id, exchange, label, status, created_at, expires_at
           FROM sessions ORDER BY created_at DESC LIMIT $1`,
        [limit],
      );
      return rows;
    },
    /** One account's sessions, newest first (metadata only): GET /enclave/sessions. */
    async userSessions(userId: string, limit: number): Promise<OperatorSessionRow[]> {
      const { rows } = await db.query<OperatorSessionRow>(
        `SELECT id AS session_id, user_id, exchange, label, status, created_at, expires_at
           FROM sessions WHERE user_id = $1 ORDER BY created_at DESC LIMIT $2`,
        [userId, limit],
      );
      return rows;
    },
    async counts(): Promise<{ users: number; active_sessions: number; login_sessions: number }> {
      const { rows } = await db.query<{
        users: number;
        active_sessions: number;
        login_sessions: number;
      }>(
        `SELECT (SELECT count(*) FROM users)::int AS users,
                (SELECT count(*) FROM sessions WHERE status = 'active')::int AS active_sessions,
                (SELECT count(*) FROM auth_sessions WHERE revoked_at IS NULL)::int AS login_sessions`,
      );
      return rows[0]!;
    },
  };
}
export type OperatorRepository = ReturnType<typeof createOperatorRepository>;
