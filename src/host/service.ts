/**
 * Builds the whole host in order: database (+ migrations), ops log, enclave supervisor, services,
 * jobs, HTTP app. main.ts calls it; integration tests and benchmarks call it too, so they run
 * exactly what production runs. Returns the parts and one `stop()` that undoes everything.
 */
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { DestinationStream } from 'pino';
import { buildApp } from './app.js';
import type { Config } from './config.js';
import { openDatabase } from './db/database.js';
import { migrate } from './db/migrate.js';
import { createEnclaveStateRepository } from './db/repositories/enclave-state.js';
import { createSessionRepository } from './db/repositories/sessions.js';
import { createEnclaveSupervisor, egressProxySocketPath } from './enclave-client/supervisor.js';
import { allowListFromUrls, startConnectProxy, type ConnectProxy } from './egress/connect-proxy.js';
import { createKeyRotationJob } from './jobs/key-rotation.js';
import { createTtlSweeper } from './jobs/ttl-sweeper.js';
import { createLogService } from './log/log-service.js';
import { createLogStore } from './log/log-store.js';
import { createWitnessJob, parseWitnesses } from './log/witness-client.js';
import { createLogger } from './logging.js';
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

export async function createService(
  config: Config,
  opts: { logDestination?: DestinationStream } = {},
) {
  const logger = createLogger(config.logLevel, opts.logDestination);
  const db = await openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: join(config.dataDir, 'pglite'),
  });
  // The embedded default migrates at start; a PostgreSQL server is migrated by `npm run migrate`
  // (also applied here, idempotently, so a forgotten step cannot start a half-built schema).
  const applied = await migrate(db);
  if (applied.length > 0) logger.info({ applied }, 'migrations applied');

  const ops = createOpsLog(logger);
  const sessions = createSessionRepository(db);
  const enclave = createEnclaveSupervisor({
    config,
    db,
    state: createEnclaveStateRepository(db),
    ops,
    logger: logger.child({ component: 'supervisor' }),
  });
  const logStore = createLogStore(db);
  const log = createLogService({
    db,
    store: logStore,
    enclave,
    logger: logger.child({ component: 'log' }),
    batchIntervalMs: config.log.batchIntervalMs,
    batchMax: config.log.batchMax,
    onDiverged: () => enclave.restart(),
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
  });
  const rotation = createKeyRotationJob({
    enclave,
    log,
    logger,
    intervalMs: config.keyRotationIntervalMs,
  });
  const credentials = createCredentialService({
    enclave,
    log,
    sessions,
    ops,
    sweepNow: () => sweeper.runOnce(),
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
    config: { waitMs: config.aggregates.waitMs, maxWindowDays: config.aggregates.maxWindowDays },
  });
  const redis = config.rateLimit.redisUrl
    ? new Redis(config.rateLimit.redisUrl, {
        connectTimeout: 1000,
        maxRetriesPerRequest: 1,
        lazyConnect: false,
      })
    : undefined;

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
    config: config.auth,
    logger: logger.child({ component: 'auth' }),
    ops,
  });
  enclave.onReady((call) => auth.initEnclave(call));
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

  // Tunnel mode: the enclave's only way out is this proxy, and only to the exchanges' hosts.
  let egressProxy: ConnectProxy | undefined;
  if (config.exchanges.egressMode === 'tunnel') {
    egressProxy = await startConnectProxy({
      listen: { socketPath: egressProxySocketPath(config.dataDir) },
      allow: allowListFromUrls(Object.values(config.exchanges.baseUrls)),
      logger: logger.child({ component: 'egress' }),
    });
  }
  await enclave.start();
  auth.start();
  sweeper.start();
  rotation.start();
  witnesses.start();
  aggregates.start();
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
  });

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
    authVerifier: verifier,
    logger,
    async stop(): Promise<void> {
      rotation.stop();
      auth.stop();
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
