/**
 * The host's authentication settings (README "Configuration", docs/protocol/auth.md). Parsed
 * with the rest of the host environment (host/config.ts spreads this shape and calls
 * `authConfigFrom`). The Argon2id and token settings are passed on to the enclave, which is
 * where they take effect; the host needs the token ones too, to verify what the enclave signs.
 */
import { z } from 'zod';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const bool = z.enum(['true', 'false']);

export const AUTH_HOST_ENV = {
  AUTH_DISABLED_FOR_DEVELOPMENT: bool
    .default('false')
    .describe('Development only: enclave routes accept requests without an access token'),
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
  AUTH_REFRESH_GRACE_SECONDS: int(0, 300)
    .default(5)
    .describe('A retried refresh of the same token within this window returns the same pair'),
  AUTH_KEY_ROTATION_INTERVAL_SECONDS: int(0, 365 * 86400)
    .default(30 * 86400)
    .describe('JWT signing-key rollover period; 0 disables scheduled rollover'),
  AUTH_KEY_PREPUBLISH_SECONDS: int(0, 86400)
    .default(60)
    .describe('How long a new signing key is in the JWKS before it signs'),
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
  AUTH_LOGIN_MAX_PER_IP: int(1, 1_000_000)
    .default(30)
    .describe('Login attempts per client address per minute'),
  AUTH_LOGIN_FAILURES_BEFORE_BACKOFF: int(1, 1000)
    .default(5)
    .describe('Failed logins of one account before exponential backoff starts'),
  AUTH_REGISTER_MAX_PER_IP: int(1, 1_000_000)
    .default(10)
    .describe('Registrations per client address per hour'),
  AUTH_SIWE_DOMAIN: z
    .string()
    .min(1)
    .max(255)
    .regex(/^[^\s/]+$/)
    .optional()
    .describe(
      'Sign-In with Ethereum: the domain (host[:port]) messages and their URI must name; default the AUTH_ISSUER host',
    ),
  AUTH_SIWE_CHAIN_IDS: z
    .string()
    .regex(/^\d{1,15}(,\d{1,15})*$/)
    .default('1')
    .describe('Sign-In with Ethereum: comma-separated chain ids a message may name'),
  AUTH_SIWE_NONCE_TTL_SECONDS: int(30, 3600)
    .default(300)
    .describe('Sign-In with Ethereum: how long a nonce from GET /auth/siwe/nonce stays usable'),
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
  AUTH_REQUIRE_EMAIL_CONFIRMATION: bool
    .optional()
    .describe(
      'New accounts wait for the code mailed to their address, and registration answers 202 for new and taken addresses alike; default true when SMTP_URL is set, else false',
    ),
  AUTH_STEP_UP_SECONDS: int(30, 86400)
    .default(300)
    .describe(
      'Sensitive operations (unlinking a login method, operator role changes, key rotation) need a login at most this old, else 401 STEP_UP_REQUIRED',
    ),
  AUTH_COOKIES: bool
    .default('false')
    .describe('Also set the tokens as Secure, HttpOnly, SameSite=Strict cookies'),
};

type AuthEnv = { [K in keyof typeof AUTH_HOST_ENV]?: z.output<(typeof AUTH_HOST_ENV)[K]> } & {
  [
    K in keyof typeof AUTH_HOST_ENV as undefined extends z.output<(typeof AUTH_HOST_ENV)[K]>
      ? never
      : K
  ]: z.output<(typeof AUTH_HOST_ENV)[K]>;
};

/** The issuer URL's host[:port]: the site a SIWE message must be for unless configured. */
function siweDomainOf(issuer: string): string {
  try {
    return new URL(issuer).host || issuer;
  } catch {
    return issuer;
  }
}

export function authConfigFrom(env: AuthEnv) {
  return {
    disabledForDevelopment: env.AUTH_DISABLED_FOR_DEVELOPMENT === 'true',
    issuer: env.AUTH_ISSUER,
    audience: env.AUTH_AUDIENCE,
    accessTtlSeconds: env.AUTH_ACCESS_TOKEN_TTL_SECONDS,
    refreshTtlSeconds: env.AUTH_REFRESH_TOKEN_TTL_SECONDS,
    refreshGraceSeconds: env.AUTH_REFRESH_GRACE_SECONDS,
    keyRotationIntervalMs: env.AUTH_KEY_ROTATION_INTERVAL_SECONDS * 1000,
    keyPrepublishSeconds: env.AUTH_KEY_PREPUBLISH_SECONDS,
    loginMaxPerIp: env.AUTH_LOGIN_MAX_PER_IP,
    loginFailuresBeforeBackoff: env.AUTH_LOGIN_FAILURES_BEFORE_BACKOFF,
    registerMaxPerIp: env.AUTH_REGISTER_MAX_PER_IP,
    cookies: env.AUTH_COOKIES === 'true',
    stepUpSeconds: env.AUTH_STEP_UP_SECONDS,
    requireEmailConfirmation:
      (env.AUTH_REQUIRE_EMAIL_CONFIRMATION ?? (env.SMTP_URL !== undefined ? 'true' : 'false')) ===
      'true',
    /** What the enclave's environment gets (enclave/auth/config.ts parses it). */
    enclaveEnv: {
      AUTH_ARGON2_MEMORY_KIB: String(env.AUTH_ARGON2_MEMORY_KIB),
      AUTH_ARGON2_TIME_COST: String(env.AUTH_ARGON2_TIME_COST),
      AUTH_ARGON2_PARALLELISM: String(env.AUTH_ARGON2_PARALLELISM),
      AUTH_ARGON2_CONCURRENCY: String(env.AUTH_ARGON2_CONCURRENCY),
      AUTH_ARGON2_QUEUE_MAX: String(env.AUTH_ARGON2_QUEUE_MAX),
      AUTH_ISSUER: env.AUTH_ISSUER,
      AUTH_AUDIENCE: env.AUTH_AUDIENCE,
      AUTH_ACCESS_TOKEN_TTL_SECONDS: String(env.AUTH_ACCESS_TOKEN_TTL_SECONDS),
      AUTH_REFRESH_TOKEN_TTL_SECONDS: String(env.AUTH_REFRESH_TOKEN_TTL_SECONDS),
      AUTH_REFRESH_GRACE_SECONDS: String(env.AUTH_REFRESH_GRACE_SECONDS),
      AUTH_KEY_PREPUBLISH_SECONDS: String(env.AUTH_KEY_PREPUBLISH_SECONDS),
      AUTH_SIWE_DOMAIN: env.AUTH_SIWE_DOMAIN ?? siweDomainOf(env.AUTH_ISSUER),
      AUTH_SIWE_CHAIN_IDS: env.AUTH_SIWE_CHAIN_IDS,
      AUTH_SIWE_NONCE_TTL_SECONDS: String(env.AUTH_SIWE_NONCE_TTL_SECONDS),
      MAIL_FROM: env.MAIL_FROM,
      // The SMTP password reaches the enclave through its environment (the host has it anyway:
      // it is the operator's relay account, not a user secret).
      ...(env.SMTP_URL !== undefined ? { SMTP_URL: env.SMTP_URL } : {}),
    },
  };
}
export type AuthConfig = ReturnType<typeof authConfigFrom>;
