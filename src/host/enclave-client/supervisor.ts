/**
 * Supervises the enclave process: spawns it (or connects to one given its socket), runs the
 * ready hooks (the keyrings, the log) on every start, and restarts it when it dies. While it is down, `call` fails fast with ENCLAVE_UNAVAILABLE and
 * `retryAfterSeconds` says when to come back; routes turn that into 503 + Retry-After. The
 * enclave gets only its own settings in its environment, never the host's.
 *
 * A watchdog sends a heartbeat (`enclave.status`) every ENCLAVE_HEARTBEAT_INTERVAL_MS. An
 * enclave that leaves ENCLAVE_HEARTBEAT_MISSES of them unanswered in a row, or lets that many
 * calls in a row time out, is hung (a blocked event loop, a stopped process): it is killed and
 * restarted from the sealed keyring, as after a crash, with an `enclave.unresponsive` ops event.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { resolve as resolvePath, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Logger } from 'pino';
import { EVIDENCE_PLATFORM } from '../../protocol/enclave-env.js';
import type { MethodName, MethodParams, MethodResult } from '../../protocol/rpc/methods.js';
import { serializeEnclaveEnv, type Config } from '../config.js';
import type { Db } from '../db/database.js';
import type { Metrics } from '../metrics.js';
import type { OpsLog } from '../ops-events.js';
import { createPeriodicJob } from '../jobs/periodic.js';
import {
  EnclaveCallError,
  EnclaveRpcClient,
  isEnclaveCallError,
  type BatchCall,
} from './rpc-client.js';

const MIN_BACKOFF_MS = 200;
const MAX_BACKOFF_MS = 5000;
/** How long stop() waits for the enclave to exit on SIGTERM before it kills it. */
const STOP_GRACE_MS = 5000;

export interface SupervisorDeps {
  config: Pick<
    Config,
    'dataDir' | 'maxTtlSeconds' | 'enclave' | 'exchanges' | 'aggregates' | 'auth' | 'enclaveEnv'
  >;
  db: Pick<Db, 'transaction'>;
  ops: OpsLog;
  logger: Logger;
  /** Tests only: lets the spawned enclave answer its test methods (simulated platform only). */
  testHooks?: boolean;
  /** Times every call by method (cloister_enclave_call_duration_seconds). */
  metrics?: Pick<Metrics, 'enclaveCall'>;
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
  /** The running enclave's envelope_not_before (enclave.status), told to refused clients. */
  let envelopeNotBefore: number | undefined;
  let bringingUp: Promise<void> | null = null;
  /** Run on every (re)start after the keyring is ready and before routes may use the enclave. */
  const readyHooks: ((call: EnclaveRpcClient['call']) => Promise<void>)[] = [];
  /**
   * Run on every (re)start once calls go through (after the ready hooks), before the enclave
   * counts as ready (`isReady`, /readyz): work that needs the enclave through the services, such
   * as appending to the log. One that throws fails the start, which is retried.
   */
  const startedHooks: (() => Promise<void>)[] = [];
  /** This start's started hooks are done (isReady waits for them). */
  let started = false;
  /** Watchdog: the heartbeat awaiting its answer, heartbeats missed and calls timed out in a row. */
  let heartbeat: Promise<unknown> | null = null;
  let missed = 0;
  let timeouts = 0;
  /** When the enclave last answered anything (monotonic ms). */
  let lastAnswerAt = performance.now();

  function spawnEnclave(): Promise<void> {
    mkdirSync(config.dataDir, { recursive: true });
    const env = {
      ...serializeEnclaveEnv(config, {
        socketPath,
        egressProxySocket: egressProxySocketPath(config.dataDir),
      }),
      // The enclave exits when this process dies (enclave/main.ts).
      ENCLAVE_PARENT_PID: String(process.pid),
      ...(deps.testHooks ? { ENCLAVE_TEST_HOOKS: '1' } : {}),
      PATH: process.env.PATH ?? '',
    };
    // A small young generation (V8's default grows to 2 x 16-32 MiB): ~6 MiB less RSS than the
    // default. 2 MiB, not 1: with 1 the log's appends spent ~25 % more of the enclave's CPU per
    // entry, mostly in scavenges, for ~3 MiB (bench/README.md, "Memory" and log-append).
    const proc = spawn(
      process.execPath,
      ['--max-semi-space-size=2', resolvePath(config.enclave.bundle)],
      {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
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

  /**
   * The platform the enclave reports must be the one configured here: the production check, the
   * logs, the ops events and the metrics all name TEE_PLATFORM, and an enclave this host
   * connects to (ENCLAVE_SOCKET) has settings of its own: one launched without TEE_PLATFORM runs
   * simulated. Refused, it gets no keyring. Simulated is said at warn level on every start.
   */
  function checkPlatform(reported: string): void {
    const configured = config.enclave.platform;
    if (reported !== EVIDENCE_PLATFORM[configured]) {
      logger.error(
        { event: 'enclave.platform_mismatch', configured, reported },
        'the enclave runs on another platform than TEE_PLATFORM: refused (fix the enclave launch or TEE_PLATFORM)',
      );
      throw new Error('enclave platform mismatch');
    }
    if (reported === 'simulated') {
      logger.warn(
        { event: 'enclave.simulated_platform', production: config.enclave.production },
        config.enclave.production
          ? 'SIMULATED platform under CLOISTER_ENV=production (ALLOW_SIMULATED_IN_PRODUCTION=true): no isolation, the evidence proves nothing; demos only'
          : 'SIMULATED platform: no isolation, the evidence proves nothing; development only (docs/platforms/)',
      );
    }
  }

  async function bringUp(): Promise<void> {
    started = false;
    if (!config.enclave.socket) await spawnEnclave();
    const c = await EnclaveRpcClient.connect(
      socketPath,
      config.enclave.callTimeoutMs,
      config.enclave.maxQueuedBytes,
    );
    client = c;
    c.onClose(() => onEnclaveLost());
    const status = await c.call('enclave.status', {});
    checkPlatform(status.platform);
    measurement = status.measurement;
    envelopeNotBefore = status.envelope_not_before;
    for (const hook of readyHooks) await hook(c.call.bind(c));
    // The hooks handed over the keyring: its generation is the enclave's now.
    generation = (await c.call('enclave.status', {})).generation ?? 0;
    ready = true;
    heartbeat = null;
    missed = 0;
    timeouts = 0;
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
    for (const hook of startedHooks) await hook();
    started = true;
    backoffMs = MIN_BACKOFF_MS;
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

  /** Kills a hung enclave so that it restarts; records why. */
  function unresponsive(reason: 'heartbeat' | 'call_timeouts', misses: number): void {
    if (!ready || stopping) return;
    logger.error({ reason, misses }, 'enclave unresponsive; restarting');
    ready = false;
    heartbeat = null;
    missed = 0;
    timeouts = 0;
    // SIGKILL also ends a stopped (SIGSTOP) process; its exit closes the connection, and the
    // close starts the restart, as after a crash.
    if (child) child.kill('SIGKILL');
    else client?.close();
    void deps.db
      .transaction((tx) => deps.ops.record(tx, { type: 'enclave.unresponsive', reason, misses }))
      .catch((err: unknown) =>
        logger.error({ code: (err as { code?: string }).code }, 'ops event not recorded'),
      );
  }

  function noteAnswer(c: EnclaveRpcClient): void {
    if (client !== c) return;
    missed = 0;
    timeouts = 0;
    lastAnswerAt = performance.now();
  }

  /**
   * A timeout counts only if the enclave answered nothing since that call was sent: calls sent
   * together time out together, in one turn, so a burst waiting in a live enclave's queue (logins
   * behind Argon2id) must not look like a hung loop.
   */
  function noteTimeout(c: EnclaveRpcClient, sentAt: number): void {
    if (client !== c || lastAnswerAt > sentAt) return;
    if (++timeouts < config.enclave.heartbeatMisses) return;
    unresponsive('call_timeouts', timeouts);
  }

  /** Watches what a call's answer says about the enclave's health. */
  function watched<T>(c: EnclaveRpcClient, p: Promise<T>): Promise<T> {
    const sentAt = performance.now();
    return p.then(
      (v) => {
        noteAnswer(c);
        return v;
      },
      (err: unknown) => {
        if (isEnclaveCallError(err, 'ENCLAVE_TIMEOUT')) noteTimeout(c, sentAt);
        // Any other error is an answer: the enclave's loop is running. Not ENCLAVE_BUSY: that
        // refusal is the client's own, and a hung enclave makes it too.
        else if (
          isEnclaveCallError(err) &&
          err.code !== 'ENCLAVE_UNAVAILABLE' &&
          err.code !== 'ENCLAVE_BUSY'
        )
          noteAnswer(c);
        // The refusing process's earliest accepted issued_at: the client re-seals with it.
        if (isEnclaveCallError(err, 'ENVELOPE_BEFORE_START') && client === c)
          err.notBefore = envelopeNotBefore;
        throw err;
      },
    );
  }

  const watchdog = createPeriodicJob({
    name: 'enclave heartbeat',
    everyMs: config.enclave.heartbeatIntervalMs,
    async run() {
      const c = client;
      if (!ready || !c || !c.isOpen) return; // a (re)start is under way
      if (heartbeat) {
        if (++missed >= config.enclave.heartbeatMisses) unresponsive('heartbeat', missed);
        return;
      }
      const sent = watched(c, c.call('enclave.status', {}))
        .catch(() => undefined)
        .finally(() => {
          if (heartbeat === sent) heartbeat = null;
        });
      heartbeat = sent;
    },
    logger,
  });

  function live(): EnclaveRpcClient {
    if (!ready || !client || !client.isOpen) throw new EnclaveCallError('ENCLAVE_UNAVAILABLE');
    return client;
  }

  return {
    /** Resolves once the enclave is ready for the first time. */
    async start(): Promise<void> {
      await startLoop();
      watchdog.start();
    },
    /** Ready: started, connected, and not missing heartbeats. */
    isReady: () => ready && started && client !== null && client.isOpen && missed === 0,
    retryAfterSeconds: () => Math.max(1, Math.ceil(backoffMs / 1000)),
    generation: () => generation,
    measurement: () => measurement,
    /** The running enclave's earliest accepted envelope issued_at (a liveness hint, unsigned). */
    envelopeNotBefore: () => (ready ? envelopeNotBefore : undefined),
    call<M extends MethodName>(method: M, params: MethodParams<M>): Promise<MethodResult<M>> {
      try {
        const c = live();
        const answer = watched(c, c.call(method, params));
        return deps.metrics ? deps.metrics.enclaveCall(method, answer) : answer;
      } catch (err) {
        return Promise.reject(err);
      }
    },
    async batch(calls: BatchCall[]) {
      const c = live();
      const results = await c.batch(calls);
      for (const r of results) {
        if (r.status === 'fulfilled') noteAnswer(c);
        else void watched(c, Promise.reject(r.reason as Error)).catch(() => undefined);
      }
      return results;
    },
    /**
     * Registers a step of every enclave start, run in registration order: the keyrings first,
     * then e.g. resuming the transparency log.
     */
    onReady(hook: (call: EnclaveRpcClient['call']) => Promise<void>): void {
      readyHooks.push(hook);
    },
    /** Registers a step run at every start once enclave calls go through (`startedHooks`). */
    onStarted(hook: () => Promise<void>): void {
      startedHooks.push(hook);
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
      await watchdog.stop();
      client?.close();
      const proc = child;
      if (proc && proc.exitCode === null && proc.signalCode === null) {
        await new Promise<void>((r) => {
          // A hung or stopped enclave cannot act on SIGTERM: it is killed after a grace period.
          const force = setTimeout(() => proc.kill('SIGKILL'), STOP_GRACE_MS);
          proc.once('exit', () => {
            clearTimeout(force);
            r();
          });
          proc.kill('SIGTERM');
          proc.kill('SIGCONT');
        });
      }
    },
  };
}

export type EnclaveSupervisor = ReturnType<typeof createEnclaveSupervisor>;
