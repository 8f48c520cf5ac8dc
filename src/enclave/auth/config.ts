/**
 * The enclave's authentication settings (docs/protocol/auth.md), parsed with the rest of the
 * enclave's environment (enclave/config.ts spreads this shape). Argon2id defaults are OWASP's
 * minimum (m = 19 MiB, t = 2, p = 1); the floor refuses anything weaker.
 */
import { z } from 'zod';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

export const AUTH_ENCLAVE_ENV = {
  AUTH_ARGON2_MEMORY_KIB: int(19456, 4 * 1024 * 1024)
    .default(19456)
    .describe('Argon2id memory cost m, KiB (at least OWASP 19456)'),
  AUTH_ARGON2_TIME_COST: int(2, 64).default(2).describe('Argon2id passes t (at least 2)'),
  AUTH_ARGON2_PARALLELISM: int(1, 16).default(1).describe('Argon2id lanes p'),
  AUTH_ARGON2_CONCURRENCY: int(1, 64)
    .default(2)
    .describe('Argon2id computations running at once in the enclave'),
  AUTH_ARGON2_QUEUE_MAX: int(0, 100_000)
    .default(64)
    .describe('Argon2id computations that may wait; more are shed with AUTH_BUSY'),
  AUTH_ISSUER: z.string().min(1).max(256).default('http://127.0.0.1:3000').describe('JWT iss'),
  AUTH_AUDIENCE: z.string().min(1).max(256).default('cloister').describe('JWT aud'),
  AUTH_ACCESS_TOKEN_TTL_SECONDS: int(60, 86400).default(900).describe('Access-token lifetime'),
  AUTH_REFRESH_TOKEN_TTL_SECONDS: int(300, 365 * 86400)
    .default(30 * 86400)
    .describe('Refresh-token lifetime'),
  AUTH_REFRESH_GRACE_SECONDS: int(0, 300)
    .default(5)
    .describe('Window in which a retried refresh of the same token returns the same pair'),
  AUTH_KEY_PREPUBLISH_SECONDS: int(0, 86400)
    .default(60)
    .describe('How long a new signing key is published before it signs'),
  AUTH_SIWE_DOMAIN: z
    .string()
    .min(1)
    .max(255)
    .default('127.0.0.1:3000')
    .describe('The domain (RFC 3986 authority) SIWE messages and their URI must name'),
  AUTH_SIWE_CHAIN_IDS: z
    .string()
    .regex(/^\d{1,15}(,\d{1,15})*$/)
    .default('1')
    .transform((s) => s.split(',').map(Number))
    .describe('Comma-separated chain ids a SIWE message may name'),
  AUTH_SIWE_NONCE_TTL_SECONDS: int(30, 3600)
    .default(300)
    .describe('How long a SIWE nonce stays usable'),
  SMTP_URL: z
    .string()
    .regex(/^smtps?:\/\//)
    .optional()
    .describe('Where the enclave sends one-time-code mails (smtps:// or smtp:// with STARTTLS)'),
  MAIL_FROM: z
    .string()
    .regex(/^[^\s@<>]+@[^\s@<>]+$/)
    .default('cloister@localhost')
    .describe('Sender address of those mails'),
};

export interface AuthEnclaveConfig {
  readonly SMTP_URL?: string | undefined;
  readonly MAIL_FROM: string;
  readonly AUTH_SIWE_DOMAIN: string;
  readonly AUTH_SIWE_CHAIN_IDS: readonly number[];
  readonly AUTH_SIWE_NONCE_TTL_SECONDS: number;
  readonly AUTH_ARGON2_MEMORY_KIB: number;
  readonly AUTH_ARGON2_TIME_COST: number;
  readonly AUTH_ARGON2_PARALLELISM: number;
  readonly AUTH_ARGON2_CONCURRENCY: number;
  readonly AUTH_ARGON2_QUEUE_MAX: number;
  readonly AUTH_ISSUER: string;
  readonly AUTH_AUDIENCE: string;
  readonly AUTH_ACCESS_TOKEN_TTL_SECONDS: number;
  readonly AUTH_REFRESH_TOKEN_TTL_SECONDS: number;
  readonly AUTH_REFRESH_GRACE_SECONDS: number;
  readonly AUTH_KEY_PREPUBLISH_SECONDS: number;
}

/** A signing key stays published this long after it stops signing: twice the token lifetime. */
export function keyRetentionSeconds(c: AuthEnclaveConfig): number {
  return 2 * c.AUTH_ACCESS_TOKEN_TTL_SECONDS;
}
