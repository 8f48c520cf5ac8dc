/**
 * Rotates the enclave's credential key every KEY_ROTATION_INTERVAL_SECONDS. The enclave keeps
 * retired keys until no stored or in-flight envelope can name them (max TTL + envelope age).
 */
import type { Logger } from 'pino';
import type { LogEntry } from '../../protocol/log/entry.js';
import type { EnclaveSupervisor } from '../enclave/supervisor.js';
import type { LogService } from '../log/log-service.js';

export function createKeyRotationJob(deps: {
  enclave: Pick<EnclaveSupervisor, 'rotateCredentialKey' | 'isReady'>;
  log: Pick<LogService, 'commit'>;
  logger: Pick<Logger, 'error' | 'info'>;
  intervalMs: number;
}) {
  let timer: NodeJS.Timeout | null = null;

  /** Rotates now and logs the new key id in the transparency log. */
  async function rotateOnce() {
    const keys = await deps.enclave.rotateCredentialKey();
    const entry: LogEntry = {
      v: 1,
      type: 'keyring.rotated',
      subject: keys.current_key_id,
      time: Math.floor(Date.now() / 1000),
    };
    await deps.log.commit({ work: async () => ({ result: undefined, entries: [entry] }) });
    return keys;
  }

  return {
    rotateOnce,
    start() {
      if (deps.intervalMs <= 0) return;
      timer = setInterval(() => {
        if (!deps.enclave.isReady()) return;
        rotateOnce()
          .then((keys) =>
            deps.logger.info({ generation: keys.generation }, 'credential key rotated'),
          )
          .catch((err: unknown) => deps.logger.error({ err }, 'credential key rotation failed'));
      }, deps.intervalMs);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
    },
  };
}
