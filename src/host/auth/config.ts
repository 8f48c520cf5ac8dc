/**
 * The host's authentication settings (docs/reference/configuration.md, docs/protocol/auth.md). Parsed
 * with the rest of the host environment (host/config.ts spreads this shape and calls
 * `authConfigFrom`). The Argon2id and token settings are declared in the host↔enclave contract
 * (protocol/enclave-env.ts, AUTH_SHARED_ENV): they take effect in the enclave; the host needs
 * the token ones too, to verify what the enclave signs.
 */
import { z } from 'zod';
import { envInt as int, type AUTH_SHARED_ENV } from '../../protocol/enclave-env.js';

const bool = z.enum(['true', 'false']);

// Stryker disable StringLiteral: the .describe() texts are documentation no code reads, and a
// boolean's default is only ever compared with 'true' ('' and 'false' both read as false).
export const AUTH_HOST_ENV = {
  AUTH_DISABLED_FOR_DEVELOPMENT: bool
    .default('false')
    .describe('Development only: enclave routes accept requests without an access token'),
  AUTH_KEY_ROTATION_INTERVAL_SECONDS: int(0, 365 * 86400)
    .default(30 * 86400)
    .describe('JWT signing-key rollover period; 0 disables scheduled rollover'),
  AUTH_LOGIN_MAX_PER_IP: int(1, 1_000_000)
    .default(30)
    .describe('Login attempts per client address per minute'),
  AUTH_LOGIN_FAILURES_BEFORE_BACKOFF: int(1, 1000)
    .default(5)
    .describe('Failed logins of one account before exponential backoff starts'),
  AUTH_REGISTER_MAX_PER_IP: int(1, 1_000_000)
    .default(10)
    .describe('Registrations per client address per hour'),
  AUTH_REQUIRE_EMAIL_CONFIRMATION: bool
    .optional()
    .describe(
      'New accounts wait for the code mailed to their address, and registration answers 202 for new and taken addresses alike; default true when SMTP_URL is set, else false',
    ),
  AUTH_STEP_UP_SECONDS: int(30, 86400)
    .default(300)
    .describe(
      'Sensitive operations (wallet policy/recovery/reshare/delete, methods, TOTP, operator roles, key rotation) need a login or step-up at most this old, else 401 STEP_UP_REQUIRED',
    ),
  AUTH_COOKIES: bool
    .default('false')
    .describe('Also set the tokens as Secure, HttpOnly, SameSite=Strict cookies'),
};
// Stryker restore StringLiteral

type Outputs<T extends Record<string, z.ZodType>> = {
  [K in keyof T as undefined extends z.output<T[K]> ? never : K]: z.output<T[K]>;
} & { [K in keyof T as undefined extends z.output<T[K]> ? K : never]?: z.output<T[K]> };
type AuthEnv = Outputs<typeof AUTH_HOST_ENV> & Outputs<typeof AUTH_SHARED_ENV>;

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
    // Unset: required exactly when the enclave can send the code (SMTP_URL).
    requireEmailConfirmation:
      env.AUTH_REQUIRE_EMAIL_CONFIRMATION !== undefined
        ? env.AUTH_REQUIRE_EMAIL_CONFIRMATION === 'true'
        : env.SMTP_URL !== undefined,
  };
}
export type AuthConfig = ReturnType<typeof authConfigFrom>;
