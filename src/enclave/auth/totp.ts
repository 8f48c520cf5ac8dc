/**
 * TOTP (RFC 6238) second factor and its recovery codes (docs/protocol/auth.md "TOTP").
 *
 * - Secret: 20 random bytes drawn here (RFC 4226 §4 recommends 160 bits), HMAC-SHA1, 6 digits,
 *   30 s steps, ±1 step accepted. Sealed per user: `ts1.` ‖ base64(nonce ‖ AES-256-GCM(secret))
 *   under HKDF-SHA256(the auth keyring's binding key, salt "cloister/auth/totp-seal/v1"), AAD
 *   "cloister/auth/totp/v1\n" ‖ user id, so a blob moved to another account does not open. The
 *   host stores only that blob; the secret leaves the enclave once, as the otpauth URI of the
 *   enrolment answer.
 * - Replay: the step of each accepted code is remembered per user (in memory), and a code of
 *   that step or an earlier one is refused, so an observed code cannot be used again.
 * - Recovery codes: 10 × 10 characters from a 32-letter alphabet (50 bits each), shown once;
 *   the host stores HMAC-SHA256(HKDF(binding key, "cloister/auth/recovery-code/v1"),
 *   user id ‖ "\n" ‖ code) and deletes the row a login spends.
 */
import { createHmac, randomBytes, randomInt } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import { base64ToBytes, bytesToBase64, utf8 } from '../../protocol/encoding.js';
import { RpcError } from '../../protocol/rpc/errors.js';
import { gcmOpen, gcmSeal } from '../crypto/gcm.js';
import type { AuthKeyring } from './auth-keyring.js';
import { derivedKey } from './method-binding.js';

type Keys = Pick<AuthKeyring, 'bindingKey'>;
export const TOTP_PERIOD = 30;
const RECOVERY_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
export const RECOVERY_CODES = 10;

const aad = (userId: string) => utf8.encode(`cloister/auth/totp/v1\n${userId}`);

export function newTotpSecret(): Uint8Array {
  return new Uint8Array(randomBytes(20));
}

export function sealTotpSecret(keys: Keys, userId: string, secret: Uint8Array): string {
  const key = derivedKey(keys, 'cloister/auth/totp-seal/v1');
  try {
    return `ts1.${bytesToBase64(gcmSeal(key, secret, aad(userId)))}`;
  } finally {
    key.fill(0);
  }
}

/** The secret of `sealed`, which must have been sealed here for this user. */
export function openTotpSecret(keys: Keys, userId: string, sealed: string): Uint8Array {
  const key = derivedKey(keys, 'cloister/auth/totp-seal/v1');
  try {
    if (!sealed.startsWith('ts1.')) throw new Error('format');
    return gcmOpen(key, base64ToBytes(sealed.slice(4)), aad(userId));
  } catch {
    throw new RpcError('AUTH_METHOD_BINDING_INVALID');
  } finally {
    key.fill(0);
  }
}

function totpOf(secret: Uint8Array, label = 'account'): TOTP {
  return new TOTP({
    issuer: 'Cloister',
    label,
    algorithm: 'SHA1',
    digits: 6,
    period: TOTP_PERIOD,
    secret: new Secret({ buffer: new Uint8Array(secret).buffer }),
  });
}

/** otpauth://totp/Cloister:<label>?secret=…: what an authenticator app scans. */
export function otpauthUri(secret: Uint8Array, label: string): string {
  return totpOf(secret, label).toString();
}

/** The time step the code belongs to (now ± 1 step), or null. Constant work per candidate. */
export function totpStep(secret: Uint8Array, code: string, now: number): number | null {
  if (!/^\d{6}$/.test(code)) return null;
  const delta = totpOf(secret).validate({ token: code, timestamp: now * 1000, window: 1 });
  return delta === null ? null : Math.floor(now / TOTP_PERIOD) + delta;
}

/** Wrong second-factor codes (TOTP or recovery) a user may send per window before a lockout. */
export const MFA_MAX_FAILURES = 10;
export const MFA_FAILURE_WINDOW_SECONDS = 900;

/**
 * Last accepted step per user: a code is good once (RFC 6238 §5.2). And the wrong codes per
 * user: after MFA_MAX_FAILURES in MFA_FAILURE_WINDOW_SECONDS every code is refused until the
 * window ends (RFC 6238 §5.1), here, since the host's login backoff does not bind a host that
 * calls the enclave itself (a million codes, three of them good, fall in minutes otherwise).
 */
export class TotpReplay {
  private readonly last = new Map<string, { step: number; until: number }>();
  private readonly failures = new Map<string, { n: number; until: number }>();
  constructor(private readonly max = 100_000) {}

  /** Whether `userId` has used up its wrong codes for now (also when the table is full). */
  locked(userId: string, now: number): boolean {
    const f = this.failures.get(userId);
    if (f && f.until > now) return f.n >= MFA_MAX_FAILURES;
    if (this.failures.size >= this.max)
      for (const [k, v] of this.failures) if (v.until <= now) this.failures.delete(k);
    return this.failures.size >= this.max;
  }

  /** Counts a wrong code of `userId`. */
  failed(userId: string, now: number): void {
    const f = this.failures.get(userId);
    if (f && f.until > now) f.n++;
    else this.failures.set(userId, { n: 1, until: now + MFA_FAILURE_WINDOW_SECONDS });
  }

  /** True, and remembered, when `step` is newer than the last accepted one of this user. */
  accept(userId: string, step: number, now: number): boolean {
    const seen = this.last.get(userId);
    if (seen && seen.until > now && seen.step >= step) return false;
    if (this.last.size >= this.max) {
      for (const [k, v] of this.last) if (v.until <= now) this.last.delete(k);
    }
    if (this.last.size >= this.max) return false;
    this.last.set(userId, { step, until: now + 3 * TOTP_PERIOD });
    return true;
  }
}

/**
 * Checks a code against a sealed secret; throws AUTH_MFA_INVALID when it is wrong or used.
 * Returns its step, for the host to store (the replay memory here is this process's only).
 */
export function checkTotp(
  keys: Keys,
  replay: TotpReplay,
  userId: string,
  sealed: string,
  code: string,
  now: number,
): number {
  const secret = openTotpSecret(keys, userId, sealed);
  try {
    const step = totpStep(secret, code, now);
    if (step === null || !replay.accept(userId, step, now)) throw new RpcError('AUTH_MFA_INVALID');
    return step;
  } finally {
    secret.fill(0);
  }
}

/** Upper-case, without separators: `abcde-fghjk` and `ABCDEFGHJK` are the same code. */
const normalize = (code: string) => code.replace(/[-\s]/g, '').toUpperCase();

export function recoveryCodeMac(keys: Keys, userId: string, code: string): string {
  const key = derivedKey(keys, 'cloister/auth/recovery-code/v1');
  try {
    return createHmac('sha256', key)
      .update(`${userId}\n${normalize(code)}`)
      .digest('base64url');
  } finally {
    key.fill(0);
  }
}

export function newRecoveryCodes(keys: Keys, userId: string): { codes: string[]; macs: string[] } {
  const codes = Array.from({ length: RECOVERY_CODES }, () => {
    const chars = Array.from(
      { length: 10 },
      () => RECOVERY_ALPHABET[randomInt(RECOVERY_ALPHABET.length)],
    ).join('');
    return `${chars.slice(0, 5)}-${chars.slice(5)}`;
  });
  return { codes, macs: codes.map((c) => recoveryCodeMac(keys, userId, c)) };
}
