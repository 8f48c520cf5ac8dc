/**
 * Single-use, expiring challenges the enclave makes and remembers itself (SIWE nonces; the same
 * store serves any later challenge kind). The host only carries them: it cannot make one the
 * enclave will accept, nor use one twice. In memory: a restart forgets them all, which only
 * makes a client ask again. Bounded: when full of live entries new ones are refused (AUTH_BUSY)
 * rather than evicting live ones an attacker could flush out.
 */
import { randomBytes } from 'node:crypto';
import { RpcError } from '../../protocol/rpc/errors.js';

export class ChallengeStore {
  private readonly live = new Map<string, number>();

  constructor(private readonly max: number) {}

  /** A fresh 96-bit challenge (24 hex digits: alphanumeric, as EIP-4361 nonces must be). */
  issue(nowSeconds: number, ttlSeconds: number): { value: string; expiresAt: number } {
    if (this.live.size >= this.max) this.purge(nowSeconds);
    if (this.live.size >= this.max) throw new RpcError('AUTH_BUSY');
    const value = randomBytes(12).toString('hex');
    const expiresAt = nowSeconds + ttlSeconds;
    this.live.set(value, expiresAt);
    return { value, expiresAt };
  }

  /** True once for a live challenge; it is gone afterwards, whatever the caller decides. */
  take(value: string, nowSeconds: number): boolean {
    const exp = this.live.get(value);
    if (exp === undefined) return false;
    this.live.delete(value);
    return exp > nowSeconds;
  }

  get size(): number {
    return this.live.size;
  }

  private purge(now: number): void {
    for (const [k, exp] of this.live) if (exp <= now) this.live.delete(k);
  }
}
