/**
 * Retention: rows whose purpose has ended are deleted after a configurable number of days
 * (0 keeps them). Never the transparency log (merkle_logs, checkpoints: public and append-only),
 * sessions' metadata, signed aggregates, or a queued or running job.
 */
import type { Queryable } from '../database.js';

export interface RetentionDays {
  /**
   * Expired refresh tokens, login sessions revoked or with no live refresh token left, and
   * unconfirmed registrations (`pending` accounts).
   */
  authSessionDays: number;
  opsLogDays: number;
  /** Finished (done, failed or cancelled) aggregate job rows; their signed result stays. */
  jobDays: number;
}

export interface PurgeCounts {
  authSessions: number;
  refreshTokens: number;
  opsLogs: number;
  jobs: number;
  pendingAccounts: number;
}

async function deleted(q: Queryable, sql: string, days: number): Promise<number> {
  if (days === 0) return 0;
  const { rows } = await q.query<{ n: number }>(
    `WITH d AS (${sql} RETURNING 1) SELECT count(*)::int AS n FROM d`,
    [days],
  );
  return rows[0]?.n ?? 0;
}

/** Deletes what is older than its retention; run it in one transaction with its ops event. */
export async function purgeExpiredRows(q: Queryable, days: RetentionDays): Promise<PurgeCounts> {
  const cutoff = 'now() - make_interval(days => $1::int)';
  // Tokens first: a session is ended once it is revoked, or no refresh token of it is left.
  const refreshTokens = await deleted(
    q,
    `DELETE FROM refresh_tokens WHERE expires_at < ${cutoff}
        OR session_id IN (SELECT id FROM auth_sessions WHERE revoked_at < ${cutoff})`,
    days.authSessionDays,
  );
  const authSessions = await deleted(
    q,
    `DELETE FROM auth_sessions s WHERE s.revoked_at < ${cutoff}
        OR (s.created_at < ${cutoff}
            AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.session_id = s.id))`,
    days.authSessionDays,
  );
  const opsLogs = await deleted(
    q,
    `DELETE FROM ops_logs WHERE created_at < ${cutoff}`,
    days.opsLogDays,
  );
  const jobs = await deleted(
    q,
    // Finished ones only: a queued job is admitted and waiting for a slot, as live as a running one.
    `DELETE FROM aggregate_jobs WHERE status IN ('done', 'failed', 'cancelled') AND updated_at < ${cutoff}`,
    days.jobDays,
  );
  // An unconfirmed registration: an address anyone may have typed, never confirmed by its
  // mailbox. It cannot sign in and its code has long expired, so it only keeps that address
  // (with a sealed password) at rest; its sealed password and methods go with it (cascade).
  const pendingAccounts = await deleted(
    q,
    `DELETE FROM users WHERE status = 'pending' AND created_at < ${cutoff}`,
    days.authSessionDays,
  );
  return { authSessions, refreshTokens, opsLogs, jobs, pendingAccounts };
}
