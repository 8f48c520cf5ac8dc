/**
 * Rotates the enclave's credential key every KEY_ROTATION_INTERVAL_SECONDS, counted from the
 * stored keyring's time (so restarts do not postpone it). The enclave keeps retired keys until
 * no stored or in-flight envelope can name them (max TTL + envelope age).
 */
import type { Logger } from 'pino';
import type { PublicKeys } from '../../protocol/rpc/methods.js';
import type { CredentialKeyring } from '../enclave-client/credential-keyring.js';
import type { EnclaveSupervisor } from '../enclave-client/supervisor.js';
import type { LogService } from '../log/log-service.js';
import { createPeriodicJob, type Clock } from './periodic.js';

export function createKeyRotationJob(deps: {
  keyring: Pick<CredentialKeyring, 'rotate' | 'lastRotatedAt'>;
  enclave: Pick<EnclaveSupervisor, 'call'>;
  log: Pick<LogService, 'commit'>;
  logger: Pick<Logger, 'error' | 'info'>;
  intervalMs: number;
  clock?: Clock;
}) {
  const job = createPeriodicJob<PublicKeys>({
    name: 'credential key rotation',
    everyMs: deps.intervalMs,
    lastRunAt: () => deps.keyring.lastRotatedAt(),
    async run() {
      const keys = await deps.keyring.rotate(deps.enclave, deps.log);
      deps.logger.info({ generation: keys.generation }, 'credential key rotated');
      return keys;
    },
    logger: deps.logger,
    ...(deps.clock ? { clock: deps.clock } : {}),
  });
  return {
    /** Rotates now (or joins a rotation in flight). */
    rotateOnce: () => job.runNow(),
    start: () => job.start(),
    stop: () => job.stop(),
  };
}
