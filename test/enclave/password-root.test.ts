/**
 * The single-machine password-sealing root (state.ts `passwordKeySource`): derived once per seal
 * policy and held in the enclave's state, not derived again on every login; the same key as the
 * per-call derivation (hashes sealed before keep opening); wiped once a cluster root carries it.
 */
import assert from 'node:assert/strict';
import { hkdfSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { sealPasswordHash, unsealPasswordHash } from '../../src/enclave/auth/tokens.js';
import { passwordKeySource, type EnclaveState } from '../../src/enclave/state.js';
import type { SealPolicy } from '../../src/protocol/rpc/methods.js';
import { testEnclave } from '../helpers/enclave-state.js';

const PHC = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA';

/** Counts the platform's sealing-key derivations. */
function countDerivations(state: EnclaveState): { calls: number } {
  const counter = { calls: 0 };
  const platform = state.platform;
  const derive = platform.sealingKey.bind(platform);
  platform.sealingKey = (policy: SealPolicy) => {
    counter.calls++;
    return derive(policy);
  };
  return counter;
}

/** The derivation as it was before the root was held (one per call). */
function perCallRoot(state: EnclaveState, policy: SealPolicy): Uint8Array {
  const key = state.platform.sealingKey(policy);
  if (state.genesisPolicy === 'convert') return key;
  return new Uint8Array(
    hkdfSync('sha256', key, 'cloister/auth/password-root/fresh-only/v1', '', 32),
  );
}

describe('password-sealing root', () => {
  for (const genesisPolicy of ['convert', 'fresh-only'] as const) {
    it(`${genesisPolicy}: derived once per policy, the same key as the per-call derivation`, () => {
      const { state } = testEnclave({ genesisPolicy });
      const before = sealPasswordHash(
        { sealingKey: (p) => perCallRoot(state, p) },
        'measurement',
        'u1',
        PHC,
      );
      const counter = countDerivations(state);
      const source = passwordKeySource(state);
      for (let i = 0; i < 3; i++)
        assert.equal(unsealPasswordHash(source, 'measurement', 'u1', before), PHC);
      const again = sealPasswordHash(passwordKeySource(state), 'measurement', 'u2', PHC);
      assert.equal(unsealPasswordHash(source, 'measurement', 'u2', again), PHC);
      assert.equal(counter.calls, 1);
      // Another policy is another root; a blob sealed under one does not open under the other.
      assert.equal(unsealPasswordHash(source, 'signer', 'u1', before), null);
      assert.equal(counter.calls, 2);
      assert.equal(state.passwordRoots.size, 2);
    });
  }

  it('the copy a caller wipes is not the held root', () => {
    const { state } = testEnclave();
    const source = passwordKeySource(state);
    const first = source.sealingKey('measurement');
    const expected = Uint8Array.from(first);
    first.fill(0);
    assert.deepEqual(source.sealingKey('measurement'), expected);
  });

  it('once a cluster root carries it, the held roots are wiped and the carried key is used', () => {
    const { state } = testEnclave();
    const source = passwordKeySource(state);
    source.sealingKey('measurement');
    const held = state.passwordRoots.get('measurement')!;
    assert.ok(held.some((b) => b !== 0));
    const carried = new Uint8Array(32).fill(7);
    state.cluster = { passwordKey: carried } as unknown as EnclaveState['cluster'];
    assert.deepEqual(source.sealingKey('measurement'), carried);
    assert.ok(held.every((b) => b === 0));
    assert.equal(state.passwordRoots.size, 0);
  });
});
