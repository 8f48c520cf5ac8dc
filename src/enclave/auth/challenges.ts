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
  /** challenge → expiry and the purpose/account it was made for (`tag`). */
  private readonly live = new Map<string, { exp: number; tag: string }>();

  constructor(private readonly max: number) {}

  /** A fresh 96-bit challenge (24 hex digits: alphanumeric, as EIP-4361 nonces must be). */
  issue(nowSeconds: number, ttlSeconds: number, tag = ''): { value: string; expiresAt: number } {
    if (this.live.size >= this.max) this.purge(nowSeconds);
    if (this.live.size >= this.max) throw new RpcError('AUTH_BUSY');
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

  private purge(now: number): void {
    for (const [k, e] of this.live) if (e.exp <= now) this.live.delete(k);
  }
}
