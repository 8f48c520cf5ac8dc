/**
 * The enclave's own few settings, parsed once from its environment and frozen. The host passes
 * only these when it spawns the enclave; host-only settings (DATABASE_URL and the like) never
 * reach this process. On a real TEE these values would be part of the measured launch config.
 */
import { z } from 'zod';
import { AUTH_ENCLAVE_ENV } from './auth/config.js';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** TEE_PLATFORM values; each names a constructor in platform/registry.ts. */
export const TEE_PLATFORMS = ['simulated', 'sgx-gramine', 'tdx', 'sev-snp', 'nitro'] as const;
/** Platforms without a hardware sealing key: they seal under a key released on attestation. */
const NEEDS_RELEASED_KEY: readonly string[] = ['tdx', 'sev-snp', 'nitro'];

const EnclaveEnvSchema = z.object({
  ENCLAVE_SOCKET_PATH: z
    .string()
    .min(1)
    .default('./data/enclave-external.sock')
    .describe('Unix socket the enclave listens on'),
  TEE_PLATFORM: z
    .enum(TEE_PLATFORMS)
    .default('simulated')
    .describe('TEE platform implementation (src/enclave/platform/registry.ts)'),
  TEE_DEVICE_ROOT: z
    .string()
    .min(1)
    .default('/')
    .describe('Prefix of /dev/attestation and /sys/kernel/config/tsm (tests: a fake tree)'),
  SEALING_KEY_FILE: z
    .string()
    .min(1)
    .optional()
    .describe('Key released by a KMS after attestation (tdx, sev-snp, nitro): 32 bytes or hex'),
  TSM_REPORT_ENTRY: z
    .string()
    .regex(/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/)
    .default('cloister-enclave')
    .describe('configfs-tsm report entry name (tdx, sev-snp)'),
  NSM_HELPER_SOCKET: z
    .string()
    .min(1)
    .default('/run/cloister/nsm.sock')
    .describe('Unix socket of the NSM ioctl helper (nitro)'),
  SIMULATED_PLATFORM_DIR: z
    .string()
    .min(1)
    .default('./data/simulated-platform')
    .describe('Folder holding the simulated vendor key and platform secret'),
  ENCLAVE_MAX_TTL_SECONDS: int(300, 365 * 86400)
    .default(604800)
    .describe('Longest session TTL the enclave binds'),
  ENVELOPE_MAX_AGE_SECONDS: int(10, 3600)
    .default(300)
    .describe('Oldest issued_at accepted, seconds'),
  ENVELOPE_MAX_FUTURE_SECONDS: int(0, 600)
    .default(30)
    .describe('Client clock skew tolerated, seconds'),
  REPLAY_CACHE_MAX_ENTRIES: int(1000, 50_000_000).default(2_000_000).describe('Replay cache bound'),
  ...AUTH_ENCLAVE_ENV,
  BINANCE_BASE_URL: z.url().default('https://api.binance.com').describe('Binance spot API'),
  BYBIT_BASE_URL: z.url().default('https://api.bybit.com').describe('Bybit v5 API'),
  OKX_BASE_URL: z.url().default('https://www.okx.com').describe('OKX v5 API'),
  COINBASE_BASE_URL: z
    .url()
    .default('https://api.coinbase.com')
    .describe('Coinbase Advanced Trade API'),
  EGRESS_MODE: z
    .enum(['direct', 'tunnel'])
    .default('direct')
    .describe('Direct sockets, or TLS through the host CONNECT tunnel'),
  EGRESS_PROXY_SOCKET: z
    .string()
    .min(1)
    .optional()
    .describe('Unix socket of the host CONNECT proxy (tunnel mode)'),
  EGRESS_CA_FILE: z.string().min(1).optional().describe('Extra CA (PEM) trusted for exchange TLS'),
  AGGREGATES_MAX_JOBS: int(1, 64).default(4).describe('Aggregate jobs run at once'),
  AGGREGATES_MAX_WINDOW_DAYS: int(1, 3650).default(730).describe('Longest aggregates window, days'),
  AGGREGATES_MAX_FILLS: int(1000, 50_000_000)
    .default(3_000_000)
    .describe('Most fills one job may hold'),
  ENCLAVE_PARENT_PID: int(1, 2 ** 22)
    .optional()
    .describe('Pid of the host that spawned this enclave; the enclave exits when it dies'),
  ENCLAVE_TEST_HOOKS: z
    .enum(['0', '1'])
    .default('0')
    .describe('1 = answer the test-only methods (simulated platform only)'),
});

export type EnclaveConfig = Readonly<z.infer<typeof EnclaveEnvSchema>>;

const EXCHANGE_URL_VARS = [
  'BINANCE_BASE_URL',
  'BYBIT_BASE_URL',
  'OKX_BASE_URL',
  'COINBASE_BASE_URL',
] as const;

export function parseEnclaveConfig(env: NodeJS.ProcessEnv): EnclaveConfig {
  const res = EnclaveEnvSchema.safeParse(env);
  if (!res.success) {
    const lines = res.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid enclave configuration:\n${lines.join('\n')}`);
  }
  if (res.data.EGRESS_MODE === 'tunnel' && !res.data.EGRESS_PROXY_SOCKET) {
    throw new Error(
      'invalid enclave configuration:\n  EGRESS_PROXY_SOCKET: required when EGRESS_MODE is tunnel',
    );
  }
  // On hardware the host is untrusted: an extra CA or a plain-HTTP exchange URL would let it
  // serve the enclave invented fills under a genuine signature. Only the simulated platform
  // (tests, the demo) may use them.
  if (res.data.TEE_PLATFORM !== 'simulated') {
    if (res.data.EGRESS_CA_FILE !== undefined) {
      throw new Error(
        'invalid enclave configuration:\n  EGRESS_CA_FILE: only allowed when TEE_PLATFORM is simulated',
      );
    }
    for (const name of EXCHANGE_URL_VARS) {
      if (!res.data[name].startsWith('https://')) {
        throw new Error(
          `invalid enclave configuration:\n  ${name}: must be https:// unless TEE_PLATFORM is simulated`,
        );
      }
    }
  }
  // A hook that hangs the enclave has no place beside real keys.
  if (res.data.ENCLAVE_TEST_HOOKS === '1' && res.data.TEE_PLATFORM !== 'simulated') {
    throw new Error(
      'invalid enclave configuration:\n  ENCLAVE_TEST_HOOKS: only allowed when TEE_PLATFORM is simulated',
    );
  }
  if (NEEDS_RELEASED_KEY.includes(res.data.TEE_PLATFORM) && !res.data.SEALING_KEY_FILE) {
    throw new Error(
      `invalid enclave configuration:\n  SEALING_KEY_FILE: required when TEE_PLATFORM is ${res.data.TEE_PLATFORM}`,
    );
  }
  return Object.freeze(res.data);
}
