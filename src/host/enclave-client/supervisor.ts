/**
 * Spawns the enclave process (or connects to one given its socket), hands it its sealed keyring,
 * and restarts it when it dies. While it is down, `call` fails fast with ENCLAVE_UNAVAILABLE and
 * `retryAfterSeconds` says when to come back; routes turn that into 503 + Retry-After. The
 * enclave gets only its own settings in its environment, never the host's.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { resolve as resolvePath, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Logger } from 'pino';
import type {
  MethodName,
  MethodParams,
  MethodResult,
  PublicKeys,
} from '../../protocol/rpc/methods.js';
import type { Config } from '../config.js';
import type { Db, Queryable } from '../db/database.js';
import type { EnclaveStateRepository } from '../db/repositories/enclave-state.js';
import type { OpsLog } from '../ops-events.js';
import { EnclaveCallError, EnclaveRpcClient, type BatchCall } from './rpc-client.js';

const MIN_BACKOFF_MS = 200;
const MAX_BACKOFF_MS = 5000;

/**
 * Makes a prepared rotation durable: runs `store` (the sealed keyring and its ops event) in a
 * transaction, with whatever else must land with it (the transparency-log entry).
 */
export type RotationPersist = (
  store: (tx: Queryable) => Promise<void>,
  newKeyId: string,
) => Promise<unknown>;

export interface SupervisorDeps {
  config: Pick<
    Config,
    'dataDir' | 'maxTtlSeconds' | 'enclave' | 'exchanges' | 'aggregates' | 'auth' | 'wallet'
  >;
  db: Pick<Db, 'transaction'>;
  state: EnclaveStateRepository;
  ops: OpsLog;
  logger: Logger;
}

/** Where the host's CONNECT proxy listens for the enclave's exchange traffic (tunnel mode). */
export function egressProxySocketPath(dataDir: string): string {
  return resolvePath(join(dataDir, 'egress.sock'));
}

export function createEnclaveSupervisor(deps: SupervisorDeps) {
  const { config, logger } = deps;
  const socketPath = config.enclave.socket ?? resolvePath(join(config.dataDir, 'enclave.sock'));
  let client: EnclaveRpcClient | null = null;
  let child: ChildProcess | null = null;
  let ready = false;
  let stopping = false;
  let restarts = 0;
  let backoffMs = MIN_BACKOFF_MS;
  let generation = 0;
  let measurement = '';
  let bringingUp: Promise<void> | null = null;
  /** Run on every (re)start after the keyring is ready and before routes may use the enclave. */
  const readyHooks: ((call: EnclaveRpcClient['call']) => Promise<void>)[] = [];

  function spawnEnclave(): Promise<void> {
    mkdirSync(config.dataDir, { recursive: true });
    const env = {
      ENCLAVE_SOCKET_PATH: socketPath,
      TEE_PLATFORM: config.enclave.platform,
      SIMULATED_PLATFORM_DIR: resolvePath(join(config.dataDir, 'simulated-platform')),
      TEE_DEVICE_ROOT: config.enclave.deviceRoot,
      TSM_REPORT_ENTRY: config.enclave.tsmReportEntry,
      NSM_HELPER_SOCKET: config.enclave.nsmHelperSocket,
      ...(config.enclave.sealingKeyFile
        ? { SEALING_KEY_FILE: resolvePath(config.enclave.sealingKeyFile) }
        : {}),
      ENCLAVE_MAX_TTL_SECONDS: String(config.maxTtlSeconds),
      ENVELOPE_MAX_AGE_SECONDS: String(config.enclave.envelopeMaxAgeSeconds),
      ENVELOPE_MAX_FUTURE_SECONDS: String(config.enclave.envelopeMaxFutureSeconds),
      REPLAY_CACHE_MAX_ENTRIES: String(config.enclave.replayCacheMaxEntries),
      BINANCE_BASE_URL: config.exchanges.baseUrls.binance,
      BYBIT_BASE_URL: config.exchanges.baseUrls.bybit,
      OKX_BASE_URL: config.exchanges.baseUrls.okx,
      COINBASE_BASE_URL: config.exchanges.baseUrls.coinbase,
      EGRESS_MODE: config.exchanges.egressMode,
      ...(config.exchanges.egressMode === 'tunnel'
        ? { EGRESS_PROXY_SOCKET: egressProxySocketPath(config.dataDir) }
        : {}),
      ...(config.exchanges.egressCaFile
        ? { EGRESS_CA_FILE: resolvePath(config.exchanges.egressCaFile) }
        : {}),
      AGGREGATES_MAX_JOBS: String(config.aggregates.maxJobs),
      AGGREGATES_MAX_WINDOW_DAYS: String(config.aggregates.maxWindowDays),
      AGGREGATES_MAX_FILLS: String(config.aggregates.maxFills),
      WALLET_RECOVERY_DELAY_SECONDS: String(config.wallet.recoveryDelaySeconds),
      ...config.auth.enclaveEnv,
      PATH: process.env.PATH ?? '',
    };
    const proc = spawn(process.execPath, [resolvePath(config.enclave.bundle)], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    return new Promise((resolve, reject) => {
      // The enclave prints fixed JSON status lines only; forward them as they are.
      createInterface({ input: proc.stdout! }).on('line', (line) => {
        logger.info({ source: 'enclave', line: line.slice(0, 500) }, 'enclave output');
        if (line.includes('"enclave.listening"')) resolve();
      });
      createInterface({ input: proc.stderr! }).on('line', (line) =>
        logger.error({ source: 'enclave', line: line.slice(0, 500) }, 'enclave error output'),
      );
      proc.once('exit', (code, signal) => {
        reject(new Error(`enclave exited during start (code ${code}, signal ${signal})`));
        if (child === proc) child = null;
        logger.warn({ code, signal }, 'enclave process exited');
        client?.close();
      });
    });
  }

  /** Unseal the stored keyring, or create and store the first one. */
  async function initKeyring(c: EnclaveRpcClient): Promise<void> {
    const status = await c.call('enclave.status', {});
    measurement = status.measurement;
    if (status.phase === 'ready') {
      // An enclave we connected to was initialised by an earlier host run: nothing to hand over.
      const latest = await deps.state.latest();
      if (!latest || latest.generation !== status.generation)
        throw new Error('running enclave holds another keyring');
      generation = latest.generation;
      return;
    }
    const latest = await deps.state.latest();
    if (latest) {
      generation = (await c.call('keyring.unseal', { sealed: latest.sealed })).public.generation;
      return;
    }
    const generated = await c.call('keyring.generate', { policy: config.enclave.sealingPolicy });
    await deps.db.transaction(async (tx) => {
      await deps.state.insert(
        {
          generation: generated.public.generation,
          sealed: generated.sealed,
          policy: config.enclave.sealingPolicy,
          measurement,
        },
        tx,
      );
      await deps.ops.record(tx, {
        type: 'keyring.generated',
        generation: generated.public.generation,
        keyId: generated.public.current_key_id,
      });
    });
    generation = generated.public.generation;
  }

  async function bringUp(): Promise<void> {
    if (!config.enclave.socket) await spawnEnclave();
    const c = await EnclaveRpcClient.connect(socketPath, config.enclave.callTimeoutMs);
    client = c;
    c.onClose(() => onEnclaveLost());
    await initKeyring(c);
    for (const hook of readyHooks) await hook(c.call.bind(c));
    ready = true;
    backoffMs = MIN_BACKOFF_MS;
    await deps.db.transaction((tx) =>
      deps.ops.record(
        tx,
        restarts === 0
          ? { type: 'enclave.started', platform: config.enclave.platform, measurement, generation }
          : {
              type: 'enclave.restarted',
              platform: config.enclave.platform,
              measurement,
              generation,
              restarts,
            },
      ),
    );
  }

  function onEnclaveLost(): void {
    if (!ready && bringingUp) return; // a failing start is retried by its own loop
    ready = false;
    if (stopping) return;
    restarts++;
    logger.warn({ restarts }, 'enclave connection lost; restarting');
    void startLoop();
  }

  async function startLoop(): Promise<void> {
    if (bringingUp) return bringingUp;
    bringingUp = (async () => {
      for (;;) {
        if (stopping) return;
        try {
          await bringUp();
          return;
        } catch (err) {
          ready = false;
          const code = err instanceof EnclaveCallError ? err.code : undefined;
          logger.error({ code, backoffMs }, 'enclave start failed; retrying');
          client?.close();
          child?.kill('SIGKILL');
          await new Promise((r) => setTimeout(r, backoffMs));
          backoffMs = Math.min(backoffMs * 2, MAX_BACKOFF_MS);
        }
      }
    })().finally(() => {
      bringingUp = null;
    });
    return bringingUp;
  }

  function live(): EnclaveRpcClient {
    if (!ready || !client || !client.isOpen) throw new EnclaveCallError('ENCLAVE_UNAVAILABLE');
    return client;
  }

  return {
    /** Resolves once the enclave is ready for the first time. */
    start: () => startLoop(),
    isReady: () => ready && client !== null && client.isOpen,
    retryAfterSeconds: () => Math.max(1, Math.ceil(backoffMs / 1000)),
    generation: () => generation,
    measurement: () => measurement,
    call<M extends MethodName>(method: M, params: MethodParams<M>): Promise<MethodResult<M>> {
      try {
        return live().call(method, params);
      } catch (err) {
        return Promise.reject(err);
      }
    },
    batch(calls: BatchCall[]) {
      return live().batch(calls);
    },
    /** Rotation: prepare → store durably → activate (see enclave/methods/keyring.ts). */
    /**
     * Rotates the credential key in two steps. The new keyring is stored (and, through
     * `persist`, logged) before the enclave may use it: if storing fails, the enclave keeps its
     * current key; if activation fails after storing, the next start unseals the stored one.
     */
    async rotateCredentialKey(
      persist: RotationPersist = (store) => deps.db.transaction(store),
    ): Promise<PublicKeys> {
      const c = live();
      const prepared = await c.call('keyring.prepare_rotation', {});
      await persist(async (tx) => {
        await deps.state.insert(
          {
            generation: prepared.generation,
            sealed: prepared.sealed,
            policy: config.enclave.sealingPolicy,
            measurement,
          },
          tx,
        );
        await deps.ops.record(tx, {
          type: 'keyring.rotated',
          generation: prepared.generation,
          keyId: prepared.key_id,
        });
      }, prepared.key_id);
      const { public: keys } = await c.call('keyring.activate', {
        generation: prepared.generation,
        sealed: prepared.sealed,
      });
      generation = keys.generation;
      return keys;
    },
    /** Registers a step of every enclave start (e.g. resuming the transparency log). */
    onReady(hook: (call: EnclaveRpcClient['call']) => Promise<void>): void {
      readyHooks.push(hook);
    },
    /** Drops the enclave (kills a spawned one) so that it restarts from durable state. */
    restart(): void {
      ready = false;
      if (child) child.kill('SIGKILL');
      else client?.close();
    },
    /** Test and operations hook: the enclave's process id, to kill it on purpose. */
    pid: () => child?.pid ?? null,
    async stop(): Promise<void> {
      stopping = true;
      ready = false;
      client?.close();
      const proc = child;
      if (proc && proc.exitCode === null) {
        await new Promise<void>((r) => {
          proc.once('exit', () => r());
          proc.kill('SIGTERM');
        });
      }
    },
  };
}

export type EnclaveSupervisor = ReturnType<typeof createEnclaveSupervisor>;
