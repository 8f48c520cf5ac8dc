/**
 * The aggregates job state machine, host side: starting admitted jobs in the enclave (queued
 * ones fairly, as slots free), one poller that collects progress and results of every running
 * job in one enclave call per tick, storing a result with its log entry (fail closed), failing
 * and cancelling jobs. Answer shaping is aggregates-answer.ts; admission is the service's.
 *
 *   queued ──start──▶ running ──poll──▶ done | failed | cancelled
 *      └──────────── revoke ─────────────────────────▶ cancelled
 *
 * A job the enclave no longer knows (it restarted) is started again once from the stored
 * ciphertext, then failed. A job whose session is revoked is cancelled in the enclave (which
 * wipes its opened key and never signs it) and marked `cancelled` in the revocation's own
 * transaction, so no `aggregates.signed` entry can follow the session's `session.revoked`.
 */
import type { Logger } from 'pino';
import { aggregatesSubject } from '../../protocol/aggregates.js';
import { sessionLogSubject, type LogEntry } from '../../protocol/log/entry.js';
import type { JobView, MethodParams } from '../../protocol/rpc/methods.js';
import type { AggregateRepository, StoredJob } from '../db/repositories/aggregates.js';
import { storedCredential, type SessionRepository } from '../db/repositories/sessions.js';
import type { Db, Queryable } from '../db/database.js';
import { HostError } from '../errors.js';
import type { EnclaveSupervisor } from '../enclave-client/supervisor.js';
import type { LogService } from '../log/log-service.js';
import type { OpsLog } from '../ops-events.js';
import { createTicker, createWaiters } from './job-ticker.js';

export interface AggregateJobsDeps {
  enclave: Pick<EnclaveSupervisor, 'call' | 'isReady'>;
  db: Pick<Db, 'transaction'>;
  sessions: Pick<SessionRepository, 'find' | 'invalidate'>;
  aggregates: AggregateRepository;
  log: Pick<LogService, 'commit'>;
  ops: OpsLog;
  logger: Pick<Logger, 'warn' | 'error'>;
  /** Jobs the enclave runs at once (its AGGREGATES_MAX_JOBS). */
  maxRunning: number;
  pollIntervalMs: number;
  now: () => number;
}

const MAX_RESTARTS = 1;
const RETRYABLE = new Set(['ENCLAVE_UNAVAILABLE', 'ENCLAVE_TIMEOUT', 'ENCLAVE_BUSY', 'JOBS_BUSY']);

const codeOf = (err: unknown): string | undefined => (err as { code?: string } | null)?.code;
/** An error's code if it is a closed one (what a job row may store), else INTERNAL. */
export const closedCode = (err: unknown): string => {
  const code = codeOf(err);
  return /^[A-Z][A-Z0-9_]{1,63}$/.test(code ?? '') ? code! : 'INTERNAL';
};

/** A session's credential as `aggregates.start` takes it, with the payload's subject. */
export interface ActiveSession {
  credential: MethodParams<'aggregates.start'>['credential'];
  subject: string;
  userId: string | null;
}

export function createAggregateJobs(deps: AggregateJobsDeps) {
  const { enclave, sessions, aggregates, log, ops } = deps;
  const waiters = createWaiters();
  const { wake } = waiters;
  /** Finished jobs the enclave may forget once stored (sent as `ack` on the next poll). */
  const acks = new Set<string>();
  /** Jobs started again after an enclave restart lost them, and how often. */
  const restarts = new Map<string, number>();

  /** The session's credential, if it is active and unexpired; else SESSION_NOT_FOUND. */
  async function activeSession(sessionId: string): Promise<ActiveSession> {
    const s = await sessions.find(sessionId);
    const credential = s ? storedCredential(s) : null;
    if (!s || !credential || s.status !== 'active' || s.expires_at * 1000 <= deps.now())
      throw new HostError('SESSION_NOT_FOUND');
    const subject = aggregatesSubject(s.user_id ? { userId: s.user_id } : { sessionId });
    return { credential, subject, userId: s.user_id };
  }

  async function startInEnclave(
    job: Pick<StoredJob, 'job_id' | 'session_id' | 'request'>,
    active?: ActiveSession,
  ): Promise<void> {
    const { credential, subject } = active ?? (await activeSession(job.session_id));
    const r = job.request;
    await enclave.call('aggregates.start', {
      job_id: job.job_id,
      credential,
      from: r.from,
      to: r.to,
      symbols: r.symbols,
      reporting_currency: r.reporting_currency,
      subject,
      audience: r.audience ?? null,
      nonce: r.nonce ?? null,
    });
  }

  async function store(job: StoredJob, view: Extract<JobView, { state: 'done' }>): Promise<void> {
    const { result, progress } = view;
    await log.commit({
      async work(tx) {
        const stored = await aggregates.completeJob(tx, job, {
          payload: result.payload_jcs,
          signature: result.signature,
          payload_digest: result.payload_digest,
          account_salt: result.account_salt,
        });
        // Cancelled meanwhile (its session was revoked): nothing is stored, nothing logged.
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

  async function fail(job: Pick<StoredJob, 'job_id' | 'session_id'>, code: string): Promise<void> {
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
        await sessions.invalidate(tx, job.session_id);
        await ops.record(tx, { type: 'session.invalidated', sessionId: job.session_id, code });
      }
    });
  }

  async function handle(job: StoredJob, view: JobView): Promise<void> {
    switch (view.state) {
      case 'running':
        await aggregates.updateProgress(job.job_id, view.progress);
        return;
      case 'done':
        // The final counts stay with the job (the result does not carry them).
        await aggregates.updateProgress(job.job_id, view.progress);
        await store(job, view);
        acks.add(job.job_id);
        break;
      case 'failed':
        await fail(job, view.error);
        acks.add(job.job_id);
        break;
      case 'cancelled':
        await aggregates.markCancelled(job.job_id);
        acks.add(job.job_id);
        break;
      case 'unknown': {
        // The enclave restarted and lost the job: run it again from the stored ciphertext.
        const n = restarts.get(job.job_id) ?? 0;
        if (n < MAX_RESTARTS) {
          restarts.set(job.job_id, n + 1);
          try {
            await startInEnclave(job);
            return;
          } catch (err) {
            if (RETRYABLE.has(codeOf(err) ?? '')) return;
          }
        }
        await fail(job, 'EXCHANGE_UNAVAILABLE');
        break;
      }
    }
    restarts.delete(job.job_id);
    wake(job.job_id);
  }

  /** Starts queued jobs while the enclave has free slots, fairly across owners. */
  async function startQueued(): Promise<void> {
    const { running } = await aggregates.globalCounts();
    for (const job of await aggregates.nextQueued(deps.maxRunning - running)) {
      if (!(await aggregates.markRunning(job.job_id))) continue;
      try {
        await startInEnclave(job);
      } catch (err) {
        const code = codeOf(err);
        if (RETRYABLE.has(code ?? '')) {
          await aggregates.requeue(job.job_id);
          return;
        }
        await fail(job, closedCode(err));
        wake(job.job_id);
      }
    }
  }

  /** One poll of every running job; true while there is anything left to poll for. */
  async function pollOnce(): Promise<boolean> {
    if (!enclave.isReady()) return true;
    await startQueued();
    const running = await aggregates.runningJobs();
    if (running.length === 0 && acks.size === 0)
      return (await aggregates.globalCounts()).queued > 0;
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
        deps.logger.warn({ code: codeOf(err) }, 'aggregates job not stored');
      }
    }
    return true;
  }

  const ticker = createTicker(pollOnce, deps.pollIntervalMs, (err) =>
    deps.logger.warn({ code: codeOf(err) }, 'aggregates poll failed'),
  );

  return {
    activeSession,
    startInEnclave,
    fail,
    waitFor: waiters.waitFor,
    wake,
    schedule: ticker.schedule,

    /**
     * Stops jobs inside the enclave (their opened keys are wiped, nothing is signed). Best
     * effort: a revocation never waits on an enclave that is down (a job it restarts later is
     * one the database already marks cancelled, and so never collected).
     */
    async stopInEnclave(jobIds: readonly string[]): Promise<void> {
      if (jobIds.length === 0 || !enclave.isReady()) return;
      try {
        await enclave.call('aggregates.cancel', { job_ids: jobIds.slice(0, 256) });
      } catch (err) {
        deps.logger.warn({ code: codeOf(err) }, 'aggregates cancel failed');
      }
    },

    /** Marks the session's queued and running jobs cancelled, in the caller's transaction. */
    async cancelSessionJobs(tx: Queryable, sessionId: string): Promise<string[]> {
      const ids = await aggregates.cancelSessionJobs(tx, sessionId);
      for (const jobId of ids)
        await ops.record(tx, { type: 'aggregates.cancelled', sessionId, jobId });
      return ids;
    },

    /** Starts polling (jobs left running or queued by an earlier host process too). */
    start: ticker.start,

    async stop(): Promise<void> {
      await ticker.stop();
      waiters.wakeAll();
    },
  };
}
export type AggregateJobs = ReturnType<typeof createAggregateJobs>;
