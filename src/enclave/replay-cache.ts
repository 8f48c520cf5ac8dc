/**
 * Ephemeral public keys the enclave has accepted, kept until their envelope is stale anyway
 * (issued_at + max age), so a replay within the freshness window is caught. It lives in enclave
 * memory only; envelopes issued before this process booted are refused as stale instead
 * (see SECURITY.md "Replay"), which closes the window a restart would otherwise open.
 *
 * A TEE's clock is the host's, and a key is forgotten once the freshness rule would refuse its
 * envelope as stale at the time of pruning; set back, the clock would make that envelope fresh
 * again. So the freshness rule counts an envelope's age on the enclave's clock that never goes
 * back within a process (`state.monotonicNow`, envelope-freshness.ts).
 */
import { RpcError } from '../protocol/rpc/errors.js';

export class ReplayCache {
  /** key → the expiry of its current reservation. */
  private readonly seen = new Map<string, number>();
  /** expiry second → keys that expire then (a released key may still be listed: see prune). */
  private readonly buckets = new Map<number, string[]>();
  private oldestBucket = Number.POSITIVE_INFINITY;

  constructor(private readonly maxEntries: number) {}

  get size(): number {
    return this.seen.size;
  }

  has(key: string): boolean {
    return this.seen.has(key);
  }

  /** Records `key` until `expiresAt`; false if it was already present. */
  add(key: string, expiresAt: number, now: number): boolean {
    this.prune(now);
    if (this.seen.has(key)) return false;
    // Fail closed rather than forget: a full cache refuses new envelopes.
    if (this.seen.size >= this.maxEntries) throw new RpcError('INTERNAL');
    this.seen.set(key, expiresAt);
    const bucket = this.buckets.get(expiresAt);
    if (bucket) bucket.push(key);
    else this.buckets.set(expiresAt, [key]);
    if (expiresAt < this.oldestBucket) this.oldestBucket = expiresAt;
    return true;
  }

  delete(key: string): void {
    this.seen.delete(key);
  }

  private prune(now: number): void {
    if (this.oldestBucket >= now) return;
    let oldest = Number.POSITIVE_INFINITY;
    for (const [expiry, keys] of this.buckets) {
      if (expiry < now) {
        // Only a reservation that is still this one: a key released and spent again since
        // (openOnce's release rule) lives until its new expiry.
        for (const k of keys) if (this.seen.get(k) === expiry) this.seen.delete(k);
        this.buckets.delete(expiry);
      } else if (expiry < oldest) {
        oldest = expiry;
      }
    }
    this.oldestBucket = oldest;
  }
}
