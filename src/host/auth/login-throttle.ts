/**
 * Per-account login backoff (seed 004 "Rate Limiting"): after N failed logins of one email the
 * account waits 2^(failures − N) seconds (capped at 15 minutes) before the next attempt, which
 * is refused before any Argon2id work. In memory by default, in Redis when REDIS_URL is set, so
 * several hosts share the counters. Emails are keyed by SHA-256, never stored as typed. A
 * success clears the counter. The per-IP limits are @fastify/rate-limit route limits (app.ts).
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
  failed(email: string): Promise<void>;
  succeeded(email: string): Promise<void>;
}

const keyOf = (email: string) =>
  `cloister-login:${createHash('sha256').update(email).digest('hex').slice(0, 32)}`;

function backoffMs(e: Entry | undefined, threshold: number, now: number): number {
  if (!e || e.failures < threshold) return 0;
  const wait = Math.min(2 ** (e.failures - threshold) * 1000, MAX_BACKOFF_MS);
  return Math.max(0, e.last + wait - now);
}

export function createLoginThrottle(threshold: number, redis?: Redis): LoginThrottle {
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
  return {
    async waitMs(email) {
      return backoffMs(entries.get(keyOf(email)), threshold, Date.now());
    },
    async failed(email) {
      const k = keyOf(email);
      const e = entries.get(k) ?? { failures: 0, last: 0 };
      entries.delete(k);
      if (entries.size >= MEMORY_MAX_KEYS) entries.delete(entries.keys().next().value!);
      entries.set(k, { failures: e.failures + 1, last: Date.now() });
    },
    async succeeded(email) {
      entries.delete(keyOf(email));
    },
  };
}
