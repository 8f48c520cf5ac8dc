/**
 * Runs cleanup_expired_credentials() every TTL_SWEEP_INTERVAL_SECONDS (and on demand, after a
 * revoke), recording one `credential.expired` event and log entry per session it ends, in the
 * same transaction as the delete. Each scheduled run also purges rows past their retention
 * (`purgeRetention`, repositories/retention.ts) with one `retention.purged` event.
 * Runs never overlap; a failed run is logged and retried at the next check (periodic.ts).
 */
import type { Logger } from 'pino';
import { sessionLogSubject, type LogEntry } from '../../protocol/log/entry.js';
import type { LogService } from '../log/log-service.js';
import type { SessionRepository } from '../db/repositories/sessions.js';
import type { Metrics } from '../metrics.js';
import type { OpsLog } from '../ops-events.js';
import { createPeriodicJob } from './periodic.js';
import type { Db } from '../db/database.js';
import {
  purgeExpiredRows,
  type PurgeCounts,
  type RetentionDays,
} from '../db/repositories/retention.js';

/** Deletes rows past their retention and records how many, in one transaction. */
export async function purgeRetention(deps: {
  db: Pick<Db, 'transaction'>;
  ops: OpsLog;
  days: RetentionDays;
}): Promise<PurgeCounts> {
  return deps.db.transaction(async (tx) => {
    const counts = await purgeExpiredRows(tx, deps.days);
    await deps.ops.record(tx, { type: 'retention.purged', ...counts });
    return counts;
  });
}

export function createTtlSweeper(deps: {
  log: Pick<LogService, 'commit'>;
  sessions: Pick<SessionRepository, 'cleanupExpired'>;
  ops: OpsLog;
  logger: Pick<Logger, 'error'>;
  intervalMs: number;
  /** Run after each scheduled sweep (not after an on-demand one). */
  retention?: { db: Pick<Db, 'transaction'>; days: RetentionDays };
  /** Counts the runs (cloister_cleanup_runs_total). */
  metrics?: Pick<Metrics, 'cleanupRun'>;
}) {
  /** `run`, with each outcome counted. */
  const counted =
    <T>(job: 'ttl_sweep' | 'retention_purge', run: () => Promise<T>) =>
    async (): Promise<T> => {
      try {
        const out = await run();
        deps.metrics?.cleanupRun(job, 'ok');
        return out;
      } catch (err) {
        deps.metrics?.cleanupRun(job, 'error');
        throw err;
      }
    };
  async function sweep(): Promise<string[]> {
    const { result } = await deps.log.commit({
      async work(tx) {
        const ids = await deps.sessions.cleanupExpired(tx);
        const time = Math.floor(Date.now() / 1000);
        const entries: LogEntry[] = [];
        for (const sessionId of ids) {
          await deps.ops.record(tx, { type: 'credential.expired', sessionId });
          entries.push({
            v: 1,
            type: 'credential.expired',
            subject: sessionLogSubject(sessionId),
            time,
          });
        }
        return { result: ids, entries };
      },
    });
    return result;
  }

  const sweepJob = createPeriodicJob({
    name: 'ttl sweep',
    everyMs: deps.intervalMs,
    run: counted('ttl_sweep', sweep),
    logger: deps.logger,
  });
  // Same schedule, its own job: a failed purge never holds back the sweep, nor the reverse.
  const retention = deps.retention;
  const purgeJob = createPeriodicJob<PurgeCounts | null>({
    name: 'retention purge',
    everyMs: retention ? deps.intervalMs : 0,
    run: counted('retention_purge', async () =>
      retention ? purgeRetention({ db: retention.db, ops: deps.ops, days: retention.days }) : null,
    ),
    logger: deps.logger,
  });
  return {
    runOnce: () => sweepJob.runNow(),
    purgeRetention: () => purgeJob.runNow(),
    start() {
      sweepJob.start();
      purgeJob.start();
    },
    async stop() {
      await Promise.all([sweepJob.stop(), purgeJob.stop()]);
    },
  };
}
export type TtlSweeper = ReturnType<typeof createTtlSweeper>;
