/**
 * Rotates the enclave's credential key every KEY_ROTATION_INTERVAL_SECONDS. The enclave keeps
 * retired keys until no stored or in-flight envelope can name them (max TTL + envelope age).
 */
import type { Logger } from 'pino';
import type { EnclaveSupervisor } from '../enclave/supervisor.js';

export function createKeyRotationJob(deps: {
  enclave: Pick<EnclaveSupervisor, 'rotateCredentialKey' | 'isReady'>;
  logger: Pick<Logger, 'error' | 'info'>;
  intervalMs: number;
}) {
  let timer: NodeJS.Timeout | null = null;
  return {
    start() {
      if (deps.intervalMs <= 0) return;
      timer = setInterval(() => {
        if (!deps.enclave.isReady()) return;
        deps.enclave
          .rotateCredentialKey()
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
