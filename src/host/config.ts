/**
 * Host configuration: one zod schema over the environment, parsed once at start, frozen, and
 * passed to whatever needs it. Nothing else in the host reads process.env. A bad value stops
 * the start with a message naming the variable (never echoing its value: it may be a URL with
 * a password). Defaults are safe development values: simulated TEE, PGlite, localhost only.
 */
import { z } from 'zod';
import { AUTH_HOST_ENV, authConfigFrom } from './auth/config.js';
import { parseWitnesses } from './log/witness-client.js';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const EnvSchema = z
  .object({
    ENCLAVE_PORT: int(1, 65535).default(3000).describe('HTTP port of the service'),
    HOST: z
      .string()
      .min(1)
      .default('127.0.0.1')
      .describe('Address to bind (0.0.0.0 in a container)'),
    DATA_DIR: z
      .string()
      .min(1)
      .default('./data')
      .describe('Local data: PGlite files, simulated platform, socket'),
    DATABASE_URL: optionalString.describe(
      'PostgreSQL URL; unset = embedded PGlite in DATA_DIR/pglite',
    ),
    CLUSTER_JOIN: optionalString.describe(
      'Base URL of a cluster member: without a local root, ask it for the root (attested join)',
    ),
    MAX_TTL_SECONDS: int(300, 365 * 86400)
      .default(604800)
      .describe('Longest session TTL accepted'),
    RATE_LIMIT_MAX: int(1, 10_000_000)
      .default(100)
      .describe('Requests per window per client address'),
    RATE_LIMIT_WINDOW: int(1000, 86_400_000)
      .default(900_000)
      .describe('Rate-limit window, milliseconds'),
    ALLOWED_ORIGINS: optionalString.describe(
      'Comma-separated CORS origins; unset = no cross-origin access',
    ),
    REDIS_URL: optionalString.describe(
      'Redis URL for shared rate-limit counters; unset = in memory',
    ),
    LOG_LEVEL: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default('info'),
    TRUST_PROXY: z
      .enum(['true', 'false'])
      .default('false')
      .describe('Trust X-Forwarded-For (behind a proxy)'),
    TTL_SWEEP_INTERVAL_SECONDS: int(1, 86400)
      .default(300)
      .describe('How often expired ciphertext is deleted'),
    KEY_ROTATION_INTERVAL_SECONDS: int(0, 365 * 86400)
      .default(86400)
      .describe('Credential-key rotation period; 0 disables scheduled rotation'),
    TEE_PLATFORM: z
      .enum(['simulated', 'sgx-gramine', 'tdx', 'sev-snp', 'nitro'])
      .default('simulated')
      .describe('TEE platform of the enclave (docs/platforms/)'),
    CLOISTER_ENV: z
      .enum(['development', 'production'])
      .default('development')
      .describe('production refuses the simulated platform unless explicitly allowed'),
    ALLOW_SIMULATED_IN_PRODUCTION: z
      .enum(['true', 'false'])
      .default('false')
      .describe('Let CLOISTER_ENV=production run on simulated evidence (demos only)'),
    TEE_DEVICE_ROOT: z
      .string()
      .min(1)
      .default('/')
      .describe('Prefix of the TEE device paths passed to a spawned enclave (tests)'),
    SEALING_KEY_FILE: optionalString.describe(
      'Key file a KMS releases after attestation (tdx, sev-snp, nitro), passed to the enclave',
    ),
    TSM_REPORT_ENTRY: z
      .string()
      .regex(/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/)
      .default('cloister-enclave')
      .describe('configfs-tsm report entry the enclave uses (tdx, sev-snp)'),
    NSM_HELPER_SOCKET: z
      .string()
      .min(1)
      .default('/run/cloister/nsm.sock')
      .describe('Unix socket of the NSM helper inside a Nitro enclave'),
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
    ENCLAVE_HEARTBEAT_INTERVAL_MS: int(50, 600_000)
      .default(5000)
      .describe('How often the supervisor checks that the enclave answers (a heartbeat call)'),
    ENCLAVE_HEARTBEAT_MISSES: int(1, 100)
      .default(3)
      .describe(
        'Heartbeats left unanswered, or enclave calls timed out, in a row before the enclave is killed and restarted',
      ),
    ENVELOPE_MAX_AGE_SECONDS: int(10, 3600)
      .default(300)
      .describe('Oldest envelope issued_at accepted'),
    ENVELOPE_MAX_FUTURE_SECONDS: int(0, 600)
      .default(30)
      .describe('Client clock skew tolerated on envelope issued_at, seconds'),
    REPLAY_CACHE_MAX_ENTRIES: int(1000, 50_000_000)
      .default(2_000_000)
      .describe('Most envelope ephemeral keys the enclave remembers to refuse replays'),
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
    BINANCE_BASE_URL: z
      .url()
      .default('https://api.binance.com')
      .describe('Binance spot API the enclave fetches fills from (testnets, tests)'),
    BYBIT_BASE_URL: z.url().default('https://api.bybit.com').describe('Bybit v5 API base URL'),
    OKX_BASE_URL: z.url().default('https://www.okx.com').describe('OKX v5 API base URL'),
    COINBASE_BASE_URL: z
      .url()
      .default('https://api.coinbase.com')
      .describe('Coinbase Advanced Trade API base URL'),
    EGRESS_MODE: z
      .enum(['direct', 'tunnel'])
      .default('direct')
      .describe(
        'How the enclave reaches exchanges: directly, or TLS through the host CONNECT tunnel',
      ),
    EGRESS_CA_FILE: optionalString.describe(
      'Extra CA certificate (PEM) the enclave trusts for exchange TLS (tests, private testnets)',
    ),
    AGGREGATES_MAX_JOBS: int(1, 64)
      .default(4)
      .describe('Aggregate jobs the enclave runs at once; more answer 503'),
    AGGREGATES_WAIT_MS: int(0, 25_000)
      .default(10_000)
      .describe('How long request_aggregates waits for a result before answering 202 with a job'),
    AGGREGATES_MAX_FILLS: int(1000, 50_000_000)
      .default(3_000_000)
      .describe('Most fills one aggregates job may hold in enclave memory; more fail the job'),
    AGGREGATES_MAX_WINDOW_DAYS: int(1, 3650)
      .default(730)
      .describe('Longest [from, to) window, and the look-back when from is omitted'),
    ...AUTH_HOST_ENV,
  })
  .transform((env) => ({
    auth: authConfigFrom(env),
    port: env.ENCLAVE_PORT,
    host: env.HOST,
    dataDir: env.DATA_DIR,
    databaseUrl: env.DATABASE_URL,
    clusterJoin: env.CLUSTER_JOIN,
    maxTtlSeconds: env.MAX_TTL_SECONDS,
    rateLimit: {
      max: env.RATE_LIMIT_MAX,
      windowMs: env.RATE_LIMIT_WINDOW,
      redisUrl: env.REDIS_URL,
    },
    allowedOrigins:
      env.ALLOWED_ORIGINS?.split(',')
        .map((o) => o.trim())
        .filter(Boolean) ?? [],
    logLevel: env.LOG_LEVEL,
    trustProxy: env.TRUST_PROXY === 'true',
    ttlSweepIntervalMs: env.TTL_SWEEP_INTERVAL_SECONDS * 1000,
    keyRotationIntervalMs: env.KEY_ROTATION_INTERVAL_SECONDS * 1000,
    log: {
      batchIntervalMs: env.LOG_BATCH_INTERVAL_MS,
      batchMax: env.LOG_BATCH_MAX,
      witnesses: env.LOG_WITNESSES,
      witnessIntervalMs: env.LOG_WITNESS_INTERVAL_SECONDS * 1000,
    },
    exchanges: {
      baseUrls: {
        binance: env.BINANCE_BASE_URL,
        bybit: env.BYBIT_BASE_URL,
        okx: env.OKX_BASE_URL,
        coinbase: env.COINBASE_BASE_URL,
      },
      egressMode: env.EGRESS_MODE,
      egressCaFile: env.EGRESS_CA_FILE,
    },
    aggregates: {
      maxJobs: env.AGGREGATES_MAX_JOBS,
      waitMs: env.AGGREGATES_WAIT_MS,
      maxWindowDays: env.AGGREGATES_MAX_WINDOW_DAYS,
      maxFills: env.AGGREGATES_MAX_FILLS,
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
      heartbeatIntervalMs: env.ENCLAVE_HEARTBEAT_INTERVAL_MS,
      heartbeatMisses: env.ENCLAVE_HEARTBEAT_MISSES,
      envelopeMaxAgeSeconds: env.ENVELOPE_MAX_AGE_SECONDS,
      envelopeMaxFutureSeconds: env.ENVELOPE_MAX_FUTURE_SECONDS,
      replayCacheMaxEntries: env.REPLAY_CACHE_MAX_ENTRIES,
    },
  }))
  .superRefine((c, ctx) => {
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
    // Only a spawned enclave gets the key file from the host; one it connects to has its own.
    if (
      ['tdx', 'sev-snp', 'nitro'].includes(c.enclave.platform) &&
      !c.enclave.socket &&
      !c.enclave.sealingKeyFile
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['SEALING_KEY_FILE'],
        message: `required when TEE_PLATFORM is ${c.enclave.platform}`,
      });
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
    if (c.exchanges.egressMode === 'tunnel') {
      for (const [exchange, url] of Object.entries(c.exchanges.baseUrls)) {
        if (!url.startsWith('https://')) {
          ctx.addIssue({
            code: 'custom',
            path: [`${exchange.toUpperCase()}_BASE_URL`],
            message:
              'must be https:// when EGRESS_MODE is tunnel (the host must not see the traffic)',
          });
        }
      }
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

export type Config = Readonly<z.output<typeof EnvSchema>>;

/** Every variable the host reads, with its description: the README's table is checked against it. */
export const CONFIG_VARIABLES = Object.keys((EnvSchema.in as z.ZodObject).shape);

export class ConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(`invalid configuration:\n${issues.map((i) => `  ${i}`).join('\n')}`);
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
