/**
 * Availability attack review (SECURITY.md, "Availability: attack review"): the enclave's store of
 * passkey challenges and SIWE nonces, which anyone may fill (GET /auth/siwe/nonce and
 * POST /auth/passkeys/login/options need no token). Full of live challenges, it refused every new
 * one (AUTH_BUSY: every passkey and SIWE ceremony of every user) and each refused call scanned
 * the whole map. Now it forgets the oldest, in constant work, and a forgotten challenge is never
 * accepted. Counts, not times: the map's iterations are counted.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ChallengeStore } from '../../src/enclave/auth/challenges.js';

/** A Map that counts the entries its iterators hand out. */
class CountingMap<K, V> extends Map<K, V> {
  visited = 0;
  override [Symbol.iterator](): MapIterator<[K, V]> {
    return this.counted(super[Symbol.iterator]());
  }
  override entries(): MapIterator<[K, V]> {
    return this.counted(super.entries());
  }
  override keys(): MapIterator<K> {
    return this.counted(super.keys());
  }
  private counted<T>(it: MapIterator<T>): MapIterator<T> {
    const next = it.next.bind(it);
    it.next = () => {
      const r = next();
      if (!r.done) this.visited++;
      return r;
    };
    return it;
  }
}

describe('challenge store flood', () => {
  it('full of live challenges, a new one is issued and the oldest forgotten', () => {
    const store = new ChallengeStore(3);
    const now = 1000;
    const [a, b, c] = [0, 1, 2].map(() => store.issue(now, 300).value);
    // The attacker's fourth: before, AUTH_BUSY for everyone until one expired.
    const d = store.issue(now, 300).value;
    assert.equal(store.size, 3);
    assert.equal(store.take(a!, now), false, 'the oldest is forgotten, never accepted');
    for (const v of [b, c, d]) assert.equal(store.take(v!, now), true);
  });

  it('a full store costs one step per new challenge, not a scan', () => {
    const max = 1000;
    const store = new ChallengeStore(max);
    const counting = new CountingMap<string, { exp: number; tag: string }>();
    (store as unknown as { live: Map<string, unknown> }).live = counting;
    for (let i = 0; i < max; i++) store.issue(1000, 300);
    counting.visited = 0;
    for (let i = 0; i < 100; i++) store.issue(1000, 300, 'login');
    assert.ok(counting.visited <= 100, `visited ${counting.visited} entries for 100 issues`);
    assert.equal(store.size, max);
  });
});
