/**
 * What a client gets for an aggregates job (the answer shaping, apart from the job state
 * machine in aggregates-jobs.ts): the signed result with its log position and the salt that
 * opens its account commitment, or where the job stands, or its error.
 */
import type { AggregateRepository, StoredJob } from '../db/repositories/aggregates.js';
import { HostError, fromRpcCode } from '../errors.js';
import type { LogStore } from '../log/log-store.js';
import type { JobProgress } from '../../protocol/rpc/methods.js';

export type JobAnswer =
  | {
      status: 'done';
      job_id: string;
      aggregates_signed: { signature: string; payload: Record<string, unknown> };
      /**
       * Opens the payload's `account_commitment` (docs/protocol/signed-aggregates.md). Only the
       * session's owner gets it; it is not part of what is signed or shared by default.
       */
      account_opening?: { salt: string };
      merkle_root: string;
      log: { index: number; tree_size: number; root_hash: string };
      logs_url: string;
    }
  | {
      status: 'queued' | 'running';
      job_id: string;
      progress: JobProgress;
      status_url: string;
    }
  | {
      status: 'cancelled';
      job_id: string;
      progress: JobProgress;
    };

export interface AnswerDeps {
  aggregates: Pick<AggregateRepository, 'findResult' | 'logIndex'>;
  logStore: Pick<LogStore, 'latestCheckpoint'>;
}

/** A stored job's failure as the client sees it (host codes as such, enclave codes mapped). */
function failure(code: string | null): HostError {
  // CREDENTIAL_EXPIRED: the session expired while its job ran; it is gone, as a new request for
  // it would be told (not a 500: nothing failed but the session's end).
  if (code === 'SESSION_NOT_FOUND' || code === 'CREDENTIAL_EXPIRED')
    return new HostError('SESSION_NOT_FOUND');
  return fromRpcCode(code ?? 'INTERNAL');
}

export async function answerFor(job: StoredJob, deps: AnswerDeps): Promise<JobAnswer> {
  const progress: JobProgress = {
    requests: job.requests_made,
    fills: job.fills_seen,
    rate_limit_waits: job.rate_limit_waits,
    rate_limit_wait_ms: job.rate_limit_wait_ms,
  };
  switch (job.status) {
    case 'failed':
      // The enclave noted the session's revocation while the job ran (its key wiped, nothing
      // signed): the revocation's cancel, reached by the job before the host's cancel call.
      if (job.error_code !== 'CREDENTIAL_REVOKED') throw failure(job.error_code);
      return { status: 'cancelled', job_id: job.job_id, progress };
    case 'cancelled':
      return { status: 'cancelled', job_id: job.job_id, progress };
    case 'queued':
    case 'running':
      return {
        status: job.status,
        job_id: job.job_id,
        progress,
        status_url: `/enclave/aggregates/jobs/${job.job_id}`,
      };
    case 'done':
      break;
  }
  const result = job.aggregate_id ? await deps.aggregates.findResult(job.aggregate_id) : null;
  const checkpoint = await deps.logStore.latestCheckpoint();
  const index = result
    ? await deps.aggregates.logIndex(job.session_id, result.payload_digest)
    : null;
  if (!result || !checkpoint || index === null) throw new HostError('INTERNAL');
  return {
    status: 'done',
    job_id: job.job_id,
    aggregates_signed: {
      signature: result.signature,
      payload: JSON.parse(result.payload) as Record<string, unknown>,
    },
    ...(result.account_salt ? { account_opening: { salt: result.account_salt } } : {}),
    merkle_root: checkpoint.rootHash,
    log: { index, tree_size: checkpoint.size, root_hash: checkpoint.rootHash },
    logs_url: `/api/logs/${job.session_id}`,
  };
}
