/**
 * Signed performance aggregates, host side (issue 4). The host never sees the key or the fills:
 * it hands the enclave the stored ciphertext and the window, the enclave fetches, computes and
 * signs inside, and the host stores the signed result together with its transparency-log entry
 * (fail closed: no result is answered before its entry is durable).
 *
 * This module admits requests (issue 12 item 4): a window the protocol's rule accepts, an
 * active session, at most `maxJobsPerSession` active (queued or running) jobs per session and
 * `maxJobsPerUser` per owner (429 + Retry-After beyond), a job started at once when the enclave
 * has a free slot and nobody waits, else queued up to `queueMax` (503 + Retry-After beyond) and
 * started fairly across owners as slots free. `request` then waits up to `waitMs` for the
 * result, else answers with the job to poll. The job state machine and poller are
 * aggregates-jobs.ts, the answers aggregates-answer.ts.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { aggregatesWindow } from '../../protocol/aggregates.js';
import type { AggregateRepository, AggregateRequest } from '../db/repositories/aggregates.js';
import type { SessionRepository } from '../db/repositories/sessions.js';
import type { Db, Queryable } from '../db/database.js';
import { HostError } from '../errors.js';
import type { EnclaveSupervisor } from '../enclave-client/supervisor.js';
import type { LogService } from '../log/log-service.js';
import type { LogStore } from '../log/log-store.js';
import type { OpsLog } from '../ops-events.js';
import { answerFor, type JobAnswer } from './aggregates-answer.js';
import { closedCode, createAggregateJobs } from './aggregates-jobs.js';

export type { JobAnswer } from './aggregates-answer.js';

export interface AggregatesServiceDeps {
  enclave: Pick<EnclaveSupervisor, 'call' | 'isReady'>;
  db: Pick<Db, 'query' | 'exec' | 'transaction'>;
  sessions: Pick<SessionRepository, 'find' | 'invalidate'>;
  aggregates: AggregateRepository;
  log: Pick<LogService, 'commit' | 'isReady'>;
  logStore: Pick<LogStore, 'latestCheckpoint'>;
  ops: OpsLog;
  logger: Pick<Logger, 'warn' | 'error'>;
  config: {
    waitMs: number;
    maxWindowDays: number;
    pollIntervalMs?: number;
    /** Jobs the enclave runs at once (AGGREGATES_MAX_JOBS); default 4. */
    maxJobs?: number;
    /** Active jobs one user may hold (AGGREGATES_MAX_JOBS_PER_USER); default 1. */
    maxJobsPerUser?: number;
    /** Active jobs one session may hold (AGGREGATES_MAX_JOBS_PER_SESSION); default 1. */
    maxJobsPerSession?: number;
    /** Jobs that may wait for a slot (AGGREGATES_QUEUE_MAX); default 64. */
    queueMax?: number;
  };
  now?: () => number;
}

export interface AggregatesQuery {
  from?: string | undefined;
  to?: string | undefined;
  symbols?: string[] | undefined;
  reporting_currency?: string | undefined;
  audience?: string | undefined;
  nonce?: string | undefined;
}

/** Retry-After (s) for a user at its cap, and for a full queue: a job takes seconds to minutes. */
const CAP_RETRY_AFTER_S = 30;
const QUEUE_RETRY_AFTER_S = 10;

export function createAggregatesService(deps: AggregatesServiceDeps) {
  const { aggregates, log, ops, config } = deps;
  const now = deps.now ?? (() => Date.now());
  const maxJobs = config.maxJobs ?? 4;
  const perUser = config.maxJobsPerUser ?? 1;
  const perSession = config.maxJobsPerSession ?? 1;
  const queueMax = config.queueMax ?? 64;
  const jobs = createAggregateJobs({
    enclave: deps.enclave,
    db: deps.db,
    sessions: deps.sessions,
    aggregates,
    log,
    ops,
    logger: deps.logger,
    maxRunning: maxJobs,
    pollIntervalMs: config.pollIntervalMs ?? 200,
    now,
  });

  // Admission decisions are serialized (count, then insert), so two requests of one user
  // cannot both see a free slot. One host process drives the one enclave.
  let admission: Promise<unknown> = Promise.resolve();
  function serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = admission.then(fn, fn);
    admission = run.catch(() => undefined);
    return run;
  }

  async function admit(
    jobId: string,
    sessionId: string,
    userId: string | null,
    request: AggregateRequest,
  ): Promise<'running' | 'queued'> {
    return serialized(async () => {
      const c = await aggregates.activeCounts(sessionId, userId);
      if (c.session >= perSession || (userId !== null && c.user >= perUser))
        throw new HostError('AGGREGATES_TOO_MANY_JOBS', undefined, CAP_RETRY_AFTER_S);
      // Nobody waits and a slot is free: start now. Otherwise queue behind the others.
      const status = c.queued === 0 && c.running < maxJobs ? 'running' : 'queued';
      if (status === 'queued' && c.queued >= queueMax)
        throw new HostError('AGGREGATES_QUEUE_FULL', undefined, QUEUE_RETRY_AFTER_S);
      await aggregates.insertJob(jobId, sessionId, request, status);
      return status;
    });
  }

  return {
    async request(sessionId: string, q: AggregatesQuery): Promise<JobAnswer> {
      // Fail closed before any work: a result the log cannot record must not be computed.
      if (!log.isReady()) throw new HostError('LOG_UNAVAILABLE');
      const to = q.to !== undefined ? Date.parse(q.to) : now();
      const from = q.from !== undefined ? Date.parse(q.from) : null;
      if (!aggregatesWindow({ from, to }, now(), config.maxWindowDays))
        throw new HostError('AGGREGATES_WINDOW_INVALID');
      const request: AggregateRequest = {
        from,
        to,
        symbols: q.symbols ? [...new Set(q.symbols)].sort() : null,
        reporting_currency: q.reporting_currency ?? 'USDT',
        audience: q.audience ?? null,
        nonce: q.nonce ?? null,
      };
      // An unknown, revoked or expired session is refused before anything is written.
      const active = await jobs.activeSession(sessionId);
      const jobId = randomUUID();
      // The row first: a job the enclave runs always has a row to collect its result into.
      const status = await admit(jobId, sessionId, active.userId, request);
      if (status === 'running') {
        try {
          await jobs.startInEnclave({ job_id: jobId, session_id: sessionId, request }, active);
        } catch (err) {
          // The enclave's slots are still held by jobs it is winding down: wait in the queue.
          if (closedCode(err) === 'JOBS_BUSY') await aggregates.requeue(jobId);
          else {
            await jobs.fail({ job_id: jobId, session_id: sessionId }, closedCode(err));
            throw err;
          }
        }
      }
      await ops.record(deps.db, {
        type: 'aggregates.requested',
        sessionId,
        jobId,
        from,
        to,
        symbols: request.symbols?.length ?? null,
      });
      jobs.schedule();
      await jobs.waitFor(jobId, config.waitMs);
      return this.job(jobId);
    },

    async job(jobId: string): Promise<JobAnswer> {
      const job = await aggregates.findJob(jobId);
      if (!job) throw new HostError('JOB_NOT_FOUND');
      return answerFor(job, { aggregates, logStore: deps.logStore });
    },

    /**
     * The revocation hook (credential-service.ts): `stop` the session's jobs in the enclave
     * before the revocation commits, `cancel` them in its transaction, then `stop` what that
     * cancelled (a queued job the poller started in between) and `wake` their waiters.
     */
    revocation: {
      activeJobIds: (sessionId: string) => aggregates.activeJobIds(sessionId),
      stop: (jobIds: readonly string[]) => jobs.stopInEnclave(jobIds),
      cancel: (tx: Queryable, sessionId: string) => jobs.cancelSessionJobs(tx, sessionId),
      wake: (jobIds: readonly string[]) => {
        for (const id of jobIds) jobs.wake(id);
      },
    },

    /** Starts polling (jobs left running or queued by an earlier host process too). */
    start: () => jobs.start(),
    stop: () => jobs.stop(),
  };
}
export type AggregatesService = ReturnType<typeof createAggregatesService>;
