/**
 * Long enclave operations (fetching an account's fills can take minutes) run as jobs, so that
 * the RPC socket, which answers frames in order, is never held by one of them. `start` returns
 * at once; the host polls for progress and collects the result, then acknowledges it.
 *
 * Invariants: at most `maxRunning` jobs run at once (more is refused, not queued, so the
 * enclave's memory stays bounded); a finished job is kept until the host acknowledges it or
 * `keepSeconds` pass, so a host that crashed between poll and store can collect it again; a
 * job's failure is a closed RPC error code, never a message from inside.
 */
import { RpcError, isRpcErrorCode, type RpcErrorCode } from '../../protocol/rpc/errors.js';

export interface JobProgress {
  requests: number;
  fills: number;
}

export type JobView<R> =
  | { job_id: string; state: 'running'; progress: JobProgress }
  | { job_id: string; state: 'done'; progress: JobProgress; result: R }
  | { job_id: string; state: 'failed'; progress: JobProgress; error: RpcErrorCode }
  | { job_id: string; state: 'unknown' };

interface Job<R> {
  view: JobView<R>;
  finishedAt: number | null;
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
    for (const j of this.jobs.values()) if (j.view.state === 'running') n++;
    return n;
  }

  /**
   * Starts `run` under `jobId`. `run` reports progress through its argument; whatever it
   * throws becomes a failed job with a closed code (INTERNAL unless it is an RpcError).
   */
  start(jobId: string, run: (progress: (p: JobProgress) => void) => Promise<R>): void {
    this.expire();
    if (this.jobs.has(jobId)) throw new RpcError('JOB_EXISTS');
    if (this.running() >= this.maxRunning) throw new RpcError('JOBS_BUSY');
    const progress: JobProgress = { requests: 0, fills: 0 };
    const job: Job<R> = { view: { job_id: jobId, state: 'running', progress }, finishedAt: null };
    this.jobs.set(jobId, job);
    const report = (p: JobProgress) => {
      progress.requests = p.requests;
      progress.fills = p.fills;
    };
    // Never let a job's rejection escape: an unhandled rejection ends the enclave process.
    void Promise.resolve()
      .then(() => run(report))
      .then(
        (result) => {
          job.view = { job_id: jobId, state: 'done', progress, result };
        },
        (err: unknown) => {
          const code = err instanceof RpcError ? err.code : errorCode(err);
          job.view = { job_id: jobId, state: 'failed', progress, error: code };
        },
      )
      .finally(() => {
        job.finishedAt = this.now();
      });
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
