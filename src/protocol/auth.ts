/**
 * Authentication wire formats shared by host, enclave and SDK (docs/protocol/auth.md): the
 * ES256 public JWK with its RFC 7638 thumbprint, the JWT key thumbprints bound into attestation,
 * the auth envelope plaintext, the access-token claims, and the log subject of a user.
 */
import { sha256 } from './sha256.js';
import { z } from 'zod';
import { bytesToBase64url, bytesToHex, utf8 } from './encoding.js';

/** Passwords shorter than this are refused (seed 000, "Reject short passwords"). */
export const PASSWORD_MIN_LENGTH = 12;
/** Argon2 inputs are bounded so a huge body cannot become huge work. */
export const PASSWORD_MAX_LENGTH = 1024;

export const EmailSchema = z
  .string()
  .trim()
  .toLowerCase()
  .min(3)
  .max(254)
  .regex(/^[^\s@]+@[^\s@]+$/, { message: 'email must look like name@domain' });

/** Length is checked in the enclave (the refusal must not depend on the host). */
export const PasswordSchema = z.string().min(1).max(PASSWORD_MAX_LENGTH);

export const ROLES = ['operator'] as const;
export const RoleSchema = z.enum(ROLES);
export type Role = z.infer<typeof RoleSchema>;

export const KidSchema = z.string().regex(/^[A-Za-z0-9_-]{43}$/);

export const Es256PublicJwkSchema = z
  .object({
    kty: z.literal('EC'),
    crv: z.literal('P-256'),
    x: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
    y: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
    kid: KidSchema,
    use: z.literal('sig'),
    alg: z.literal('ES256'),
  })
  .strict();
export type Es256PublicJwk = z.infer<typeof Es256PublicJwkSchema>;

export const JwksSchema = z.object({ keys: z.array(Es256PublicJwkSchema).max(64) }).strict();
export type Jwks = z.infer<typeof JwksSchema>;

/** RFC 7638 §3.2 for an EC key: {"crv","kty","x","y"} in that order, no whitespace. */
export function ecThumbprint(x: string, y: string): string {
  return bytesToBase64url(sha256(utf8.encode(`{"crv":"P-256","kty":"EC","x":"${x}","y":"${y}"}`)));
}

/**
 * The plaintext of a credential envelope that carries a password. It shares the envelope (and
 * its replay and freshness checks) with exchange credentials but not the schema: both schemas
 * are strict, `purpose` exists only here and `exchange`/`apiKey` only there, so neither kind can
 * be accepted as the other. `action` and `email` bind the password to one use for one account.
 */
export const AuthPlaintextSchema = z
  .object({
    purpose: z.literal('auth'),
    action: z.enum(['register', 'login', 'reset', 'link', 'change']),
    email: EmailSchema,
    password: PasswordSchema,
    issued_at: z.number().int().nonnegative(),
  })
  .strict();
export type AuthPlaintext = z.infer<typeof AuthPlaintextSchema>;

export const AccessClaimsSchema = z.object({
  iss: z.string(),
  aud: z.string(),
  sub: z.uuid(),
  sid: z.uuid(),
  exp: z.number().int(),
  iat: z.number().int(),
  jti: z.uuid(),
  roles: z.array(RoleSchema),
  /**
   * RFC 8176 methods of the login this token comes from (`pwd`, `otp`, `swk` for a SIWE key)
   * and its time (OIDC `auth_time`); absent on tokens from a refresh, which therefore never
   * count as a recent authentication (step-up).
   */
  amr: z.array(z.string().max(16)).max(8).optional(),
  auth_time: z.number().int().optional(),
});
export type AccessClaims = z.infer<typeof AccessClaimsSchema>;

/** How a user appears in the public log (like a session: a domain-separated hash of the id). */
export function userLogSubject(userId: string): string {
  return bytesToHex(sha256(utf8.encode(`cloister/log/user/v1\n${userId.toLowerCase()}`)));
}
