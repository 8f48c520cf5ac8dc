/**
 * Signed performance aggregates, host side (issue 4). The host never sees the key or the fills:
 * it hands the enclave the stored ciphertext and the window, the enclave fetches, computes and
 * signs inside, and the host stores the signed result together with its transparency-log entry
 * (fail closed: no result is answered before its entry is durable).
 *
 * A fetch can take minutes, so it runs as an enclave job: `request` starts it and waits up to
 * `waitMs` for the result, else answers with the job to poll. One poller collects progress and
 * results for every running job in one enclave call per tick. A job the enclave no longer knows
 * (it restarted) is started again once from the stored ciphertext, then failed.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { sessionLogSubject, type LogEntry } from '../../protocol/log/entry.js';
import type { JobView, MethodParams } from '../../protocol/rpc/methods.js';
import type { SessionMetadata } from '../../protocol/credentials.js';
import type {
  AggregateRepository,
  AggregateRequest,
  StoredJob,
} from '../db/repositories/aggregates.js';
import { storedEnvelope, type SessionRepository } from '../db/repositories/sessions.js';
import type { Db } from '../db/database.js';
import { HostError, fromRpcCode } from '../errors.js';
import type { EnclaveSupervisor } from '../enclave-client/supervisor.js';
import type { LogService } from '../log/log-service.js';
import type { LogStore } from '../log/log-store.js';
import type { OpsLog } from '../ops-events.js';

export interface AggregatesServiceDeps {
  enclave: Pick<EnclaveSupervisor, 'call' | 'isReady'>;
  db: Pick<Db, 'query' | 'exec' | 'transaction'>;
  sessions: SessionRepository;
  aggregates: AggregateRepository;
  log: Pick<LogService, 'commit' | 'isReady'>;
  logStore: Pick<LogStore, 'latestCheckpoint'>;
  ops: OpsLog;
  logger: Pick<Logger, 'warn' | 'error'>;
  config: { waitMs: number; maxWindowDays: number; pollIntervalMs?: number };
  now?: () => number;
}

export interface AggregatesQuery {
  from?: string | undefined;
  to?: string | undefined;
  symbols?: string[] | undefined;
  reporting_currency?: string | undefined;
}

/** What a client gets for a job: the signed result, or where the job stands. */
export type JobAnswer =
  | {
      status: 'done';
      job_id: string;
      aggregates_signed: { signature: string; payload: Record<string, unknown> };
      merkle_root: string;
      log: { index: number; tree_size: number; root_hash: string };
      logs_url: string;
    }
  | {
      status: 'running';
      job_id: string;
      progress: { requests: number; fills: number };
      status_url: string;
    };

const DAY_MS = 86_400_000;
/** Clock skew tolerated on a client's `to`. */
const FUTURE_SKEW_MS = 60_000;
const MAX_RESTARTS = 1;

export function createAggregatesService(deps: AggregatesServiceDeps) {
  const { enclave, sessions, aggregates, log, ops } = deps;
  const now = deps.now ?? (() => Date.now());
  const pollIntervalMs = deps.config.pollIntervalMs ?? 200;
  /** Callers waiting for a job to end, by job id. */
  const waiters = new Map<string, Set<() => void>>();
  /** Finished jobs the enclave may forget once stored (sent as `ack` on the next poll). */
  const acks = new Set<string>();
  const restarts = new Map<string, number>();
  let timer: NodeJS.Timeout | null = null;
  let polling: Promise<void> | null = null;
  let stopped = false;

  function window(q: AggregatesQuery): { from: number | null; to: number } {
    const to = q.to !== undefined ? Date.parse(q.to) : now();
    const from = q.from !== undefined ? Date.parse(q.from) : null;
    const maxMs = deps.config.maxWindowDays * DAY_MS;
    if (
      to > now() + FUTURE_SKEW_MS ||
      (from !== null && (from >= to || to - from > maxMs || from < 0))
    ) {
      throw new HostError('AGGREGATES_WINDOW_INVALID');
    }
    return { from, to };
  }

  async function activeCredential(sessionId: string) {
    const s = await sessions.find(sessionId);
    const envelope = s ? storedEnvelope(s) : null;
    if (!s || s.status !== 'active' || s.expires_at * 1000 <= now() || !envelope || !s.binding) {
      throw new HostError('SESSION_NOT_FOUND');
    }
    return {
      session_id: s.session_id,
      envelope,
      key_id: s.key_id!,
      exchange: s.exchange as SessionMetadata['exchange'],
      label: s.label,
      expires_at: s.expires_at,
      binding: s.binding,
    };
  }

  async function startInEnclave(
    jobId: string,
    sessionId: string,
    request: AggregateRequest,
    credential?: Awaited<ReturnType<typeof activeCredential>>,
  ) {
    const params: MethodParams<'aggregates.start'> = {
      job_id: jobId,
      credential: credential ?? (await activeCredential(sessionId)),
      from: request.from,
      to: request.to,
      symbols: request.symbols,
      reporting_currency: request.reporting_currency,
    };
    await enclave.call('aggregates.start', params);
  }

  /** The answer for a stored job: its result with log position, or its progress, or its error. */
  async function answer(job: StoredJob): Promise<JobAnswer> {
    if (job.status === 'failed') throw fromRpcCode(job.error_code ?? 'INTERNAL');
    if (job.status === 'running') {
      return {
        status: 'running',
        job_id: job.job_id,
        progress: { requests: job.requests_made, fills: job.fills_seen },
        status_url: `/enclave/aggregates/jobs/${job.job_id}`,
      };
    }
    const result = await aggregates.findResult(job.aggregate_id!);
    const checkpoint = await deps.logStore.latestCheckpoint();
    const index = result ? await aggregates.logIndex(job.session_id, result.payload_digest) : null;
    if (!result || !checkpoint || index === null) throw new HostError('INTERNAL');
    return {
      status: 'done',
      job_id: job.job_id,
      aggregates_signed: {
        signature: result.signature,
        payload: JSON.parse(result.payload) as Record<string, unknown>,
      },
      merkle_root: checkpoint.rootHash,
      log: { index, tree_size: checkpoint.size, root_hash: checkpoint.rootHash },
      logs_url: `/api/logs/${job.session_id}`,
    };
  }

  function waitFor(jobId: string, ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const set = waiters.get(jobId) ?? new Set();
      waiters.set(jobId, set);
      const done = () => {
        clearTimeout(t);
        set.delete(done);
        if (set.size === 0) waiters.delete(jobId);
        resolve();
      };
      const t = setTimeout(done, ms);
      set.add(done);
    });
  }

  function wake(jobId: string): void {
    for (const w of [...(waiters.get(jobId) ?? [])]) w();
  }

  async function store(job: StoredJob, view: Extract<JobView, { state: 'done' }>): Promise<void> {
    const { result, progress } = view;
    await log.commit({
      async work(tx) {
        const stored = await aggregates.completeJob(tx, job, {
          payload: result.payload_jcs,
          signature: result.signature,
          payload_digest: result.payload_digest,
        });
        if (!stored) return { result: undefined, entries: [] };
        await ops.record(tx, {
          type: 'aggregates.signed',
          sessionId: job.session_id,
          jobId: job.job_id,
          payloadDigest: result.payload_digest,
          requests: progress.requests,
          fills: progress.fills,
        });
        const entry: LogEntry = {
          v: 1,
          type: 'aggregates.signed',
          subject: sessionLogSubject(job.session_id),
          time: result.signed_at,
          digests: { payload: result.payload_digest },
        };
        return { result: undefined, entries: [entry] };
      },
    });
  }

  async function fail(job: StoredJob, code: string): Promise<void> {
    await deps.db.transaction(async (tx) => {
      await aggregates.failJob(tx, job.job_id, code);
      await ops.record(tx, {
        type: 'aggregates.failed',
        sessionId: job.session_id,
        jobId: job.job_id,
        code,
      });
      if (code === 'EXCHANGE_KEY_REJECTED') {
        // The key is useless now: keep the session's record, drop its ciphertext.
        await tx.query(
          `UPDATE sessions SET status = 'invalid', ended_at = now() WHERE id = $1 AND status = 'active'`,
          [job.session_id],
        );
        await tx.query('DELETE FROM credentials WHERE session_id = $1', [job.session_id]);
        await ops.record(tx, { type: 'session.invalidated', sessionId: job.session_id, code });
      }
    });
  }

  async function handle(job: StoredJob, view: JobView): Promise<void> {
    switch (view.state) {
      case 'running':
        await aggregates.updateProgress(job.job_id, view.progress.requests, view.progress.fills);
        return;
      case 'done':
        await store(job, view);
        acks.add(job.job_id);
        break;
      case 'failed':
        await fail(job, view.error);
        acks.add(job.job_id);
        break;
      case 'unknown': {
        // The enclave restarted and lost the job: run it again from the stored ciphertext.
        const n = restarts.get(job.job_id) ?? 0;
        if (n < MAX_RESTARTS) {
          restarts.set(job.job_id, n + 1);
          try {
            await startInEnclave(job.job_id, job.session_id, job.request);
            return;
          } catch (err) {
            const code = (err as { code?: string }).code;
            if (code === 'ENCLAVE_UNAVAILABLE' || code === 'ENCLAVE_TIMEOUT') return;
          }
        }
        await fail(job, 'EXCHANGE_UNAVAILABLE');
        break;
      }
    }
    restarts.delete(job.job_id);
    wake(job.job_id);
  }

  /** One poll of every running job; true while there is anything left to poll for. */
  async function pollOnce(): Promise<boolean> {
    if (!enclave.isReady()) return true;
    const running = await aggregates.runningJobs();
    if (running.length === 0 && acks.size === 0) return false;
    const ack = [...acks].slice(0, 256);
    const res = await enclave.call('aggregates.poll', {
      job_ids: running.map((j) => j.job_id),
      ack,
    });
    for (const id of ack) acks.delete(id);
    for (const view of res.jobs) {
      const job = running.find((j) => j.job_id === view.job_id);
      if (!job) continue;
      try {
        await handle(job, view);
      } catch (err) {
        // LOG_UNAVAILABLE and database errors: the enclave keeps the result; try next tick.
        deps.logger.warn({ code: (err as { code?: string }).code }, 'aggregates job not stored');
      }
    }
    return true;
  }

  function schedule(): void {
    if (stopped || timer) return;
    timer = setTimeout(() => {
      timer = null;
      polling = pollOnce()
        .catch((err: unknown) => {
          deps.logger.warn({ code: (err as { code?: string }).code }, 'aggregates poll failed');
          return true;
        })
        .then((more) => {
          polling = null;
          if (more) schedule();
        });
    }, pollIntervalMs);
  }

  return {
    async request(sessionId: string, q: AggregatesQuery): Promise<JobAnswer> {
      // Fail closed before any work: a result the log cannot record must not be computed.
      if (!log.isReady()) throw new HostError('LOG_UNAVAILABLE');
      const { from, to } = window(q);
      const request: AggregateRequest = {
        from,
        to,
        symbols: q.symbols ? [...new Set(q.symbols)].sort() : null,
        reporting_currency: q.reporting_currency ?? 'USDT',
      };
      const jobId = randomUUID();
      // An unknown, revoked or expired session is refused before anything is written.
      const credential = await activeCredential(sessionId);
      // The row next: a job the enclave runs always has a row to collect its result into.
      await aggregates.insertJob(jobId, sessionId, request);
      try {
        await startInEnclave(jobId, sessionId, request, credential);
      } catch (err) {
        const code = (err as { code?: string }).code;
        await aggregates.failJob(
          deps.db,
          jobId,
          /^[A-Z][A-Z0-9_]{1,63}$/.test(code ?? '') ? code! : 'INTERNAL',
        );
        throw err;
      }
      await ops.record(deps.db, {
        type: 'aggregates.requested',
        sessionId,
        jobId,
        from,
        to,
        symbols: request.symbols?.length ?? null,
      });
      schedule();
      await waitFor(jobId, deps.config.waitMs);
      return this.job(jobId);
    },

    async job(jobId: string): Promise<JobAnswer> {
      const job = await aggregates.findJob(jobId);
      if (!job) throw new HostError('JOB_NOT_FOUND');
      return answer(job);
    },

    /** Starts polling (jobs left running by an earlier host process are collected too). */
    start(): void {
      stopped = false;
      schedule();
    },

    async stop(): Promise<void> {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      await polling;
      for (const id of [...waiters.keys()]) wake(id);
    },
  };
}
export type AggregatesService = ReturnType<typeof createAggregatesService>;
