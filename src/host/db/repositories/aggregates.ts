/**
 * Aggregate jobs and their signed results. A job row exists from the moment the enclave accepted
 * the request; its result row is written in the same transaction as the result's log entry
 * (log-service.ts), so a stored result is always a logged one.
 */
import { sessionLogSubject } from '../../../protocol/log/entry.js';
import type { Queryable } from '../database.js';

export interface AggregateRequest {
  from: number | null;
  to: number;
  symbols: string[] | null;
  reporting_currency: string;
}

export interface StoredJob {
  job_id: string;
  session_id: string;
  status: 'running' | 'done' | 'failed';
  request: AggregateRequest;
  requests_made: number;
  fills_seen: number;
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
}

const JOB_COLUMNS = `id AS job_id, session_id, status, request, requests_made, fills_seen,
                     error_code, aggregate_id::text AS aggregate_id`;

export function createAggregateRepository(db: Queryable) {
  return {
    async insertJob(jobId: string, sessionId: string, request: AggregateRequest): Promise<void> {
      await db.query(
        `INSERT INTO aggregate_jobs (id, session_id, status, request) VALUES ($1, $2, 'running', $3)`,
        [jobId, sessionId, JSON.stringify(request)],
      );
    },

    async findJob(jobId: string): Promise<StoredJob | null> {
      const { rows } = await db.query<StoredJob>(
        `SELECT ${JOB_COLUMNS} FROM aggregate_jobs WHERE id = $1`,
        [jobId],
      );
      return rows[0] ?? null;
    },

    async runningJobs(): Promise<StoredJob[]> {
      const { rows } = await db.query<StoredJob>(
        `SELECT ${JOB_COLUMNS} FROM aggregate_jobs WHERE status = 'running' ORDER BY created_at LIMIT 256`,
      );
      return rows;
    },

    async updateProgress(jobId: string, requests: number, fills: number): Promise<void> {
      await db.query(
        `UPDATE aggregate_jobs SET requests_made = $2, fills_seen = $3, updated_at = now()
          WHERE id = $1 AND status = 'running'`,
        [jobId, requests, fills],
      );
    },

    async failJob(q: Queryable, jobId: string, code: string): Promise<void> {
      await q.query(
        `UPDATE aggregate_jobs SET status = 'failed', error_code = $2, updated_at = now()
          WHERE id = $1 AND status = 'running'`,
        [jobId, code],
      );
    },

    /** Stores a signed result and completes its job; false if the job was no longer running. */
    async completeJob(
      q: Queryable,
      job: { job_id: string; session_id: string },
      result: { payload: string; signature: string; payload_digest: string },
    ): Promise<boolean> {
      const { rows } = await q.query<{ id: string }>(
        `INSERT INTO aggregates (session_id, job_id, payload, signature, payload_digest)
         SELECT $1, $2, $3, $4, $5
          WHERE EXISTS (SELECT 1 FROM aggregate_jobs WHERE id = $2 AND status = 'running')
         RETURNING id::text AS id`,
        [job.session_id, job.job_id, result.payload, result.signature, result.payload_digest],
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
        `SELECT id::text AS id, session_id, job_id, payload, signature, payload_digest
           FROM aggregates WHERE id = $1`,
        [aggregateId],
      );
      return rows[0] ?? null;
    },
  };
}
export type AggregateRepository = ReturnType<typeof createAggregateRepository>;
