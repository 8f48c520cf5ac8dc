/**
 * Runs cleanup_expired_credentials() every TTL_SWEEP_INTERVAL_SECONDS (and on demand, after a
 * revoke), recording one `credential.expired` event and log entry per session it ends, in the
 * same transaction as the delete.
 * Runs never overlap; a failed run is logged and retried at the next check (periodic.ts).
 */
import type { Logger } from 'pino';
import { sessionLogSubject, type LogEntry } from '../../protocol/log/entry.js';
import type { LogService } from '../log/log-service.js';
import type { SessionRepository } from '../db/repositories/sessions.js';
import type { OpsLog } from '../ops-events.js';
import { createPeriodicJob } from './periodic.js';

export function createTtlSweeper(deps: {
  log: Pick<LogService, 'commit'>;
  sessions: Pick<SessionRepository, 'cleanupExpired'>;
  ops: OpsLog;
  logger: Pick<Logger, 'error'>;
  intervalMs: number;
}) {
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

  const job = createPeriodicJob({
    name: 'ttl sweep',
    everyMs: deps.intervalMs,
    run: sweep,
    logger: deps.logger,
  });
  return {
    runOnce: () => job.runNow(),
    start: () => job.start(),
    stop: () => job.stop(),
  };
}
export type TtlSweeper = ReturnType<typeof createTtlSweeper>;
