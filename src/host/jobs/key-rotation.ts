/**
 * Rotates the enclave's credential key every KEY_ROTATION_INTERVAL_SECONDS, counted from the
 * stored keyring's time (so restarts do not postpone it). The enclave keeps retired keys until
 * no stored or in-flight envelope can name them (max TTL + envelope age). With several
 * instances on one database the rotation runs on the one that takes the lease, and every
 * instance reloads the newest stored generation every KEYRING_RELOAD_MS (and on an envelope
 * naming a key it does not have, credential-service.ts).
 */
import type { Logger } from 'pino';
import type { PublicKeys } from '../../protocol/rpc/methods.js';
import type { CredentialKeyring } from '../enclave-client/credential-keyring.js';
import type { EnclaveSupervisor } from '../enclave-client/supervisor.js';
import type { LogService } from '../log/log-service.js';
import type { JobLease } from './lease.js';
import { createPeriodicJob, type Clock } from './periodic.js';

/** How often an instance looks for a generation another instance rotated to. */
export const KEYRING_RELOAD_MS = 30_000;

export function createKeyRotationJob(deps: {
  keyring: Pick<CredentialKeyring, 'rotate' | 'lastRotatedAt' | 'reload'>;
  enclave: Pick<EnclaveSupervisor, 'call'>;
  log: Pick<LogService, 'commit'>;
  logger: Pick<Logger, 'error' | 'info'>;
  intervalMs: number;
  clock?: Clock;
  /** Several instances on one database: the rotation runs on one of them (lease.ts). */
  lease?: Pick<JobLease, 'acquire'>;
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
    ...(deps.lease ? { lease: () => deps.lease!.acquire('credential key rotation') } : {}),
    logger: deps.logger,
    ...(deps.clock ? { clock: deps.clock } : {}),
  });
  const reload = createPeriodicJob<boolean>({
    name: 'credential keyring reload',
    everyMs: KEYRING_RELOAD_MS,
    run: () => deps.keyring.reload(deps.enclave.call),
    logger: deps.logger,
    ...(deps.clock ? { clock: deps.clock } : {}),
  });
  return {
    /** Rotates now (or joins a rotation in flight). */
    rotateOnce: () => job.runNow(),
    /** Loads a newer generation another instance stored (or joins a reload in flight). */
    reloadOnce: () => reload.runNow(),
    start: () => {
      job.start();
      reload.start();
    },
    stop: () => Promise.all([job.stop(), reload.stop()]).then(() => undefined),
  };
}
