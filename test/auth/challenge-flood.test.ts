/**
 * Availability attack review (SECURITY.md, "Availability: attack review"): the enclave's stores
 * that anyone may fill without a token: passkey challenges and SIWE nonces (GET /auth/siwe/nonce,
 * POST /auth/passkeys/login/options) and email codes (POST /auth/otp/start and the other mailed
 * code routes). Full of live entries, each refused every new one (AUTH_BUSY: every passkey, SIWE
 * or email-code ceremony of every user) and each refused call scanned the whole map. Now they
 * forget the oldest, in constant work, and a forgotten challenge or code is never accepted.
 * Counts, not times: the maps' iterations are counted.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ChallengeStore } from '../../src/enclave/auth/challenges.js';
import { OtpStore } from '../../src/enclave/auth/otp.js';
import { RpcError } from '../../src/protocol/rpc/errors.js';

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

describe('email code store flood', () => {
  const MAX = 100_000; // otp.ts MAX_ADDRESSES
  const codeOf = (f: () => void): string => {
    try {
      f();
      return 'ok';
    } catch (e) {
      return (e as RpcError).code;
    }
  };

  it('full, a new code is started and the oldest forgotten, in constant work', () => {
    const store = new OtpStore();
    const maps = store as unknown as { pending: Map<string, unknown>; sends: Map<string, unknown> };
    const now = 1000;
    const first = store.start('login', 'victim@example.com', now);
    for (let i = 1; i < MAX; i++) store.start('login', `a${i}@example.com`, now);
    const counting = { pending: new CountingMap(maps.pending), sends: new CountingMap(maps.sends) };
    maps.pending = counting.pending as Map<string, unknown>;
    maps.sends = counting.sends as Map<string, unknown>;
    // Before: AUTH_BUSY for every address until codes expired, after a scan of both maps.
    const codes: string[] = [];
    for (let i = 0; i < 100; i++) codes.push(store.start('login', `b${i}@example.com`, now));
    const visited = counting.pending.visited + counting.sends.visited;
    assert.ok(visited <= 200, `visited ${visited} entries for 100 codes`);
    assert.equal(counting.pending.size, MAX);
    assert.equal(counting.sends.size, MAX);
    assert.equal(
      codeOf(() => store.verify('login', 'victim@example.com', first, now)),
      'AUTH_OTP_INVALID',
      'the oldest code is forgotten, never accepted',
    );
    assert.equal(
      codeOf(() => store.verify('login', 'b99@example.com', codes[99]!, now)),
      'ok',
    );
  });

  it('the send limit per address still holds', () => {
    const store = new OtpStore();
    for (let i = 0; i < 5; i++) store.start('login', 'c@example.com', 1000 + i);
    assert.equal(
      codeOf(() => store.start('reset', 'c@example.com', 1010)),
      'AUTH_OTP_SEND_LIMIT',
    );
  });
});
