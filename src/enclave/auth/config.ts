/**
 * The enclave's authentication settings (docs/protocol/auth.md), declared in the host↔enclave
 * contract (protocol/enclave-env.ts, AUTH_SHARED_ENV) and parsed with the rest of the enclave's
 * environment. Argon2id defaults are OWASP's minimum (m = 19 MiB, t = 2, p = 1); the floor
 * refuses anything weaker.
 */
export interface AuthEnclaveConfig {
  readonly SMTP_URL?: string | undefined;
  readonly MAIL_FROM: string;
  readonly AUTH_SIWE_DOMAIN?: string | undefined;
  readonly AUTH_RP_ID?: string | undefined;
  readonly AUTH_ORIGINS?: string | undefined;
  readonly AUTH_SIWE_CHAIN_IDS: string;
  readonly AUTH_SIWE_NONCE_TTL_SECONDS: number;
  readonly AUTH_RECOVERY_DELAY_SECONDS: number;
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
  readonly AUTH_SESSION_MAX_AGE_SECONDS: number;
  readonly AUTH_KEY_PREPUBLISH_SECONDS: number;
}

/** A signing key stays published this long after it stops signing: twice the token lifetime. */
export function keyRetentionSeconds(c: AuthEnclaveConfig): number {
  return 2 * c.AUTH_ACCESS_TOKEN_TTL_SECONDS;
}
