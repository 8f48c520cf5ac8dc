/**
 * One request-weight limiter per (exchange, egress address), shared by every session and job in
 * the enclave: the exchanges count weight per IP (Binance: "The limits on the API are based on
 * the IPs, not the API keys"), and all users leave through the same egress address, so a limiter
 * per user would get the address banned.
 *
 * The limiter keeps a fixed-window weight budget of its own (aligned to the window, as Binance's
 * minute counter is), corrects it from what the exchange says it counted (`X-MBX-USED-WEIGHT-1M`,
 * `X-Bapi-Limit-Status`, …: see each exchange's profile), and blocks every caller until a
 * `Retry-After` (429/418) or reset time has passed. Time and sleep are injectable so tests never
 * wait for real.
 */
import type { Exchange } from '../../protocol/credentials.js';

export interface LimiterPolicy {
  /** Weight allowed per window (kept a little under the exchange's, to absorb other traffic). */
  capacity: number;
  windowMs: number;
}

export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** What a response's headers said about the budget (each exchange reads its own headers). */
export interface LimitObservation {
  /** Weight the exchange has counted in the current window. */
  used?: number;
  /** No request before this time (ms). */
  blockedUntil?: number;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const t = setTimeout(done, ms);
      function done() {
        signal?.removeEventListener('abort', abort);
        resolve();
      }
      function abort() {
        clearTimeout(t);
        reject(signal?.reason);
      }
      signal?.addEventListener('abort', abort, { once: true });
    }),
};

export class RateLimiter {
  #windowStart = 0;
  #used = 0;
  #blockedUntil = 0;

  constructor(
    readonly policy: LimiterPolicy,
    readonly clock: Clock = realClock,
  ) {
    if (!(policy.capacity > 0) || !(policy.windowMs > 0))
      throw new RangeError('policy: capacity and windowMs must be positive');
  }

  #roll(now: number): void {
    const start = now - (now % this.policy.windowMs);
    if (start !== this.#windowStart) {
      this.#windowStart = start;
      this.#used = 0;
    }
  }

  /** Waits until `weight` fits in the budget and no block is in force, then charges it. */
  async acquire(weight: number, signal?: AbortSignal): Promise<void> {
    const w = Math.min(weight, this.policy.capacity);
    for (;;) {
      const now = this.clock.now();
      this.#roll(now);
      if (now < this.#blockedUntil) {
        await this.clock.sleep(this.#blockedUntil - now, signal);
        continue;
      }
      if (this.#used + w <= this.policy.capacity) {
        this.#used += w;
        return;
      }
      await this.clock.sleep(this.#windowStart + this.policy.windowMs - now, signal);
    }
  }

  /** Takes the exchange's own count when it is higher than ours (other clients, other hosts). */
  observe(o: LimitObservation): void {
    const now = this.clock.now();
    this.#roll(now);
    if (o.used !== undefined && Number.isFinite(o.used) && o.used > this.#used) this.#used = o.used;
    if (o.blockedUntil !== undefined) this.blockUntil(o.blockedUntil);
  }

  /** Blocks every caller until `t` (ms): a Retry-After, a ban, a reset timestamp. */
  blockUntil(t: number): void {
    if (Number.isFinite(t) && t > this.#blockedUntil) this.#blockedUntil = t;
  }

  get blockedUntil(): number {
    return this.#blockedUntil;
  }

  get used(): number {
    this.#roll(this.clock.now());
    return this.#used;
  }
}

const shared = new Map<string, RateLimiter>();

/**
 * The process-wide limiter for (exchange, egress address): created on first use with `policy`,
 * then the same object for every session. `egress` names the address requests leave from
 * (`default` when the enclave has one).
 */
export function sharedLimiter(
  exchange: Exchange,
  egress: string,
  policy: LimiterPolicy,
  clock?: Clock,
): RateLimiter {
  const key = `${exchange}|${egress}`;
  let l = shared.get(key);
  if (!l) {
    l = new RateLimiter(policy, clock);
    shared.set(key, l);
  }
  return l;
}
