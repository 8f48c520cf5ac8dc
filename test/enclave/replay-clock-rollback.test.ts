/**
 * Host–enclave boundary attack review: a TEE's clock is the host's (SGX asks the untrusted OS for
 * the time). The replay cache forgets a sender key once its reservation is over (accepted at `t`,
 * kept until `t + ENVELOPE_MAX_AGE_SECONDS + ENVELOPE_MAX_FUTURE_SECONDS`), because from then on
 * the freshness rule refuses the envelope as stale. A host that waits until a later call has
 * pruned the key and then sets the clock back made the envelope fresh again, and the same process
 * opened it a second time: a new session for a credential its owner may have revoked, or a
 * second login from one password envelope. The rule's clock now never goes back in a process
 * (`state.monotonicNow`).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HANDLERS } from '../../src/enclave/methods/index.js';
import { monotonicSeconds } from '../../src/enclave/state.js';
import { base64ToBytes } from '../../src/protocol/encoding.js';
import { seal, submit } from '../helpers/credential-submit.js';
import { testEnclave } from '../helpers/enclave-state.js';

describe('the enclave clock set back after the replay cache forgot a sender key', () => {
  it("the rules' clock holds the latest second it gave, whatever the source says later", () => {
    let source = 50;
    const clock = monotonicSeconds(() => source);
    assert.equal(clock(), 50);
    source = 150;
    assert.equal(clock(), 150);
    source = 20; // the host set the clock back
    assert.equal(clock(), 150);
    source = 151;
    assert.equal(clock(), 151);
  });

  it('does not let the host open one envelope twice', async () => {
    const t = testEnclave();
    const g = await HANDLERS['keyring.generate'](t.state, { policy: 'signer' });
    const pub = base64ToBytes(g.public.credential_keys[0]!.public_key);
    const { ENVELOPE_MAX_AGE_SECONDS: age, ENVELOPE_MAX_FUTURE_SECONDS: future } = t.state.config;
    const c = t.clock.now;
    const env = seal(pub, c);
    await submit(t, env);
    await assert.rejects(submit(t, env), { code: 'ENVELOPE_REPLAYED' });
    // Past the reservation: another submission prunes the spent key.
    t.clock.now = c + age + future + 1;
    await submit(t, seal(pub, t.clock.now));
    assert.equal(t.state.replay.has(env.ephemeral_pub), false);
    // The host sets the enclave's clock back to when the envelope was fresh.
    t.clock.now = c;
    await assert.rejects(submit(t, env), { code: 'ENVELOPE_STALE' });
  });

  it('still accepts a fresh envelope dated at the latest second the rule saw', async () => {
    const t = testEnclave();
    const g = await HANDLERS['keyring.generate'](t.state, { policy: 'signer' });
    const pub = base64ToBytes(g.public.credential_keys[0]!.public_key);
    const c = t.clock.now;
    t.clock.now = c + 1000;
    await submit(t, seal(pub, t.clock.now));
    t.clock.now = c; // set back
    await submit(t, seal(pub, c + 1000)); // dated by a client with the right time: fresh
  });
});
