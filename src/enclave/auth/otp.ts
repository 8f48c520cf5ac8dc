/**
 * Email one-time codes, kept by the enclave (docs/protocol/auth.md "Email one-time codes"): a
 * 6-digit code drawn here, of which only an HMAC under a per-process random key is kept; 10
 * minutes of life; 5 wrong tries lock it until it expires; 5 sends per address per hour. The
 * compare is constant time. In memory: a restart forgets pending codes (the user asks again).
 */
import { createHmac, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import type { OtpPurpose } from '../../protocol/rpc/auth-methods.js';
import { RpcError } from '../../protocol/rpc/errors.js';

export const OTP_TTL_SECONDS = 600;
export const OTP_MAX_ATTEMPTS = 5;
export const OTP_MAX_SENDS_PER_HOUR = 5;
const MAX_ADDRESSES = 100_000;

/** What a code is for (one definition, with the wire format): a code works for one purpose. */
export type { OtpPurpose } from '../../protocol/rpc/auth-methods.js';

interface Pending {
  mac: Buffer;
  expiresAt: number;
  attempts: number;
}

const slotOf = (purpose: OtpPurpose, email: string, account?: string) =>
  account === undefined ? `${purpose}\n${email}` : `${purpose}\n${email}\n${account}`;

export class OtpStore {
  private readonly key = randomBytes(32);
  private readonly pending = new Map<string, Pending>();
  private readonly sends = new Map<string, number[]>();

  private mac(slot: string, code: string): Buffer {
    return createHmac('sha256', this.key).update(`${slot}\n${code}`).digest();
  }

  /**
   * A new code for (`purpose`, `email`, and `account` when given: a `link` code is bound to the
   * account that asked for it), replacing any pending one; OTP_SEND_LIMIT after 5 mails to the
   * address this hour, whatever their purposes.
   */
  start(purpose: OtpPurpose, email: string, now: number, account?: string): string {
    const slot = slotOf(purpose, email, account);
    const recent = (this.sends.get(email) ?? []).filter((t) => t > now - 3600);
    if (recent.length >= OTP_MAX_SENDS_PER_HOUR) throw new RpcError('AUTH_OTP_SEND_LIMIT');
    if (this.pending.size >= MAX_ADDRESSES || this.sends.size >= MAX_ADDRESSES) this.purge(now);
    if (this.pending.size >= MAX_ADDRESSES || this.sends.size >= MAX_ADDRESSES)
      throw new RpcError('AUTH_BUSY');
    recent.push(now);
    this.sends.set(email, recent);
    const code = randomInt(0, 1_000_000).toString().padStart(6, '0');
    this.pending.set(slot, {
      mac: this.mac(slot, code),
      expiresAt: now + OTP_TTL_SECONDS,
      attempts: 0,
    });
    return code;
  }

  /** Forget a code whose mail could not be sent. */
  drop(purpose: OtpPurpose, email: string, account?: string): void {
    this.pending.delete(slotOf(purpose, email, account));
  }

  /**
   * Takes the code on success (`keep`: leaves a right code pending, for a login that still
   * waits for its second factor); counts a wrong one; AUTH_OTP_LOCKED after 5 wrong tries.
   */
  verify(
    purpose: OtpPurpose,
    email: string,
    code: string,
    now: number,
    opts: { account?: string; keep?: boolean } = {},
  ): void {
    const slot = slotOf(purpose, email, opts.account);
    const p = this.pending.get(slot);
    if (!p || p.expiresAt <= now) throw new RpcError('AUTH_OTP_INVALID');
    if (p.attempts >= OTP_MAX_ATTEMPTS) throw new RpcError('AUTH_OTP_LOCKED');
    if (!timingSafeEqual(p.mac, this.mac(slot, code))) {
      p.attempts++;
      throw new RpcError(p.attempts >= OTP_MAX_ATTEMPTS ? 'AUTH_OTP_LOCKED' : 'AUTH_OTP_INVALID');
    }
    if (!opts.keep) this.pending.delete(slot);
  }

  private purge(now: number): void {
    for (const [k, p] of this.pending) if (p.expiresAt <= now) this.pending.delete(k);
    for (const [k, t] of this.sends) if (t.every((x) => x <= now - 3600)) this.sends.delete(k);
  }
}
