/**
 * The settings contract between host and enclave: the variables both processes read, declared
 * once with their ranges, defaults and descriptions. The host parses them with the rest of its
 * environment (host/config.ts spreads ENCLAVE_SHARED_ENV) and writes them into the environment
 * of the enclave it spawns (serializeEnclaveEnv in host/config.ts); the enclave parses the same
 * schemas (enclave/config.ts), plus ENCLAVE_SPAWN_ENV, which only the host's spawn sets. Both
 * apply the same cross-field rules (enclaveEnvIssues). A test round-trips every variable.
 * On a real TEE these values belong to the measured launch configuration.
 */
import { z } from 'zod';
import { PLATFORMS } from './attestation/response.js';
import { EXCHANGES } from './credentials.js';
import { EXCHANGE_TABLE } from './exchange-table.js';

/**
 * An integer setting, written in decimal, between min and max: the one integer rule of every
 * configuration schema (host and enclave). A blank value is refused, not coerced: Number('') is
 * 0, and 0 turns some settings off (key rotation, retention, clock-skew tolerance).
 */
export const envInt = (min: number, max: number) =>
  z.preprocess(
    (v) => (typeof v === 'string' && /^\s*-?\d{1,16}\s*$/.test(v) ? Number(v) : v),
    z.number({ error: 'must be a decimal integer' }).int().min(min).max(max),
  );
const int = envInt;
/** Unset or blank: undefined (a blank line in an env file is not a path). */
const optionalPath = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

/** TEE_PLATFORM values; each names a constructor in enclave/platform/registry.ts. */
export const TEE_PLATFORMS = ['simulated', 'sgx-gramine', 'tdx', 'sev-snp', 'nitro'] as const;
/** The platform a TEE_PLATFORM value reports in `enclave.status` and its evidence. */
export const EVIDENCE_PLATFORM: Readonly<
  Record<(typeof TEE_PLATFORMS)[number], (typeof PLATFORMS)[number]>
> = Object.freeze({
  simulated: 'simulated',
  'sgx-gramine': 'sgx',
  tdx: 'tdx',
  'sev-snp': 'sev-snp',
  nitro: 'nitro',
});
/** Platforms without a hardware sealing key: they seal under a key released on attestation. */
export const NEEDS_RELEASED_KEY: readonly string[] = ['tdx', 'sev-snp', 'nitro'];

/** Longest session TTL: the host's MAX_TTL_SECONDS, the enclave's ENCLAVE_MAX_TTL_SECONDS. */
export const maxTtlSeconds = int(300, 365 * 86400).default(604800);

const exchangeUrls = Object.fromEntries(
  EXCHANGES.map((e) => [
    EXCHANGE_TABLE[e].envVar,
    z.url().default(EXCHANGE_TABLE[e].defaultBaseUrl).describe(EXCHANGE_TABLE[e].description),
  ]),
) as {
  [E in (typeof EXCHANGES)[number] as (typeof EXCHANGE_TABLE)[E]['envVar']]: z.ZodDefault<z.ZodURL>;
};

/** Authentication: the enclave hashes passwords and signs tokens; the host verifies them. */
export const AUTH_SHARED_ENV = {
  AUTH_ARGON2_MEMORY_KIB: int(19456, 4 * 1024 * 1024)
    .default(19456)
    .describe('Argon2id memory cost, KiB (at least OWASP 19456)'),
  AUTH_ARGON2_TIME_COST: int(2, 64).default(2).describe('Argon2id passes (at least 2)'),
  AUTH_ARGON2_PARALLELISM: int(1, 16).default(1).describe('Argon2id lanes'),
  AUTH_ARGON2_CONCURRENCY: int(1, 64)
    .default(2)
    .describe('Argon2id computations running at once in the enclave'),
  AUTH_ARGON2_QUEUE_MAX: int(0, 100_000)
    .default(64)
    .describe('Argon2id computations that may wait; beyond that logins answer 503 AUTH_BUSY'),
  AUTH_ISSUER: z
    .string()
    .min(1)
    .max(256)
    .default('http://127.0.0.1:3000')
    .describe('JWT issuer (iss) and OpenID issuer: the public base URL of the service'),
  AUTH_AUDIENCE: z.string().min(1).max(256).default('cloister').describe('JWT audience (aud)'),
  AUTH_ACCESS_TOKEN_TTL_SECONDS: int(60, 86400).default(900).describe('Access-token lifetime'),
  AUTH_REFRESH_TOKEN_TTL_SECONDS: int(300, 365 * 86400)
    .default(30 * 86400)
    .describe('Refresh-token lifetime (renewed on each refresh)'),
  AUTH_SESSION_MAX_AGE_SECONDS: int(300, 365 * 86400)
    .default(30 * 86400)
    .describe(
      'Absolute login-session lifetime from sign-in: no refresh or step-up reaches past it; then sign in again',
    ),
  AUTH_REFRESH_GRACE_SECONDS: int(0, 300)
    .default(5)
    .describe('A retried refresh of the same token within this window returns the same pair'),
  AUTH_KEY_PREPUBLISH_SECONDS: int(0, 86400)
    .default(60)
    .describe('How long a new signing key is in the JWKS before it signs'),
  AUTH_SIWE_DOMAIN: z
    .string()
    .min(1)
    .max(255)
    .regex(/^[^\s/]+$/)
    .optional()
    .describe(
      "Sign-In with Ethereum: the domain (host[:port]) messages and their URI must name; default AUTH_ISSUER's host",
    ),
  AUTH_SIWE_CHAIN_IDS: z
    .string()
    .regex(/^\d{1,15}(,\d{1,15})*$/)
    .default('1')
    .describe('Sign-In with Ethereum: comma-separated chain ids a message may name'),
  AUTH_SIWE_NONCE_TTL_SECONDS: int(30, 3600)
    .default(300)
    .describe('Sign-In with Ethereum: how long a nonce from GET /auth/siwe/nonce stays usable'),
  AUTH_RECOVERY_DELAY_SECONDS: int(0, 30 * 86400)
    .default(86400)
    .describe(
      'Account recovery: how long a recovery of an account with a second factor waits before it can complete',
    ),
  AUTH_RP_ID: z
    .string()
    .regex(/^[a-z0-9.-]{1,253}$/)
    .optional()
    .describe(
      "Passkeys: the WebAuthn relying-party id (a domain); default AUTH_ISSUER's host name",
    ),
  AUTH_ORIGINS: z
    .string()
    .regex(/^https?:\/\/[^\s,]+(,https?:\/\/[^\s,]+)*$/)
    .optional()
    .describe(
      "Passkeys: comma-separated origins a ceremony may come from; default AUTH_ISSUER's origin",
    ),
  SMTP_URL: z
    .string()
    .regex(/^smtps?:\/\/[^\s]+$/)
    .optional()
    .describe(
      'Where the enclave sends one-time-code mails: smtps://user:pass@host:465, or smtp://... with STARTTLS required',
    ),
  MAIL_FROM: z
    .string()
    .regex(/^[^\s@<>]+@[^\s@<>]+$/)
    .default('cloister@localhost')
    .describe("Sender address of the enclave's mails"),
};

/** The domain a SIWE message must name: AUTH_SIWE_DOMAIN, else the host[:port] of AUTH_ISSUER. */
export function siweDomainOf(v: { AUTH_SIWE_DOMAIN?: string | undefined; AUTH_ISSUER: string }) {
  if (v.AUTH_SIWE_DOMAIN !== undefined) return v.AUTH_SIWE_DOMAIN;
  try {
    return new URL(v.AUTH_ISSUER).host || v.AUTH_ISSUER;
  } catch {
    return v.AUTH_ISSUER;
  }
}

/**
 * The scheme a SIWE message may name before its domain (EIP-4361 `scheme`): AUTH_ISSUER's, else
 * https. A wallet checks that scheme against the page asking for the signature, so a message
 * naming `http` is one a page on plain HTTP (an on-path attacker's) could have had signed.
 */
export function siweSchemeOf(v: { AUTH_ISSUER: string }): string {
  try {
    return new URL(v.AUTH_ISSUER).protocol.slice(0, -1).toLowerCase() || 'https';
  } catch {
    return 'https';
  }
}

/** The WebAuthn relying party: AUTH_RP_ID and AUTH_ORIGINS, or what AUTH_ISSUER implies. */
export function webauthnRpOf(v: {
  AUTH_RP_ID?: string | undefined;
  AUTH_ORIGINS?: string | undefined;
  AUTH_ISSUER: string;
}): { rpId: string; origins: string[] } {
  let issuer: URL | null = null;
  try {
    issuer = new URL(v.AUTH_ISSUER);
  } catch {
    issuer = null;
  }
  return {
    rpId: v.AUTH_RP_ID ?? issuer?.hostname ?? 'localhost',
    origins: v.AUTH_ORIGINS?.split(',') ?? (issuer ? [issuer.origin] : []),
  };
}

/** The chain ids AUTH_SIWE_CHAIN_IDS allows. */
export const siweChainIdsOf = (v: { AUTH_SIWE_CHAIN_IDS: string }) =>
  v.AUTH_SIWE_CHAIN_IDS.split(',').map(Number);

/** Every variable host and enclave both read, under the same name. */
export const ENCLAVE_SHARED_ENV = {
  TEE_PLATFORM: z
    .enum(TEE_PLATFORMS)
    .default('simulated')
    .describe('TEE platform of the enclave (docs/platforms/)'),
  TEE_DEVICE_ROOT: z
    .string()
    .min(1)
    .default('/')
    .describe('Prefix of /dev/attestation and /sys/kernel/config/tsm (tests: a fake tree)'),
  SEALING_KEY_FILE: optionalPath.describe(
    'Key file a KMS releases after attestation (tdx, sev-snp, nitro): 32 bytes or hex',
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
  ENVELOPE_MAX_AGE_SECONDS: int(10, 3600)
    .default(300)
    .describe('Oldest envelope issued_at accepted'),
  ENVELOPE_MAX_FUTURE_SECONDS: int(0, 600)
    .default(30)
    .describe(
      'Client clock skew tolerated on envelope issued_at, seconds; also how long (plus 1 s) after each start envelopes dated before then are refused',
    ),
  REPLAY_CACHE_MAX_ENTRIES: int(1000, 50_000_000)
    .default(2_000_000)
    .describe('Most envelope ephemeral keys the enclave remembers to refuse replays'),
  ...exchangeUrls,
  EGRESS_MODE: z
    .enum(['direct', 'tunnel'])
    .default('direct')
    .describe(
      'How the enclave reaches exchanges: directly, or TLS through the host CONNECT tunnel',
    ),
  EGRESS_CA_FILE: optionalPath.describe(
    'Extra CA certificate (PEM) the enclave trusts for exchange TLS (tests, private testnets)',
  ),
  AGGREGATES_MAX_JOBS: int(1, 64)
    .default(4)
    .describe('Aggregate jobs the enclave runs at once; more answer 503'),
  AGGREGATES_MAX_WINDOW_DAYS: int(1, 3650)
    .default(730)
    .describe('Longest [from, to) window, and the look-back when from is omitted'),
  AGGREGATES_MAX_FILLS: int(1000, 50_000_000)
    .default(3_000_000)
    .describe('Most fills one aggregates job may hold in enclave memory; more fail the job'),
  WALLET_RECOVERY_DELAY_SECONDS: int(1, 90 * 86400)
    .default(172800)
    .describe('Wallet recovery time-lock: seconds between recovery start and completion'),
  ...AUTH_SHARED_ENV,
};

/** Set only by the host's spawn (paths in its DATA_DIR, and its MAX_TTL_SECONDS). */
export const ENCLAVE_SPAWN_ENV = {
  ENCLAVE_SOCKET_PATH: z
    .string()
    .min(1)
    .default('./data/enclave-external.sock')
    .describe('Unix socket the enclave listens on'),
  SIMULATED_PLATFORM_DIR: z
    .string()
    .min(1)
    .default('./data/simulated-platform')
    .describe('Folder holding the simulated vendor key and platform secret'),
  ENCLAVE_MAX_TTL_SECONDS: maxTtlSeconds.describe('Longest session TTL the enclave binds'),
  EGRESS_PROXY_SOCKET: optionalPath.describe('Unix socket of the host CONNECT proxy (tunnel mode)'),
  ENCLAVE_PARENT_PID: int(1, 2 ** 22)
    .optional()
    .describe('Pid of the host that spawned this enclave; the enclave exits when it dies'),
  ENCLAVE_TEST_HOOKS: z
    .enum(['0', '1'])
    .default('0')
    .describe('1 = answer the test-only methods (simulated platform only; set by test code only)'),
};

export const EnclaveSharedEnvSchema = z.object(ENCLAVE_SHARED_ENV);
export type EnclaveSharedEnv = z.output<typeof EnclaveSharedEnvSchema>;
export const ENCLAVE_SHARED_VARIABLES = Object.keys(
  ENCLAVE_SHARED_ENV,
) as (keyof EnclaveSharedEnv)[];

export interface EnvIssue {
  variable: string;
  message: string;
}

/**
 * The cross-field rules both processes apply. On hardware the host is untrusted: an extra CA or
 * a plain-HTTP exchange URL would let it serve the enclave invented fills under a genuine
 * signature, so only the simulated platform (tests, the demo) may use them; in tunnel mode the
 * host carries the traffic, so it must be TLS. `sealingKeyRequired` is false for a host that
 * connects to an enclave launched elsewhere (which has its own key file).
 */
export function enclaveEnvIssues(
  v: EnclaveSharedEnv,
  opts: { sealingKeyRequired: boolean },
): EnvIssue[] {
  const issues: EnvIssue[] = [];
  for (const e of EXCHANGES) {
    const name = EXCHANGE_TABLE[e].envVar;
    const https = v[name].startsWith('https://');
    if (!https && v.EGRESS_MODE === 'tunnel') {
      issues.push({
        variable: name,
        message: 'must be https:// when EGRESS_MODE is tunnel (the host must not see the traffic)',
      });
    } else if (!https && v.TEE_PLATFORM !== 'simulated') {
      issues.push({ variable: name, message: 'must be https:// unless TEE_PLATFORM is simulated' });
    }
  }
  if (v.TEE_PLATFORM !== 'simulated' && v.EGRESS_CA_FILE !== undefined) {
    issues.push({
      variable: 'EGRESS_CA_FILE',
      message: 'only allowed when TEE_PLATFORM is simulated',
    });
  }
  if (
    opts.sealingKeyRequired &&
    NEEDS_RELEASED_KEY.includes(v.TEE_PLATFORM) &&
    !v.SEALING_KEY_FILE
  ) {
    issues.push({
      variable: 'SEALING_KEY_FILE',
      message: `required when TEE_PLATFORM is ${v.TEE_PLATFORM}`,
    });
  }
  return issues;
}

/** The enclave's environment for these values: every defined variable, as text. */
export function serializeSharedEnv(v: EnclaveSharedEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of ENCLAVE_SHARED_VARIABLES) {
    const value = v[name];
    if (value !== undefined) out[name] = String(value);
  }
  return out;
}
