/**
 * Runs cleanup_expired_credentials() every TTL_SWEEP_INTERVAL_SECONDS (and on demand, after a
 * revoke), recording one `credential.expired` event and log entry per session it ends, in the
 * same transaction as the delete. Each scheduled run then purges rows past their retention
 * (`purgeRetention`, repositories/retention.ts) with one `retention.purged` event.
 * Runs never overlap; a failed run is logged and retried at the next tick.
 */
import type { Logger } from 'pino';
import { sessionLogSubject, type LogEntry } from '../../protocol/log/entry.js';
import type { LogService } from '../log/log-service.js';
import type { SessionRepository } from '../db/repositories/sessions.js';
import type { OpsLog } from '../ops-events.js';
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
}) {
  let running: Promise<string[]> | null = null;
  let timer: NodeJS.Timeout | null = null;

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

  function runOnce(): Promise<string[]> {
    running ??= sweep().finally(() => {
      running = null;
    });
    return running;
  }

  let purging: Promise<PurgeCounts | null> | null = null;
  function purgeOnce(): Promise<PurgeCounts | null> {
    const retention = deps.retention;
    if (!retention) return Promise.resolve(null);
    purging ??= purgeRetention({ db: retention.db, ops: deps.ops, days: retention.days }).finally(
      () => {
        purging = null;
      },
    );
    return purging;
  }

  return {
    runOnce,
    purgeRetention: purgeOnce,
    start() {
      timer = setInterval(() => {
        runOnce().catch((err: unknown) => deps.logger.error({ err }, 'ttl sweep failed'));
        purgeOnce().catch((err: unknown) => deps.logger.error({ err }, 'retention purge failed'));
      }, deps.intervalMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      await running?.catch(() => undefined);
      await purging?.catch(() => undefined);
    },
  };
}
export type TtlSweeper = ReturnType<typeof createTtlSweeper>;
