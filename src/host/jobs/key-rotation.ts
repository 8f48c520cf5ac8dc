/**
 * Rotates the enclave's credential key every KEY_ROTATION_INTERVAL_SECONDS. The enclave keeps
 * retired keys until no stored or in-flight envelope can name them (max TTL + envelope age).
 */
import type { Logger } from 'pino';
import type { LogEntry } from '../../protocol/log/entry.js';
import type { EnclaveSupervisor } from '../enclave-client/supervisor.js';
import type { LogService } from '../log/log-service.js';

export function createKeyRotationJob(deps: {
  enclave: Pick<EnclaveSupervisor, 'rotateCredentialKey' | 'isReady'>;
  log: Pick<LogService, 'commit'>;
  logger: Pick<Logger, 'error' | 'info'>;
  intervalMs: number;
}) {
  let timer: NodeJS.Timeout | null = null;

  /**
   * Rotates now. The new key id enters the transparency log in the same transaction that stores
   * the new sealed keyring, before the enclave may use the key; no entry, no rotation.
   */
  async function rotateOnce() {
    return deps.enclave.rotateCredentialKey((store, newKeyId) =>
      deps.log.commit({
        async work(tx) {
          await store(tx);
          const entry: LogEntry = {
            v: 1,
            type: 'keyring.rotated',
            subject: newKeyId,
            time: Math.floor(Date.now() / 1000),
          };
          return { result: undefined, entries: [entry] };
        },
      }),
    );
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
