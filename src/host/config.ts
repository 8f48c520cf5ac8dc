/**
 * Host configuration: one zod schema over the environment, parsed once at start, frozen, and
 * passed to whatever needs it. Nothing else in the host reads process.env. A bad value stops
 * the start with a message naming the variable (never echoing its value: it may be a URL with
 * a password). Defaults are safe development values: simulated TEE, PGlite, localhost only.
 */
import { join, resolve } from 'node:path';
import { z } from 'zod';
import {
  ENCLAVE_SHARED_ENV,
  ENCLAVE_SHARED_VARIABLES,
  enclaveEnvIssues,
  envInt as int,
  maxTtlSeconds,
  serializeSharedEnv,
  type EnclaveSharedEnv,
} from '../protocol/enclave-env.js';
import { baseUrlsFrom } from '../protocol/exchange-table.js';
import { AUTH_HOST_ENV, authConfigFrom } from './auth/config.js';
import { parseTrustProxy } from './http/trust-proxy.js';
import { parseWitnesses } from './log/witness-client.js';
import { EX_CONFIG, StartupError } from './startup-error.js';

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

/**
 * The base URL a local client reaches the service at: the bound address, or loopback when it
 * binds every interface (behind a proxy or in a container, set AUTH_ISSUER to the public URL).
 */
export function issuerFor(host: string, port: number): string {
  const name = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return `http://${name.includes(':') ? `[${name}]` : name}:${port}`;
}

const EnvObject = z.object({
  PORT: int(1, 65535).optional().describe('HTTP port of the service (default 3000)'),
  ENCLAVE_PORT: int(1, 65535)
    .optional()
    .describe("The seed's name for PORT, still read; PORT wins when both are set"),
  HOST: z.string().min(1).default('127.0.0.1').describe('Address to bind (0.0.0.0 in a container)'),
  DATA_DIR: z
    .string()
    .min(1)
    .default('./data')
    .describe('Local data: PGlite files, simulated platform, socket'),
  DATABASE_URL: optionalString.describe(
    'PostgreSQL URL; unset = embedded PGlite in DATA_DIR/pglite',
  ),
  DATABASE_POOL_WAIT_MS: int(100, 600_000)
    .default(10_000)
    .describe(
      'PostgreSQL: how long a query waits for one of the pool connections before its request is answered 503 DATABASE_UNAVAILABLE',
    ),
  CLUSTER_JOIN: optionalString.describe(
    'Base URL of a cluster member: without a local root, ask it for the root (attested join)',
  ),
  CLUSTER_ADVERTISE_URL: optionalString
    .refine((v) => v === undefined || /^https?:\/\/[^\s]+$/.test(v), 'must be an http(s) URL')
    .describe(
      'Base URL other instances reach this one at: recorded in the shared database once ready, so an instance without CLUSTER_JOIN can join through it',
    ),
  MAX_TTL_SECONDS: maxTtlSeconds.describe('Longest session TTL accepted'),
  RATE_LIMIT_MAX: int(1, 10_000_000)
    .default(100)
    .describe('Requests per window per client address'),
  RATE_LIMIT_WINDOW: int(1000, 86_400_000)
    .default(900_000)
    .describe('Rate-limit window, milliseconds'),
  HTTP_MAX_CONNECTIONS: int(1, 1_000_000)
    .default(10_000)
    .describe(
      'Open client connections at most; more are closed at once, so idle or slow ones cannot take every file descriptor',
    ),
  ALLOWED_ORIGINS: optionalString.describe(
    'Comma-separated CORS origins; unset = no cross-origin access',
  ),
  REDIS_URL: optionalString.describe('Redis URL for shared rate-limit counters; unset = in memory'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_FORMAT: z
    .enum(['auto', 'json', 'pretty'])
    .default('auto')
    .describe('json, pretty (pino-pretty), or auto: pretty when stdout is a terminal'),
  METRICS_ENABLED: z
    .enum(['true', 'false'])
    .default('true')
    .describe('Prometheus metrics at /metrics (behind the operator role, or on METRICS_PORT)'),
  METRICS_PORT: int(1, 65535)
    .optional()
    .describe(
      'Serve /metrics on this port of its own, without a token; unset = main port, operator role',
    ),
  METRICS_HOST: z
    .string()
    .min(1)
    .default('127.0.0.1')
    .describe('Address the METRICS_PORT listener binds'),
  TRUST_PROXY: z
    .string()
    .max(2000)
    .default('false')
    .transform(parseTrustProxy)
    .describe(
      'Proxies whose X-Forwarded-For is believed: false, a hop count (1) or proxy addresses/CIDRs',
    ),
  TTL_SWEEP_INTERVAL_SECONDS: int(1, 86400)
    .default(300)
    .describe('How often expired ciphertext is deleted (and the retention purge runs)'),
  MIGRATE_ON_START: z
    .enum(['true', 'false'])
    .optional()
    .describe('Apply pending migrations at start; default true on PGlite, false on PostgreSQL'),
  AUTH_SESSION_RETENTION_DAYS: int(0, 3650)
    .default(30)
    .describe(
      'Days ended login sessions, expired refresh tokens and unconfirmed registrations are kept; 0 keeps them',
    ),
  OPS_LOG_RETENTION_DAYS: int(0, 3650)
    .default(90)
    .describe('Days ops_logs rows are kept; 0 keeps them'),
  JOB_RETENTION_DAYS: int(0, 3650)
    .default(30)
    .describe('Days finished aggregate job rows are kept; 0 keeps them'),
  KEY_ROTATION_INTERVAL_SECONDS: int(0, 365 * 86400)
    .default(86400)
    .describe('Credential-key rotation period; 0 disables scheduled rotation'),
  CLOISTER_ENV: z
    .enum(['development', 'production'])
    .default('development')
    .describe('production refuses the simulated platform unless explicitly allowed'),
  ALLOW_SIMULATED_IN_PRODUCTION: z
    .enum(['true', 'false'])
    .default('false')
    .describe('Let CLOISTER_ENV=production run on simulated evidence (demos only)'),
  SEALING_POLICY: z
    .enum(['signer', 'measurement'])
    .default('signer')
    .describe('What sealed state is bound to'),
  ENCLAVE_SOCKET: optionalString.describe(
    'Connect to an enclave already listening here instead of spawning one',
  ),
  ENCLAVE_BUNDLE: z
    .string()
    .min(1)
    .default('dist/enclave/enclave.mjs')
    .describe('Enclave bundle to spawn'),
  ENCLAVE_CALL_TIMEOUT_MS: int(100, 120_000)
    .default(10_000)
    .describe('Timeout of one enclave call'),
  ENCLAVE_MAX_QUEUED_BYTES: int(1024 * 1024, 1024 * 1024 * 1024)
    .default(64 * 1024 * 1024)
    .describe(
      'Bytes of calls the enclave has not read yet past which new calls are refused (503 ENCLAVE_BUSY)',
    ),
  ENCLAVE_HEARTBEAT_INTERVAL_MS: int(50, 600_000)
    .default(5000)
    .describe('How often the supervisor checks that the enclave answers (a heartbeat call)'),
  ENCLAVE_HEARTBEAT_MISSES: int(1, 100)
    .default(3)
    .describe(
      'Heartbeats left unanswered, or enclave calls timed out, in a row before the enclave is killed and restarted',
    ),
  LOG_BATCH_INTERVAL_MS: int(0, 1000)
    .default(5)
    .describe('Longest wait before queued log entries are appended and a checkpoint signed'),
  LOG_BATCH_MAX: int(1, 4096).default(512).describe('Most operations in one log batch'),
  LOG_WITNESSES: optionalString.describe(
    'Witnesses to ask for cosignatures: comma-separated "<cosignature vkey> <submission URL>"',
  ),
  LOG_WITNESS_INTERVAL_SECONDS: int(1, 86400)
    .default(10)
    .describe('How often the latest checkpoint is sent to the witnesses'),
  AGGREGATES_WAIT_MS: int(0, 25_000)
    .default(10_000)
    .describe('How long request_aggregates waits for a result before answering 202 with a job'),
  AGGREGATES_MAX_JOBS_PER_USER: int(1, 64)
    .default(1)
    .describe('Aggregate jobs (queued or running) one user may hold; more answer 429'),
  AGGREGATES_MAX_JOBS_PER_SESSION: int(1, 64)
    .default(1)
    .describe('Aggregate jobs (queued or running) one session may hold; more answer 429'),
  AGGREGATES_QUEUE_MAX: int(0, 10_000)
    .default(64)
    .describe('Aggregate jobs that may wait for an enclave slot; more answer 503'),
  WALLET_SIGN_MAX_PER_MINUTE: int(1, 100_000)
    .default(60)
    .describe('Signatures one user may request per minute (POST /wallets/:id/sign)'),
  ...AUTH_HOST_ENV,
  // The variables the enclave reads too (the host passes them on when it spawns it).
  ...ENCLAVE_SHARED_ENV,
  // Unset, the issuer follows the listening address (issuerFor), so the OpenID document's
  // jwks_uri is right on any PORT; the enclave's own default is only for a bare enclave.
  AUTH_ISSUER: optionalString.pipe(z.string().max(256).optional()),
});

/** Platforms whose enclave runs as its own user and refuses to be the host's child. */
const hostCannotSpawn = (platform: string) => platform === 'tdx' || platform === 'sev-snp';

const EnvSchema = EnvObject.transform((raw) => configFrom(raw)).superRefine((c, ctx) => {
  // Simulated evidence proves nothing; a production service must not offer it by accident.
  if (
    c.enclave.production &&
    c.enclave.platform === 'simulated' &&
    !c.enclave.allowSimulatedInProduction
  ) {
    ctx.addIssue({
      code: 'custom',
      path: ['TEE_PLATFORM'],
      message:
        'simulated evidence refused with CLOISTER_ENV=production; choose a hardware platform or set ALLOW_SIMULATED_IN_PRODUCTION=true',
    });
  }
  // A production service must not serve enclave routes without an access token.
  if (c.enclave.production && c.auth.disabledForDevelopment) {
    ctx.addIssue({
      code: 'custom',
      path: ['AUTH_DISABLED_FOR_DEVELOPMENT'],
      message: 'refused with CLOISTER_ENV=production',
    });
  }
  // TDX and SEV-SNP give the enclave no isolation from this process but the kernel's: there the
  // enclave runs as its own user and refuses to be our child (enclave/platform/isolation.ts).
  if (hostCannotSpawn(c.enclave.platform) && !c.enclave.socket) {
    ctx.addIssue({
      code: 'custom',
      path: ['ENCLAVE_SOCKET'],
      message: `required with TEE_PLATFORM=${c.enclave.platform}: the enclave runs as its own user and the host connects to its socket (docs/platforms/tdx.md, "Deployment")`,
    });
  }
  // The contract's cross-field rules, as the enclave applies them. Only a spawned enclave
  // gets the key file from the host; one it connects to has its own.
  const sealingKeyRequired = !c.enclave.socket && !hostCannotSpawn(c.enclave.platform);
  for (const issue of enclaveEnvIssues(c.enclaveEnv, { sealingKeyRequired })) {
    ctx.addIssue({ code: 'custom', path: [issue.variable], message: issue.message });
  }
  for (const origin of c.allowedOrigins) {
    if (!/^https?:\/\/[A-Za-z0-9.-]+(:\d+)?$/.test(origin)) {
      ctx.addIssue({
        code: 'custom',
        path: ['ALLOWED_ORIGINS'],
        message: 'each origin must be scheme://host[:port]',
      });
    }
  }
  try {
    parseWitnesses(c.log.witnesses);
  } catch {
    ctx.addIssue({
      code: 'custom',
      path: ['LOG_WITNESSES'],
      message: 'each witness is "<vkey> <url>"',
    });
  }
  for (const [name, url] of [
    ['DATABASE_URL', c.databaseUrl],
    ['REDIS_URL', c.rateLimit.redisUrl],
  ] as const) {
    if (url !== undefined && !URL.canParse(url)) {
      ctx.addIssue({ code: 'custom', path: [name], message: 'must be a URL' });
    }
  }
});

function configFrom(raw: z.output<typeof EnvObject>) {
  const port = raw.PORT ?? raw.ENCLAVE_PORT ?? 3000;
  const env = { ...raw, AUTH_ISSUER: raw.AUTH_ISSUER ?? issuerFor(raw.HOST, port) };
  return {
    /** The contract's variables as parsed: what the spawned enclave gets (serializeEnclaveEnv). */
    enclaveEnv: Object.fromEntries(
      ENCLAVE_SHARED_VARIABLES.map((name) => [name, env[name]]),
    ) as EnclaveSharedEnv,
    auth: authConfigFrom(env),
    port,
    host: env.HOST,
    dataDir: env.DATA_DIR,
    databaseUrl: env.DATABASE_URL,
    databasePoolWaitMs: env.DATABASE_POOL_WAIT_MS,
    clusterJoin: env.CLUSTER_JOIN,
    clusterAdvertiseUrl: env.CLUSTER_ADVERTISE_URL,
    maxTtlSeconds: env.MAX_TTL_SECONDS,
    rateLimit: {
      max: env.RATE_LIMIT_MAX,
      windowMs: env.RATE_LIMIT_WINDOW,
      redisUrl: env.REDIS_URL,
    },
    http: { maxConnections: env.HTTP_MAX_CONNECTIONS },
    allowedOrigins:
      env.ALLOWED_ORIGINS?.split(',')
        .map((o) => o.trim())
        .filter(Boolean) ?? [],
    logLevel: env.LOG_LEVEL,
    logFormat: env.LOG_FORMAT,
    metrics: {
      enabled: env.METRICS_ENABLED === 'true',
      port: env.METRICS_PORT,
      host: env.METRICS_HOST,
    },
    trustProxy: env.TRUST_PROXY,
    ttlSweepIntervalMs: env.TTL_SWEEP_INTERVAL_SECONDS * 1000,
    // PGlite is private to this process, so migrating at start is safe; a PostgreSQL server is
    // migrated by its owner (`npm run migrate`): the service's login may lack CREATE.
    migrateOnStart:
      env.MIGRATE_ON_START === undefined
        ? env.DATABASE_URL === undefined
        : env.MIGRATE_ON_START === 'true',
    retention: {
      authSessionDays: env.AUTH_SESSION_RETENTION_DAYS,
      opsLogDays: env.OPS_LOG_RETENTION_DAYS,
      jobDays: env.JOB_RETENTION_DAYS,
    },
    keyRotationIntervalMs: env.KEY_ROTATION_INTERVAL_SECONDS * 1000,
    log: {
      batchIntervalMs: env.LOG_BATCH_INTERVAL_MS,
      batchMax: env.LOG_BATCH_MAX,
      witnesses: env.LOG_WITNESSES,
      witnessIntervalMs: env.LOG_WITNESS_INTERVAL_SECONDS * 1000,
    },
    exchanges: {
      baseUrls: baseUrlsFrom(env),
      egressMode: env.EGRESS_MODE,
      egressCaFile: env.EGRESS_CA_FILE,
    },
    wallet: {
      recoveryDelaySeconds: env.WALLET_RECOVERY_DELAY_SECONDS,
      signMaxPerMinute: env.WALLET_SIGN_MAX_PER_MINUTE,
    },
    aggregates: {
      maxJobs: env.AGGREGATES_MAX_JOBS,
      waitMs: env.AGGREGATES_WAIT_MS,
      maxWindowDays: env.AGGREGATES_MAX_WINDOW_DAYS,
      maxFills: env.AGGREGATES_MAX_FILLS,
      maxJobsPerUser: env.AGGREGATES_MAX_JOBS_PER_USER,
      maxJobsPerSession: env.AGGREGATES_MAX_JOBS_PER_SESSION,
      queueMax: env.AGGREGATES_QUEUE_MAX,
    },
    enclave: {
      platform: env.TEE_PLATFORM,
      production: env.CLOISTER_ENV === 'production',
      allowSimulatedInProduction: env.ALLOW_SIMULATED_IN_PRODUCTION === 'true',
      deviceRoot: env.TEE_DEVICE_ROOT,
      sealingKeyFile: env.SEALING_KEY_FILE,
      tsmReportEntry: env.TSM_REPORT_ENTRY,
      nsmHelperSocket: env.NSM_HELPER_SOCKET,
      sealingPolicy: env.SEALING_POLICY,
      socket: env.ENCLAVE_SOCKET,
      bundle: env.ENCLAVE_BUNDLE,
      callTimeoutMs: env.ENCLAVE_CALL_TIMEOUT_MS,
      maxQueuedBytes: env.ENCLAVE_MAX_QUEUED_BYTES,
      heartbeatIntervalMs: env.ENCLAVE_HEARTBEAT_INTERVAL_MS,
      heartbeatMisses: env.ENCLAVE_HEARTBEAT_MISSES,
      envelopeMaxAgeSeconds: env.ENVELOPE_MAX_AGE_SECONDS,
      envelopeMaxFutureSeconds: env.ENVELOPE_MAX_FUTURE_SECONDS,
      replayCacheMaxEntries: env.REPLAY_CACHE_MAX_ENTRIES,
    },
  };
}

export type Config = Readonly<z.output<typeof EnvSchema>>;

/** Every variable the host reads: the tables of docs/reference/configuration.md are checked against it. */
export const CONFIG_SHAPE: Record<string, z.ZodType> = (EnvSchema.in as z.ZodObject).shape;
export const CONFIG_VARIABLES = Object.keys(CONFIG_SHAPE);

/** One line naming every bad variable (StartupError: main.ts prints it and exits 78). */
export class ConfigError extends StartupError {
  constructor(readonly issues: string[]) {
    super(`invalid configuration: ${issues.join('; ')}`, EX_CONFIG);
    this.name = 'ConfigError';
  }
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

export function loadConfig(env: Record<string, string | undefined>): Config {
  const res = EnvSchema.safeParse(env);
  if (!res.success) {
    // zod's message names the rule, not the value; path[0] is the variable.
    throw new ConfigError(res.error.issues.map((i) => `${String(i.path[0] ?? '?')}: ${i.message}`));
  }
  return deepFreeze(res.data);
}

/**
 * The enclave's whole environment when the host spawns it: the contract's variables as this
 * host parsed them (paths made absolute), plus the spawn-only ones (ENCLAVE_SPAWN_ENV).
 */
export function serializeEnclaveEnv(
  config: Pick<Config, 'enclaveEnv' | 'dataDir' | 'maxTtlSeconds'>,
  paths: { socketPath: string; egressProxySocket: string },
): Record<string, string> {
  const shared = config.enclaveEnv;
  const absolute = (p: string | undefined) => (p === undefined ? undefined : resolve(p));
  return {
    ...serializeSharedEnv({
      ...shared,
      SEALING_KEY_FILE: absolute(shared.SEALING_KEY_FILE),
      EGRESS_CA_FILE: absolute(shared.EGRESS_CA_FILE),
    }),
    ENCLAVE_SOCKET_PATH: paths.socketPath,
    SIMULATED_PLATFORM_DIR: resolve(join(config.dataDir, 'simulated-platform')),
    ENCLAVE_MAX_TTL_SECONDS: String(config.maxTtlSeconds),
    ...(shared.EGRESS_MODE === 'tunnel' ? { EGRESS_PROXY_SOCKET: paths.egressProxySocket } : {}),
  };
}
