/**
 * One sealed-keyring lifecycle for every purpose (enclave/keyring/keyring-slot.ts, purposes.ts):
 * activate only the generation AND the exact blob prepared, a blob of one purpose never loads as
 * another, a rotated keyring survives a restart, the shared rotation rule, and the sealed
 * container's documented test vector (docs/protocol/sealed-state.md).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { HANDLERS } from '../../src/enclave/methods/index.js';
import { rotateKeys } from '../../src/enclave/keyring/generations.js';
import { unseal } from '../../src/enclave/keyring/seal.js';
import { createSimulatedPlatform } from '../../src/enclave/platform/simulated.js';
import { utf8 } from '../../src/protocol/encoding.js';
import { testEnclave, type TestEnclave } from '../helpers/enclave-state.js';

interface Lifecycle {
  /** Brings a fresh enclave to where this purpose's keyring exists; returns its sealed blob. */
  create(t: TestEnclave): Promise<string>;
  /** Loads a stored blob into a fresh enclave that shares the platform. */
  load(t: TestEnclave, sealed: string): Promise<unknown>;
  prepare(t: TestEnclave): Promise<{ sealed: string; generation: number }>;
  activate(t: TestEnclave, p: { sealed: string; generation: number }): Promise<unknown>;
  /** The public view that must survive sealing. */
  view(t: TestEnclave): Promise<unknown>;
}

const credential: Lifecycle = {
  create: async (t) => (await HANDLERS['keyring.generate'](t.state, { policy: 'signer' })).sealed,
  load: async (t, sealed) => HANDLERS['keyring.unseal'](t.state, { sealed }),
  prepare: async (t) => HANDLERS['keyring.prepare_rotation'](t.state, {}),
  activate: async (t, p) => HANDLERS['keyring.activate'](t.state, p),
  view: async (t) => t.state.keyrings.credential.active?.publicKeys(),
};

const auth: Lifecycle = {
  create: async (t) => {
    await credential.create(t);
    return (await HANDLERS['auth.init'](t.state, { sealed: null })).sealed!;
  },
  load: async (t, sealed) => HANDLERS['auth.init'](t.state, { sealed }),
  prepare: async (t) => HANDLERS['auth.prepare_rotation'](t.state, {}),
  activate: async (t, p) => HANDLERS['auth.activate'](t.state, p),
  view: async (t) => HANDLERS['auth.jwks'](t.state, {}),
};

/** A second enclave on the same platform folder and clock: the restart. */
async function restarted(t: TestEnclave, purpose: Lifecycle) {
  const r = testEnclave({ dir: t.dir });
  r.clock.now = t.clock.now;
  if (purpose === auth) await credential.create(r); // auth runs in a ready enclave
  return r;
}

for (const [name, purpose] of Object.entries({ credential, auth })) {
  describe(`${name} keyring lifecycle`, () => {
    it('activates only the prepared generation with the exact blob, then survives a restart', async () => {
      const t = testEnclave();
      const created = await purpose.create(t);
      t.clock.now += 10;
      const first = await purpose.prepare(t);
      const second = await purpose.prepare(t);
      assert.equal(first.generation, 2);
      assert.equal(second.generation, 2);
      assert.notEqual(first.sealed, second.sealed);
      await assert.rejects(purpose.activate(t, first), { code: 'GENERATION_MISMATCH' });
      await assert.rejects(purpose.activate(t, { ...second, generation: 3 }), {
        code: 'GENERATION_MISMATCH',
      });
      const before = await purpose.view(t);
      await purpose.activate(t, second);
      const after = await purpose.view(t);
      assert.notDeepEqual(after, before);
      await assert.rejects(purpose.activate(t, second), { code: 'GENERATION_MISMATCH' });

      const r = await restarted(t, purpose);
      await purpose.load(r, second.sealed);
      assert.deepEqual(await purpose.view(r), after);
      // The first keyring still loads too: the host may hold either until it stored the next.
      const r2 = await restarted(t, purpose);
      await purpose.load(r2, created);
      assert.deepEqual(await purpose.view(r2), before);
    });
  });
}

describe('keyring purposes stay apart', () => {
  it('a blob of one purpose never loads as another', async () => {
    const t = testEnclave();
    const credentialSealed = await credential.create(t);
    const authSealed = (await HANDLERS['auth.init'](t.state, { sealed: null })).sealed!;
    const r = testEnclave({ dir: t.dir });
    assert.throws(() => HANDLERS['keyring.unseal'](r.state, { sealed: authSealed }), {
      code: 'SEAL_INVALID',
    });
    assert.equal(r.state.phase, 'awaiting_keyring');
    HANDLERS['keyring.unseal'](r.state, { sealed: credentialSealed });
    assert.throws(() => HANDLERS['auth.init'](r.state, { sealed: credentialSealed }), {
      code: 'SEAL_INVALID',
    });
    assert.throws(() => HANDLERS['auth.jwks'](r.state, {}), { code: 'AUTH_NOT_READY' });
  });
});

describe('the shared rotation rule', () => {
  const key = (id: string, retiredAt: number | null) => ({ id, retiredAt });

  it('retires what is in use, keeps what is within retention, appends the fresh key', () => {
    const keys = [key('old', 100), key('recent', 900), key('current', null)];
    const next = rotateKeys(keys, key('new', null), {
      now: 1000,
      retireAt: 1000,
      retentionSeconds: 500,
    });
    assert.deepEqual(next, [key('recent', 900), key('current', 1000), key('new', null)]);
  });

  it('a later retirement time never postpones an earlier one (auth pre-publication)', () => {
    const keys = [key('signing', null), key('next', 1060)];
    const next = rotateKeys(keys, key('newest', null), {
      now: 1000,
      retireAt: 1030,
      retentionSeconds: 60,
    });
    assert.deepEqual(next, [key('signing', 1030), key('next', 1030), key('newest', null)]);
  });
});

describe('sealed container test vector (docs/protocol/sealed-state.md)', () => {
  it('the documented blob opens with the documented platform secret', () => {
    const dir = mkdtempSync(join(tmpdir(), 'seal-vector-'));
    writeFileSync(join(dir, 'platform.secret'), Buffer.alloc(32, 0x55), { mode: 0o600 });
    const codePath = join(dir, 'bundle.mjs');
    writeFileSync(codePath, 'any build: the signer policy does not depend on it');
    const platform = createSimulatedPlatform({ dir, codePath });
    const sealed =
      'eyJjaXBoZXJ0ZXh0IjoiWmR3bU9hR3FXVk5aeURFSTFXNVVXclp5MjRFelp1Yz0iLCJmb3JtYXQiOiJjbG9pc3Rlci1zZWFsZWQvdjEiLCJpZGVudGl0eSI6IjJiYmVlYzczNzc3Y2IxNDMwZDg5YWM3NWVkNjMwNTAyZjk2NTI3NTNhZGIxNGEwZTdjYTY2NTIxYmEyNjU4ZTAiLCJub25jZSI6IkRBd01EQXdNREF3TURBd00iLCJwbGF0Zm9ybSI6InNpbXVsYXRlZCIsInBvbGljeSI6InNpZ25lciJ9';
    const { plaintext, policy } = unseal(platform, sealed);
    assert.equal(policy, 'signer');
    assert.equal(utf8.decode(plaintext), '{"v":1}');
  });
});
