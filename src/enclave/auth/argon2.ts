/**
 * Argon2id password hashing (RFC 9106) through @node-rs/argon2, a native addon that runs on the
 * libuv threadpool (research/perf-limits.md §1b: the fastest of the measured libraries). Hashes
 * are PHC strings (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`), so they record their parameters and
 * can be raised later: `needsRehash` compares them with the configured ones.
 *
 * Every hash and verify goes through the bounded queue. A verify of a user that does not exist
 * runs against a dummy hash made with the same parameters, so an unknown email costs exactly
 * one Argon2id verify, like a wrong password (the `calls` counter lets tests prove it).
 */
import { randomBytes } from 'node:crypto';
import { hash, parseOptions, verify } from '@node-rs/argon2';
import type { AuthEnclaveConfig } from './config.js';
import { BoundedQueue } from './queue.js';

/** `Algorithm.Argon2id` of the addon (a `const enum`, which isolated modules cannot import). */
const ARGON2ID = 2;

export interface Argon2Params {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

export function argon2ParamsFrom(c: AuthEnclaveConfig): Argon2Params {
  return {
    memoryCost: c.AUTH_ARGON2_MEMORY_KIB,
    timeCost: c.AUTH_ARGON2_TIME_COST,
    parallelism: c.AUTH_ARGON2_PARALLELISM,
  };
}

export class PasswordHasher {
  private readonly queue: BoundedQueue;
  private dummy: Promise<string> | null = null;
  /** How many Argon2id computations ran (hash + verify), for the structural timing test. */
  readonly calls = { hash: 0, verify: 0 };

  constructor(
    private readonly params: Argon2Params,
    concurrency: number,
    maxWaiting: number,
  ) {
    this.queue = new BoundedQueue(concurrency, maxWaiting);
  }

  get queueStats(): { running: number; waiting: number } {
    return this.queue.stats;
  }

  hash(password: string): Promise<string> {
    return this.queue.run(() => {
      this.calls.hash++;
      return hash(password, { ...this.params, algorithm: ARGON2ID, outputLen: 32 });
    });
  }

  /** Constant-time inside the addon (it compares the derived tag in constant time). */
  verify(phc: string, password: string): Promise<boolean> {
    return this.queue.run(async () => {
      this.calls.verify++;
      try {
        return await verify(phc, password);
      } catch {
        return false;
      }
    });
  }

  /** Made once at start (outside the counters), so the first unknown email costs no extra hash. */
  warmUp(): Promise<string> {
    this.dummy ??= hash(randomBytes(32), { ...this.params, algorithm: ARGON2ID, outputLen: 32 });
    return this.dummy;
  }

  /** The same work as a real verify, against a hash no password is known for. */
  async verifyDummy(password: string): Promise<false> {
    await this.verify(await this.warmUp(), password);
    return false;
  }

  needsRehash(phc: string): boolean {
    try {
      const o = parseOptions(phc);
      return (
        o.algorithm !== ARGON2ID ||
        o.memoryCost < this.params.memoryCost ||
        o.timeCost < this.params.timeCost ||
        o.parallelism !== this.params.parallelism
      );
    } catch {
      return true;
    }
  }
}
