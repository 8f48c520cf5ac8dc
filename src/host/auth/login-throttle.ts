/**
 * Per-account login backoff (seed 004 "Rate Limiting"): after N failed logins of one email the
 * account waits 2^(failures − N) seconds (capped at 15 minutes) before the next attempt, which
 * is refused before any Argon2id work. An attempt is counted as a failure when it is admitted,
 * before the enclave checks the password, in the same atomic step as the check (`begin`), so
 * parallel guesses cannot all pass the check while none has been recorded yet. A success clears
 * the counter; an attempt that failed for another reason than the password is refunded. In
 * memory by default, in Redis when REDIS_URL is set (one Lua script, atomic across hosts), so
 * several hosts share the counters. Emails are keyed by SHA-256, never stored as typed. The
 * per-IP limits are @fastify/rate-limit route limits (app.ts).
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

const MAX_BACKOFF_MS = 15 * 60_000;
const MEMORY_MAX_KEYS = 100_000;

interface Entry {
  failures: number;
  last: number;
}

export interface LoginThrottle {
  /** Milliseconds until the account may try again (0 = now). */
  waitMs(email: string): Promise<number>;
  /**
   * Check and count in one atomic step: the wait in ms if the account must wait (the attempt
   * is refused and not counted), else 0 and the attempt is counted as a failure until
   * `succeeded` clears it or `refund` gives it back.
   */
  begin(email: string): Promise<number>;
  /** Gives back one attempt counted by `begin` that was not a wrong password (enclave error). */
  refund(email: string): Promise<void>;
  failed(email: string): Promise<void>;
  succeeded(email: string): Promise<void>;
}

// KEYS[1] the account; ARGV: now (ms), threshold, max backoff (ms), TTL (ms). Same rule as
// backoffMs; returns the wait, or 0 after counting the attempt.
const BEGIN_SCRIPT = `
local f = tonumber(redis.call('HGET', KEYS[1], 'failures') or '0')
local now = tonumber(ARGV[1])
local threshold = tonumber(ARGV[2])
if f >= threshold then
  local last = tonumber(redis.call('HGET', KEYS[1], 'last') or '0')
  local wait = math.min(2 ^ (f - threshold) * 1000, tonumber(ARGV[3]))
  local left = last + wait - now
  if left > 0 then return math.ceil(left) end
end
redis.call('HINCRBY', KEYS[1], 'failures', 1)
redis.call('HSET', KEYS[1], 'last', now)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 0
`;
// Decrements only a counter that exists and is positive (a success may have cleared it).
const REFUND_SCRIPT = `
local f = tonumber(redis.call('HGET', KEYS[1], 'failures') or '0')
if f > 0 then redis.call('HINCRBY', KEYS[1], 'failures', -1) end
return 0
`;

const keyOf = (email: string) =>
  `cloister-login:${createHash('sha256').update(email).digest('hex').slice(0, 32)}`;

function backoffMs(e: Entry | undefined, threshold: number, now: number): number {
  if (!e || e.failures < threshold) return 0;
  const wait = Math.min(2 ** (e.failures - threshold) * 1000, MAX_BACKOFF_MS);
  return Math.max(0, e.last + wait - now);
}

/** `memoryMaxKeys`: how many accounts the in-memory table holds (tests use a small one). */
export function createLoginThrottle(
  threshold: number,
  redis?: Redis,
  memoryMaxKeys = MEMORY_MAX_KEYS,
): LoginThrottle {
  if (redis) {
    const ttlMs = MAX_BACKOFF_MS * 2;
    return {
      async waitMs(email) {
        const h = await redis.hgetall(keyOf(email));
        if (!h.failures) return 0;
        return backoffMs(
          { failures: Number(h.failures), last: Number(h.last) },
          threshold,
          Date.now(),
        );
      },
      async begin(email) {
        const wait = await redis.eval(
          BEGIN_SCRIPT,
          1,
          keyOf(email),
          Date.now(),
          threshold,
          MAX_BACKOFF_MS,
          ttlMs,
        );
        return Number(wait);
      },
      async refund(email) {
        await redis.eval(REFUND_SCRIPT, 1, keyOf(email));
      },
      async failed(email) {
        const k = keyOf(email);
        await redis
          .multi()
          .hincrby(k, 'failures', 1)
          .hset(k, 'last', Date.now())
          .pexpire(k, ttlMs)
          .exec();
      },
      async succeeded(email) {
        await redis.del(keyOf(email));
      },
    };
  }
  const entries = new Map<string, Entry>();
  const count = (email: string, now: number) => {
    const k = keyOf(email);
    const e = entries.get(k) ?? { failures: 0, last: 0 };
    entries.delete(k);
    if (entries.size >= memoryMaxKeys) entries.delete(entries.keys().next().value!);
    entries.set(k, { failures: e.failures + 1, last: now });
  };
  return {
    async waitMs(email) {
      return backoffMs(entries.get(keyOf(email)), threshold, Date.now());
    },
    // No await between the check and the increment: atomic on the event loop.
    async begin(email) {
      const now = Date.now();
      const wait = backoffMs(entries.get(keyOf(email)), threshold, now);
      if (wait > 0) return wait;
      count(email, now);
      return 0;
    },
    async refund(email) {
      const e = entries.get(keyOf(email));
      if (e && e.failures > 0) e.failures -= 1;
    },
    async failed(email) {
      count(email, Date.now());
    },
    async succeeded(email) {
      entries.delete(keyOf(email));
    },
  };
}
