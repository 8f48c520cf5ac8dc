import { randomUUID } from 'node:crypto';
/**
 * Aggregate jobs and their signed results. A job row exists from the moment the request was
 * admitted (`queued`, or `running` once the enclave accepted it); its result row is written in
 * the same transaction as the result's log entry (log-service.ts), so a stored result is always
 * a logged one. A job ends `done`, `failed` or `cancelled` (its session was revoked), once.
 */
import { sessionLogSubject } from '../../../protocol/log/entry.js';
import type { Queryable } from '../database.js';
import type { JobProgress } from '../../../protocol/rpc/methods.js';

export interface AggregateRequest {
  from: number | null;
  to: number;
  symbols: string[] | null;
  reporting_currency: string;
  /** Echoed in the signed payload (absent in rows written before v2: null). */
  audience?: string | null;
  nonce?: string | null;
}

export type JobStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

export interface StoredJob {
  job_id: string;
  session_id: string;
  status: JobStatus;
  request: AggregateRequest;
  requests_made: number;
  fills_seen: number;
  rate_limit_waits: number;
  rate_limit_wait_ms: number;
  error_code: string | null;
  aggregate_id: string | null;
}

export interface StoredAggregate {
  id: string;
  session_id: string | null;
  job_id: string | null;
  payload: string;
  signature: string;
  payload_digest: string;
  account_salt: string | null;
}

/** Jobs that hold (or wait for) an enclave slot. */
const ACTIVE = `('queued', 'running')`;

const JOB_COLUMNS = `id AS job_id, session_id, status, request, requests_made, fills_seen,
                     rate_limit_waits, rate_limit_wait_ms, error_code, aggregate_id::text AS aggregate_id`;

/** How long a running job stays with the instance that polls it (migration 013). */
export const JOB_RUNNER_LEASE_MS = 60_000;

/**
 * `runner`: this instance's name for the job leases (several instances on one database run
 * each job in the enclave of the instance that started it).
 */
export function createAggregateRepository(db: Queryable, runner: string = randomUUID()) {
  /** SET clause taking the lease; parameter `$n` is the runner (the lease length a constant). */
  const lease = (n: number) =>
    `runner = $${n}, runner_until = now() + interval '${JOB_RUNNER_LEASE_MS} milliseconds'`;
  return {
    async insertJob(
      jobId: string,
      sessionId: string,
      request: AggregateRequest,
      status: 'queued' | 'running' = 'running',
    ): Promise<void> {
      await db.query(
        `INSERT INTO aggregate_jobs (id, session_id, status, request, runner, runner_until)
         VALUES ($1, $2, $3, $4, CASE WHEN $3 = 'running' THEN $5 END,
                 CASE WHEN $3 = 'running' THEN now() + $6 * interval '1 millisecond' END)`,
        [jobId, sessionId, status, JSON.stringify(request), runner, JOB_RUNNER_LEASE_MS],
      );
    },

    /**
     * What admission weighs: the active jobs of this session and of its owner (`userId`; null
     * for a session without one), and how many run and wait overall.
     */
    /** Jobs waiting for an enclave slot and jobs running, service-wide (the metrics gauge). */
    async queueDepth(): Promise<{ running: number; queued: number }> {
      const { rows } = await db.query<Record<'running' | 'queued', string>>(
        `SELECT count(*) FILTER (WHERE status = 'running') AS running,
                count(*) FILTER (WHERE status = 'queued') AS queued
           FROM aggregate_jobs WHERE status IN ${ACTIVE}`,
      );
      return { running: Number(rows[0]!.running), queued: Number(rows[0]!.queued) };
    },

    async activeCounts(
      sessionId: string,
      userId: string | null,
    ): Promise<{ session: number; user: number; running: number; queued: number }> {
      const { rows } = await db.query<Record<'session' | 'usr' | 'running' | 'queued', string>>(
        `SELECT count(*) FILTER (WHERE j.session_id = $1) AS session,
                count(*) FILTER (WHERE $2::uuid IS NOT NULL AND s.user_id = $2::uuid) AS usr,
                count(*) FILTER (WHERE j.status = 'running') AS running,
                count(*) FILTER (WHERE j.status = 'queued') AS queued
           FROM aggregate_jobs j JOIN sessions s ON s.id = j.session_id
          WHERE j.status IN ${ACTIVE}`,
        [sessionId, userId],
      );
      const r = rows[0]!;
      return {
        session: Number(r.session),
        user: Number(r.usr),
        running: Number(r.running),
        queued: Number(r.queued),
      };
    },

    /**
     * Up to `limit` queued jobs to start next, fairly across owners (a user, or a session
     * without one): owners with the fewest running jobs first, then round robin (each owner's
     * first waiting job before anyone's second), then the oldest.
     */
    async nextQueued(limit: number): Promise<StoredJob[]> {
      if (limit <= 0) return [];
      const { rows } = await db.query<StoredJob & { pick: string }>(
        `WITH active AS (
           SELECT j.id, j.status, j.created_at, COALESCE(s.user_id::text, j.session_id::text) AS owner
             FROM aggregate_jobs j JOIN sessions s ON s.id = j.session_id
            WHERE j.status IN ${ACTIVE}),
         ranked AS (
           SELECT q.id,
                  (SELECT count(*) FROM active r WHERE r.owner = q.owner AND r.status = 'running') AS busy,
                  row_number() OVER (PARTITION BY q.owner ORDER BY q.created_at, q.id) AS turn,
                  q.created_at
             FROM active q WHERE q.status = 'queued'),
         picked AS (
           SELECT id, row_number() OVER (ORDER BY busy, turn, created_at, id) AS pick
             FROM ranked ORDER BY pick LIMIT $1)
         SELECT ${JOB_COLUMNS}, p.pick FROM aggregate_jobs JOIN picked p USING (id) ORDER BY p.pick`,
        [limit],
      );
      return rows.map(({ pick: _pick, ...job }) => job);
    },

    async globalCounts(): Promise<{ running: number; queued: number }> {
      const { rows } = await db.query<{ running: string; queued: string }>(
        `SELECT count(*) FILTER (WHERE status = 'running') AS running,
                count(*) FILTER (WHERE status = 'queued') AS queued
           FROM aggregate_jobs WHERE status IN ${ACTIVE}`,
      );
      return { running: Number(rows[0]!.running), queued: Number(rows[0]!.queued) };
    },

    /** queued → running; false if the job is no longer queued (cancelled meanwhile). */
    async markRunning(jobId: string): Promise<boolean> {
      const { rows } = await db.query(
        `UPDATE aggregate_jobs SET status = 'running', updated_at = now(), ${lease(2)}
          WHERE id = $1 AND status = 'queued' RETURNING id`,
        [jobId, runner],
      );
      return rows.length > 0;
    },

    /** running → queued: the enclave had no free slot after all; it is started again later. */
    async requeue(jobId: string): Promise<void> {
      await db.query(
        `UPDATE aggregate_jobs SET status = 'queued', updated_at = now()
          WHERE id = $1 AND status = 'running'`,
        [jobId],
      );
    },

    /** Ids of the session's queued and running jobs. */
    async activeJobIds(sessionId: string): Promise<string[]> {
      const { rows } = await db.query<{ id: string }>(
        `SELECT id FROM aggregate_jobs WHERE session_id = $1 AND status IN ${ACTIVE}`,
        [sessionId],
      );
      return rows.map((r) => r.id);
    },

    /** Marks the session's queued and running jobs cancelled; returns their ids. */
    async cancelSessionJobs(q: Queryable, sessionId: string): Promise<string[]> {
      const { rows } = await q.query<{ id: string }>(
        `UPDATE aggregate_jobs SET status = 'cancelled', updated_at = now()
          WHERE session_id = $1 AND status IN ${ACTIVE} RETURNING id`,
        [sessionId],
      );
      return rows.map((r) => r.id);
    },

    /** A running job the enclave reports cancelled (e.g. cancelled before a host restart). */
    async markCancelled(jobId: string): Promise<void> {
      await db.query(
        `UPDATE aggregate_jobs SET status = 'cancelled', updated_at = now()
          WHERE id = $1 AND status IN ${ACTIVE}`,
        [jobId],
      );
    },

    async findJob(jobId: string): Promise<StoredJob | null> {
      const { rows } = await db.query<StoredJob>(
        `SELECT ${JOB_COLUMNS} FROM aggregate_jobs WHERE id = $1`,
        [jobId],
      );
      return rows[0] ?? null;
    },

    /**
     * The running jobs this instance polls: its own (their lease renewed) and any whose lease
     * lapsed or that have none (taken over: the enclave here answers `unknown` and the job is
     * restarted from the stored ciphertext). Another live instance's jobs are left to it.
     */
    async runningJobs(): Promise<StoredJob[]> {
      const { rows } = await db.query<StoredJob & { created_at: Date }>(
        `UPDATE aggregate_jobs SET ${lease(1)}
          WHERE id IN (SELECT id FROM aggregate_jobs
                        WHERE status = 'running'
                          AND (runner IS NULL OR runner = $1 OR runner_until < now())
                        ORDER BY created_at LIMIT 256
                        FOR UPDATE SKIP LOCKED)
          RETURNING ${JOB_COLUMNS}, created_at`,
        [runner],
      );
      return rows
        .sort((x, y) => +x.created_at - +y.created_at)
        .map(({ created_at: _created, ...job }) => job);
    },

    async updateProgress(jobId: string, p: JobProgress): Promise<void> {
      await db.query(
        `UPDATE aggregate_jobs SET requests_made = $2, fills_seen = $3, rate_limit_waits = $4,
                rate_limit_wait_ms = $5, updated_at = now()
          WHERE id = $1 AND status = 'running'`,
        // The total wait is capped to the column (2^31 - 1 ms is 24 days: never reached).
        [
          jobId,
          p.requests,
          p.fills,
          p.rate_limit_waits,
          Math.min(p.rate_limit_wait_ms, 2 ** 31 - 1),
        ],
      );
    },

    async failJob(q: Queryable, jobId: string, code: string): Promise<void> {
      await q.query(
        `UPDATE aggregate_jobs SET status = 'failed', error_code = $2, updated_at = now()
          WHERE id = $1 AND status IN ${ACTIVE}`,
        [jobId, code],
      );
    },

    /**
     * Stores a signed result and completes its job; false if the job was no longer running
     * (cancelled by a revocation). The job row is locked first, so a revocation's
     * `cancelSessionJobs` either runs before (nothing is stored) or waits for this commit.
     */
    async completeJob(
      q: Queryable,
      job: { job_id: string; session_id: string },
      result: {
        payload: string;
        signature: string;
        payload_digest: string;
        account_salt: string | null;
      },
    ): Promise<boolean> {
      const lock = await q.query(
        `SELECT 1 FROM aggregate_jobs WHERE id = $1 AND status = 'running' FOR UPDATE`,
        [job.job_id],
      );
      if (lock.rows.length === 0) return false;
      const { rows } = await q.query<{ id: string }>(
        `INSERT INTO aggregates (session_id, job_id, payload, signature, payload_digest, account_salt)
         VALUES ($1, $2, $3, $4, $5, $6)
         RETURNING id::text AS id`,
        [
          job.session_id,
          job.job_id,
          result.payload,
          result.signature,
          result.payload_digest,
          result.account_salt,
        ],
      );
      const id = rows[0]?.id;
      if (!id) return false;
      await q.query(
        `UPDATE aggregate_jobs SET status = 'done', aggregate_id = $2, updated_at = now() WHERE id = $1`,
        [job.job_id, id],
      );
      return true;
    },

    /** Leaf index of a result's `aggregates.signed` entry (subject = the session's hash). */
    async logIndex(sessionId: string, payloadDigest: string): Promise<number | null> {
      const { rows } = await db.query<{ leaf_index: string }>(
        `SELECT leaf_index FROM merkle_logs
          WHERE subject = $1 AND event_type = 'aggregates.signed' AND entry LIKE $2
          ORDER BY leaf_index LIMIT 1`,
        [sessionLogSubject(sessionId), `%"payload":"${payloadDigest}"%`],
      );
      return rows[0] ? Number(rows[0].leaf_index) : null;
    },

    async findResult(aggregateId: string): Promise<StoredAggregate | null> {
      const { rows } = await db.query<StoredAggregate>(
        `SELECT id::text AS id, session_id, job_id, payload, signature, payload_digest, account_salt
           FROM aggregates WHERE id = $1`,
        [aggregateId],
      );
      return rows[0] ?? null;
    },
  };
}
export type AggregateRepository = ReturnType<typeof createAggregateRepository>;
