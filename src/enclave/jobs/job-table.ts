/**
 * Long enclave operations (fetching an account's fills can take minutes) run as jobs, so that
 * the RPC socket, which answers frames in order, is never held by one of them. `start` returns
 * at once; the host polls for progress and collects the result, then acknowledges it.
 *
 * Invariants: at most `maxRunning` jobs run at once and at most MAX_JOBS_KEPT are held, finished
 * ones included (more is refused, not queued, so the enclave's memory stays bounded whatever ids
 * the host picks and whether it acknowledges); a finished job is kept until the host
 * acknowledges it or `keepSeconds` pass, so a host that crashed between poll and store can
 * collect it again; a job's failure is a closed RPC error code, never a message from inside; a cancelled job
 * (`cancel`) is aborted through its signal, ends `cancelled` at once and never becomes `done`,
 * whatever its run later returns.
 */
import { RpcError, isRpcErrorCode, type RpcErrorCode } from '../../protocol/rpc/errors.js';
import type { JobProgress } from '../../protocol/rpc/methods.js';

export type { JobProgress };

/** Jobs the table holds at most, finished and unacknowledged ones included (`start` refuses more). */
export const MAX_JOBS_KEPT = 4096;

export type JobView<R> =
  | { job_id: string; state: 'running'; progress: JobProgress }
  | { job_id: string; state: 'done'; progress: JobProgress; result: R }
  | { job_id: string; state: 'failed'; progress: JobProgress; error: RpcErrorCode }
  | { job_id: string; state: 'cancelled'; progress: JobProgress }
  | { job_id: string; state: 'unknown' };

interface Job<R> {
  view: JobView<R>;
  finishedAt: number | null;
  abort: AbortController;
}

export class JobTable<R> {
  private readonly jobs = new Map<string, Job<R>>();

  constructor(
    private readonly maxRunning: number,
    private readonly keepSeconds: number,
    private readonly now: () => number,
  ) {}

  running(): number {
    let n = 0;
    // A cancelled job holds its slot until its run has returned.
    for (const j of this.jobs.values())
      if (j.view.state === 'running' || (j.view.state === 'cancelled' && j.finishedAt === null))
        n++;
    return n;
  }

  /**
   * Starts `run` under `jobId`. `run` reports progress through its argument and must stop
   * when `signal` aborts (the job was cancelled); whatever it throws becomes a failed job with
   * a closed code (INTERNAL unless it is an RpcError).
   */
  start(
    jobId: string,
    run: (progress: (p: JobProgress) => void, signal: AbortSignal) => Promise<R>,
  ): void {
    this.expire();
    if (this.jobs.has(jobId)) throw new RpcError('JOB_EXISTS');
    if (this.running() >= this.maxRunning) throw new RpcError('JOBS_BUSY');
    // Finished jobs wait for the host's ack: one that never acks is refused, nothing is dropped.
    if (this.jobs.size >= MAX_JOBS_KEPT) throw new RpcError('JOBS_BUSY');
    const progress: JobProgress = {
      requests: 0,
      fills: 0,
      rate_limit_waits: 0,
      rate_limit_wait_ms: 0,
    };
    const job: Job<R> = {
      view: { job_id: jobId, state: 'running', progress },
      finishedAt: null,
      abort: new AbortController(),
    };
    this.jobs.set(jobId, job);
    const report = (p: JobProgress) => Object.assign(progress, p);
    // Never let a job's rejection escape: an unhandled rejection ends the enclave process.
    void Promise.resolve()
      .then(() => run(report, job.abort.signal))
      .then(
        (result) => {
          if (job.view.state === 'running')
            job.view = { job_id: jobId, state: 'done', progress, result };
        },
        (err: unknown) => {
          const code = err instanceof RpcError ? err.code : errorCode(err);
          if (job.view.state === 'running')
            job.view = { job_id: jobId, state: 'failed', progress, error: code };
        },
      )
      .finally(() => {
        job.finishedAt ??= this.now();
      });
  }

  /**
   * Cancels `jobIds`: a running job is aborted and answers `cancelled` from now on (its slot
   * frees when its run returns); a finished, uncollected result is replaced by `cancelled`, so
   * it can no longer be collected. Returns the ids that this table knew.
   */
  cancel(jobIds: readonly string[]): string[] {
    const known: string[] = [];
    for (const id of jobIds) {
      const job = this.jobs.get(id);
      if (!job) continue;
      known.push(id);
      if (job.view.state === 'cancelled' || job.view.state === 'unknown') continue;
      const progress = job.view.progress;
      job.view = { job_id: id, state: 'cancelled', progress };
      job.abort.abort();
    }
    return known;
  }

  poll(jobIds: readonly string[]): JobView<R>[] {
    this.expire();
    return jobIds.map((id) => this.jobs.get(id)?.view ?? { job_id: id, state: 'unknown' as const });
  }

  /** The host stored these results durably: forget them. Running jobs are not touched. */
  ack(jobIds: readonly string[]): void {
    for (const id of jobIds) if (this.jobs.get(id)?.finishedAt != null) this.jobs.delete(id);
  }

  private expire(): void {
    const cutoff = this.now() - this.keepSeconds;
    for (const [id, j] of this.jobs)
      if (j.finishedAt !== null && j.finishedAt < cutoff) this.jobs.delete(id);
  }
}

/** Errors with a `code` from the closed RPC set keep it (e.g. connector errors); all else is INTERNAL. */
function errorCode(err: unknown): RpcErrorCode {
  const code = (err as { code?: unknown } | null)?.code;
  return isRpcErrorCode(code) ? code : 'INTERNAL';
}
