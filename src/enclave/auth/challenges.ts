/**
 * Single-use, expiring challenges the enclave makes and remembers itself (SIWE nonces; the same
 * store serves any later challenge kind). The host only carries them: it cannot make one the
 * enclave will accept, nor use one twice. In memory: a restart forgets them all, which only
 * makes a client ask again. Bounded: when full, the oldest challenge is forgotten (an expired
 * one, or else the one closest to expiry). Refusing new ones instead let anyone holding `max`
 * live challenges (unauthenticated, a few hundred a second over many addresses) refuse every
 * passkey and SIWE ceremony, and made each refused call scan the whole map; forgetting the oldest
 * only fails a ceremony that `max` newer challenges were issued during, which its client retries.
 * A challenge forgotten is never accepted, so nothing can be replayed.
 */
import { randomBytes } from 'node:crypto';

export class ChallengeStore {
  /** challenge → expiry and the purpose/account it was made for (`tag`). */
  private readonly live = new Map<string, { exp: number; tag: string }>();

  constructor(private readonly max: number) {}

  /** A fresh 96-bit challenge (24 hex digits: alphanumeric, as EIP-4361 nonces must be). */
  issue(nowSeconds: number, ttlSeconds: number, tag = ''): { value: string; expiresAt: number } {
    // Insertion order is issue order: the first key is the oldest challenge.
    if (this.live.size >= this.max) this.live.delete(this.live.keys().next().value!);
    const value = randomBytes(12).toString('hex');
    const expiresAt = nowSeconds + ttlSeconds;
    this.live.set(value, { exp: expiresAt, tag });
    return { value, expiresAt };
  }

  /** True once for a live challenge; it is gone afterwards, whatever the caller decides. */
  take(value: string, nowSeconds: number, tag = ''): boolean {
    const entry = this.live.get(value);
    if (entry === undefined) return false;
    this.live.delete(value);
    return entry.exp > nowSeconds && entry.tag === tag;
  }

  get size(): number {
    return this.live.size;
  }
}
