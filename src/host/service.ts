/**
 * Builds the whole host in order: data folder, database (+ migrations or a schema check), ops
 * log, enclave supervisor, services, jobs, HTTP app. main.ts calls it; integration tests and
 * benchmarks call it too, so they run exactly what production runs. Returns the parts and one
 * `stop()` that undoes everything; a failed start undoes what it had built before it throws.
 */
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { DestinationStream } from 'pino';
import { buildApp } from './app.js';
import type { Config } from './config.js';
import { secureDataDir, tightenTree } from './db/data-dir.js';
import { openDatabaseFor } from './db/database.js';
import { checkSchema, migrate } from './db/migrate.js';
import { createEnclaveStateRepository } from './db/repositories/enclave-state.js';
import { createSessionRepository } from './db/repositories/sessions.js';
import { createCredentialKeyring } from './enclave-client/credential-keyring.js';
import { createClusterService } from './cluster/cluster-service.js';
import { createClusterRepository } from './db/repositories/cluster.js';
import { createEnclaveSupervisor, egressProxySocketPath } from './enclave-client/supervisor.js';
import {
  allowListFromSmtpUrl,
  allowListFromUrls,
  startConnectProxy,
  type ConnectProxy,
} from './egress/connect-proxy.js';
import { createKeyRotationJob } from './jobs/key-rotation.js';
import { createJobLease } from './jobs/lease.js';

import { createTtlSweeper } from './jobs/ttl-sweeper.js';
import { createLogService } from './log/log-service.js';
import { createLogStore } from './log/log-store.js';
import { createWitnessJob, parseWitnesses } from './log/witness-client.js';
import { createLogger } from './logging.js';
import { createMetrics } from './metrics.js';
import { createOpsLog } from './ops-events.js';
import { createAggregateRepository } from './db/repositories/aggregates.js';
import { createAuthRepository } from './db/repositories/auth.js';
import { createAuthService } from './auth/auth-service.js';
import { createAuthGuard } from './auth/guard.js';
import { createLoginThrottle } from './auth/login-throttle.js';
import { createTokenVerifier } from './auth/verifier.js';
import { createAggregatesService } from './services/aggregates-service.js';
import { createAttestationService } from './services/attestation-service.js';
import { createCredentialService } from './services/credential-service.js';
import { createWalletRepository } from './db/repositories/wallets.js';
import { createWalletService } from './services/wallet-service.js';
/** How long a scheduled rotation's lease lasts: far longer than a rotation takes. */
const JOB_LEASE_MS = 10 * 60_000;

export async function createService(
  config: Config,
  opts: {
    logDestination?: DestinationStream;
    /** Tests only (never set by main.ts): the enclave answers its test methods. */
    enclaveTestHooks?: boolean;
    /** Where the built web app is (default dist/web); null: none (routes/web.ts). */
    webRoot?: string | null;
  } = {},
) {
  const logger = createLogger(config.logLevel, opts.logDestination, config.logFormat);
  // The simulated platform's secret and the sockets live here too, whatever the database.
  secureDataDir(config.dataDir);
  const db = await openDatabaseFor(config);
  // What a failed start has to undo, newest first (the parts built so far).
  const undo: (() => unknown)[] = [() => db.close()];
  try {
    return await buildService(
      config,
      logger,
      db,
      undo,
      opts.enclaveTestHooks === true,
      opts.webRoot,
    );
  } catch (err) {
    for (const step of undo.reverse()) {
      try {
        await step();
      } catch {
        // Best effort: the start's own error is the one to report.
      }
    }
    throw err;
  }
}

async function buildService(
  config: Config,
  logger: ReturnType<typeof createLogger>,
  db: Awaited<ReturnType<typeof openDatabaseFor>>,
  undo: (() => unknown)[],
  enclaveTestHooks: boolean,
  webRoot: string | null | undefined,
) {
  if (config.migrateOnStart) {
    const applied = await migrate(db);
    if (applied.length > 0) logger.info({ applied }, 'migrations applied');
  } else {
    // A PostgreSQL server is migrated by its owner (`npm run migrate`); the service's login
    // only checks that it runs on the schema it was built for.
    await checkSchema(db);
  }

  const ops = createOpsLog(logger);
  const metrics = config.metrics.enabled ? createMetrics() : undefined;
  const sessions = createSessionRepository(db);
  const enclave = createEnclaveSupervisor({
    config,
    db,
    ops,
    logger: logger.child({ component: 'supervisor' }),
    testHooks: enclaveTestHooks,
    ...(metrics ? { metrics } : {}),
  });
  const cluster = createClusterService({
    db,
    repo: createClusterRepository(db),
    ops,
    logger: logger.child({ component: 'cluster' }),
    dataDir: config.dataDir,
    sealingPolicy: config.enclave.sealingPolicy,
    joinUrl: config.clusterJoin,
    advertiseUrl: config.clusterAdvertiseUrl,
  });
  // First: a cluster member gets its root (or waits for its quorum) before any keyring loads.
  enclave.onReady((call) => cluster.initEnclave(call));
  const keyring = createCredentialKeyring({
    db,
    state: createEnclaveStateRepository(db),
    ops,
    sealingPolicy: config.enclave.sealingPolicy,
  });
  enclave.onReady((call) => keyring.init(call));
  const logStore = createLogStore(db);
  const log = createLogService({
    db,
    store: logStore,
    enclave,
    logger: logger.child({ component: 'log' }),
    batchIntervalMs: config.log.batchIntervalMs,
    batchMax: config.log.batchMax,
    onDiverged: () => enclave.restart(),
    ...(metrics ? { metrics } : {}),
  });
  await log.load();
  enclave.onReady((call) => log.initEnclave(call));
  const witnesses = createWitnessJob({
    witnesses: parseWitnesses(config.log.witnesses),
    log,
    store: logStore,
    logger: logger.child({ component: 'witness' }),
    intervalMs: config.log.witnessIntervalMs,
  });
  const sweeper = createTtlSweeper({
    log,
    sessions,
    ops,
    logger,
    intervalMs: config.ttlSweepIntervalMs,
    retention: { db, days: config.retention },
    ...(metrics ? { metrics } : {}),
  });
  // Several instances on one database: scheduled rotations run on one of them.
  const lease = createJobLease({ db, leaseMs: JOB_LEASE_MS });
  const rotation = createKeyRotationJob({
    keyring,
    enclave,
    log,
    logger,
    intervalMs: config.keyRotationIntervalMs,
    lease,
  });
  const attestation = createAttestationService({ enclave });
  const aggregates = createAggregatesService({
    enclave,
    db,
    sessions,
    aggregates: createAggregateRepository(db),
    log,
    logStore,
    ops,
    logger: logger.child({ component: 'aggregates' }),
    config: {
      waitMs: config.aggregates.waitMs,
      maxWindowDays: config.aggregates.maxWindowDays,
      maxJobs: config.aggregates.maxJobs,
      maxJobsPerUser: config.aggregates.maxJobsPerUser,
      maxJobsPerSession: config.aggregates.maxJobsPerSession,
      queueMax: config.aggregates.queueMax,
    },
  });
  const credentials = createCredentialService({
    enclave,
    log,
    sessions,
    ops,
    jobs: aggregates.revocation,
    sweepNow: () => sweeper.runOnce(),
    reloadKeyring: () => keyring.reload(enclave.call),
  });
  const redis = config.rateLimit.redisUrl
    ? new Redis(config.rateLimit.redisUrl, {
        connectTimeout: 1000,
        maxRetriesPerRequest: 1,
        lazyConnect: false,
      })
    : undefined;
  if (redis) undo.push(() => redis.disconnect());

  const authRepo = createAuthRepository(db);
  const verifier = createTokenVerifier({
    issuer: config.auth.issuer,
    audience: config.auth.audience,
    isSessionActive: (sid) => authRepo.isSessionActive(sid),
  });
  const auth = createAuthService({
    mailDir: join(config.dataDir, 'mail'),
    enclave,
    repo: authRepo,
    log,
    verifier,
    throttle: createLoginThrottle(config.auth.loginFailuresBeforeBackoff, redis),
    ops,
    config: config.auth,
    logger: logger.child({ component: 'auth' }),
    lease,
  });
  enclave.onReady((call) => auth.initEnclave(call));
  const wallets = createWalletService({ enclave, repo: createWalletRepository(db), log });
  enclave.onReady((call) => wallets.initEnclave(call));
  // Not a ready hook: the log appends through enclave calls, which go through only once ready.
  enclave.onStarted(() => cluster.flushLog(log));
  enclave.onReady((call) => cluster.advertise(call));
  const guard = createAuthGuard({
    verifier,
    disabledForDevelopment: config.auth.disabledForDevelopment,
    cookies: config.auth.cookies,
  });
  if (config.auth.disabledForDevelopment) {
    logger.warn(
      { event: 'auth.disabled_for_development' },
      'AUTH_DISABLED_FOR_DEVELOPMENT=true: enclave routes accept requests WITHOUT an access token. Never use this in production.',
    );
  }

  // Tunnel mode: the enclave's only way out is this proxy, and only to the exchanges' hosts
  // and the mail relay (SMTP_URL).
  let egressProxy: ConnectProxy | undefined;
  if (config.exchanges.egressMode === 'tunnel') {
    egressProxy = await startConnectProxy({
      listen: { socketPath: egressProxySocketPath(config.dataDir) },
      allow: [
        ...allowListFromUrls(Object.values(config.exchanges.baseUrls)),
        ...allowListFromSmtpUrl(config.enclaveEnv.SMTP_URL),
      ],
      logger: logger.child({ component: 'egress' }),
    });
    undo.push(() => egressProxy?.close());
  }
  // Pushed before start(): a start that fails half-way may already have spawned the child.
  undo.push(() => enclave.stop());
  // An instance awaiting its cluster quorum serves (health, quote, shares) before it is ready.
  await Promise.race([enclave.start(), cluster.whenLocked()]);
  auth.start();
  undo.push(() => auth.stop());
  sweeper.start();
  undo.push(() => sweeper.stop());
  rotation.start();
  undo.push(() => rotation.stop());
  witnesses.start();
  undo.push(() => witnesses.stop());
  aggregates.start();
  undo.push(() => aggregates.stop());
  const app = await buildApp({
    config,
    logger,
    enclave,
    db,
    credentials,
    attestation,
    aggregates,
    log,
    logStore,
    redis,
    auth: { service: auth, guard, config: config.auth },
    ops,
    wallets: { service: wallets, signMaxPerMinute: config.wallet.signMaxPerMinute },
    cluster,
    ...(webRoot !== undefined ? { webRoot } : {}),
    ...(metrics
      ? { metrics: { registry: metrics, onMainPort: config.metrics.port === undefined } }
      : {}),
  });
  undo.push(() => app.close());
  const aggregateRepo = createAggregateRepository(db);
  metrics?.setSources({
    enclaveReady: () => enclave.isReady(),
    enclaveGeneration: () => enclave.generation(),
    enclaveIdentity: () =>
      enclave.measurement()
        ? { platform: config.enclave.platform, measurement: enclave.measurement() }
        : null,
    argon2: () => enclave.call('auth.stats', {}),
    jobs: () => aggregateRepo.queueDepth(),
  });
  // The enclave child wrote its platform files and socket: private like the rest.
  tightenTree(config.dataDir);

  return {
    app,
    db,
    enclave,
    sweeper,
    rotation,
    log,
    witnesses,
    aggregates,
    egressProxy,
    auth,
    wallets,
    authVerifier: verifier,
    cluster,
    logger,
    /** Prometheus metrics (undefined with METRICS_ENABLED=false). */
    metrics,
    async stop(): Promise<void> {
      await rotation.stop();
      await auth.stop();
      await witnesses.stop();
      await sweeper.stop();
      await app.close();
      await aggregates.stop();
      await log.drain();
      await enclave.stop();
      await egressProxy?.close();
      redis?.disconnect();
      await db.close();
    },
  };
}
export type Service = Awaited<ReturnType<typeof createService>>;
