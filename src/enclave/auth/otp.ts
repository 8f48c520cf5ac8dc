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

/** Sets `key` as the newest entry of `map`, forgetting the oldest one when it is full. */
function renew<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  if (map.size >= MAX_ADDRESSES) map.delete(map.keys().next().value!);
  map.set(key, value);
}

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
    recent.push(now);
    // Full, each map forgets its least recently started entry (re-inserted, so that is its first
    // key): refusing instead (AUTH_BUSY) let anyone who started codes for MAX_ADDRESSES
    // addresses refuse every code for an hour, and each refusal scanned both maps. A forgotten
    // code fails its verify (the user asks again); a forgotten send count lets that address get
    // more mail only after MAX_ADDRESSES others were started since.
    renew(this.sends, email, recent);
    const code = randomInt(0, 1_000_000).toString().padStart(6, '0');
    renew(this.pending, slot, {
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
}
