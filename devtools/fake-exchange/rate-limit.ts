/**
 * Rate limiting as the real APIs do it, with limits small enough for tests to reach.
 *
 * - Binance: request weight per IP in fixed 1-minute windows aligned to the minute. Over the
 *   limit: 429 with `Retry-After` (seconds to the window's end); a client that keeps sending
 *   after `strikes` 429s is banned: 418 with `Retry-After` for `banMs` (Binance bans "from 2
 *   minutes to 3 days" and escalates; here the ban doubles on each repeat).
 * - Bybit: requests per API key per second and endpoint (`X-Bapi-Limit*` headers; retCode 10006).
 * - OKX: requests per key per 2 seconds and endpoint (HTTP 429, code 50011).
 */

export interface BinanceLimits {
  weightPerWindow: number;
  windowMs: number;
  /** 429s tolerated before a ban. */
  strikes: number;
  banMs: number;
}
export const BINANCE_DEFAULT_LIMITS: BinanceLimits = {
  weightPerWindow: 6000,
  windowMs: 60_000,
  strikes: 2,
  banMs: 120_000,
};

export type BinanceVerdict =
  | { kind: 'ok'; used: number }
  | { kind: 'limited'; used: number; retryAfterS: number }
  | { kind: 'banned'; used: number; retryAfterS: number; until: number };

interface IpState {
  windowStart: number;
  used: number;
  strikes: number;
  bannedUntil: number;
  bans: number;
}

export class BinanceWeightLimiter {
  readonly #ips = new Map<string, IpState>();
  constructor(public limits: BinanceLimits) {}

  charge(ip: string, weight: number, now: number): BinanceVerdict {
    const { windowMs, weightPerWindow } = this.limits;
    const windowStart = now - (now % windowMs);
    let s = this.#ips.get(ip);
    if (!s) {
      s = { windowStart, used: 0, strikes: 0, bannedUntil: 0, bans: 0 };
      this.#ips.set(ip, s);
    }
    if (s.windowStart !== windowStart) {
      s.windowStart = windowStart;
      s.used = 0;
    }
    if (now < s.bannedUntil) {
      return {
        kind: 'banned',
        used: s.used,
        retryAfterS: Math.ceil((s.bannedUntil - now) / 1000),
        until: s.bannedUntil,
      };
    }
    s.used += weight;
    if (s.used <= weightPerWindow) {
      if (s.bannedUntil !== 0 || s.strikes !== 0) s.strikes = 0;
      return { kind: 'ok', used: s.used };
    }
    s.strikes++;
    if (s.strikes > this.limits.strikes) {
      s.bans++;
      s.strikes = 0;
      s.bannedUntil = now + this.limits.banMs * 2 ** (s.bans - 1);
      return {
        kind: 'banned',
        used: s.used,
        retryAfterS: Math.ceil((s.bannedUntil - now) / 1000),
        until: s.bannedUntil,
      };
    }
    return {
      kind: 'limited',
      used: s.used,
      retryAfterS: Math.max(1, Math.ceil((windowStart + windowMs - now) / 1000)),
    };
  }

  reset(): void {
    this.#ips.clear();
  }
}

export interface WindowLimits {
  /** Requests per window per key and endpoint. */
  limit: number;
  windowMs: number;
}
export const BYBIT_DEFAULT_LIMITS: WindowLimits = { limit: 10, windowMs: 1000 };
export const OKX_DEFAULT_LIMITS: WindowLimits = { limit: 10, windowMs: 2000 };

export type WindowVerdict = { ok: boolean; limit: number; remaining: number; resetAt: number };

/** Fixed-window request counter per (key, endpoint). */
export class WindowLimiter {
  readonly #keys = new Map<string, { start: number; count: number }>();
  constructor(public limits: WindowLimits) {}

  take(key: string, now: number): WindowVerdict {
    const { limit, windowMs } = this.limits;
    const start = now - (now % windowMs);
    let s = this.#keys.get(key);
    if (!s || s.start !== start) {
      s = { start, count: 0 };
      this.#keys.set(key, s);
    }
    s.count++;
    return {
      ok: s.count <= limit,
      limit,
      remaining: Math.max(0, limit - s.count),
      resetAt: start + windowMs,
    };
  }

  reset(): void {
    this.#keys.clear();
  }
}
