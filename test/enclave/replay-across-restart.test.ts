/**
 * Attack review (issue 12): the replay cache lives in enclave memory, so a host that kills the
 * enclave and starts a new one on the same sealed keyring (it is the supervisor) used to be able
 * to replay an envelope dated ahead of the enclave's clock (any client clock up to
 * ENVELOPE_MAX_FUTURE_SECONDS fast): it is issued after the next boot, so the new process opened
 * it again. The rule now: a process accepts no `issued_at` before
 * `envelope_not_before = boot + ENVELOPE_MAX_FUTURE_SECONDS + 1` (ENVELOPE_BEFORE_START), the
 * first second no earlier process could have accepted (it died no later than this boot second).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HANDLERS } from '../../src/enclave/methods/index.js';
import { noblePrimitives } from '../../src/client/noble-primitives.js';
import { base64ToBytes, utf8 } from '../../src/protocol/encoding.js';
import { sealEnvelopeV1, type EnvelopeV1 } from '../../src/protocol/envelope/v1.js';
import { testEnclave, type TestEnclave } from '../helpers/enclave-state.js';

const code = (e: unknown) => (e as { code?: string }).code;

async function signer(t: TestEnclave) {
  const g = await HANDLERS['keyring.generate'](t.state, { policy: 'signer' });
  return { sealed: g.sealed, pub: base64ToBytes(g.public.credential_keys[0]!.public_key) };
}

function seal(pub: Uint8Array, issuedAt: number): EnvelopeV1 {
  return sealEnvelopeV1(
    noblePrimitives,
    pub,
    utf8.encode(
      JSON.stringify({ exchange: 'binance', apiKey: 'k', apiSecret: 's', issued_at: issuedAt }),
    ),
  );
}

const submit = (t: TestEnclave, e: EnvelopeV1) =>
  Promise.resolve(
    HANDLERS['credential.submit'](t.state, {
      envelope: e,
      metadata: { exchange: 'binance', label: 'main', ttl: 600 },
    }),
  );

describe('an opened envelope after a host-forced enclave restart', () => {
  for (const [skew, restartAfter] of [
    [20, 1],
    [30, 0], // the worst case: a client exactly ENVELOPE_MAX_FUTURE_SECONDS fast, respawned in the same second
  ] as const) {
    it(`is not opened a second time by the restarted enclave (client ${skew} s fast, restart after ${restartAfter} s)`, async () => {
      const first = testEnclave();
      const { sealed, pub } = await signer(first);
      const c = first.clock.now;
      assert.equal(first.state.config.ENVELOPE_MAX_FUTURE_SECONDS, 30);
      const env = seal(pub, c + skew);
      await submit(first, env);
      // The host kills the enclave and starts a new one on the same sealed keyring at once.
      const second = testEnclave({ dir: first.dir, bootAt: c + restartAfter });
      await HANDLERS['keyring.unseal'](second.state, { sealed });
      // main.ts serves only after the boot second; try then and through the whole window.
      for (const now of [c + restartAfter + 1, c + skew, c + skew + 30]) {
        second.clock.now = now;
        await assert.rejects(submit(second, env), (e) =>
          ['ENVELOPE_BEFORE_START', 'ENVELOPE_STALE', 'ENVELOPE_REPLAYED'].includes(code(e) ?? ''),
        );
      }
    });
  }
});

/** An enclave started at `boot` on a keyring an earlier process drew (a restart). */
async function restarted(boot: number, env: Record<string, string> = {}) {
  const first = testEnclave({ bootAt: boot - 600, env });
  const { sealed, pub } = await signer(first);
  const t = testEnclave({ dir: first.dir, bootAt: boot, env });
  await HANDLERS['keyring.unseal'](t.state, { sealed });
  return { t, pub };
}

describe('envelope_not_before (boot + ENVELOPE_MAX_FUTURE_SECONDS + 1)', () => {
  it('is published by enclave.status', async () => {
    const t = testEnclave({ bootAt: 1_700_000_000 });
    const s = await HANDLERS['enclave.status'](t.state, {});
    assert.equal(s.boot_time, 1_700_000_000);
    assert.equal(s.envelope_not_before, 1_700_000_031);
  });

  it('refuses issued_at one second before it (ENVELOPE_BEFORE_START) and accepts it exactly', async () => {
    const boot = 1_700_000_000;
    const { t, pub } = await restarted(boot);
    const notBefore = boot + 30 + 1;
    t.clock.now = boot + 1; // the first second main.ts serves in
    await assert.rejects(submit(t, seal(pub, notBefore - 1)), { code: 'ENVELOPE_BEFORE_START' });
    await assert.rejects(submit(t, seal(pub, boot)), { code: 'ENVELOPE_BEFORE_START' });
    await assert.rejects(submit(t, seal(pub, boot - 1)), { code: 'ENVELOPE_BEFORE_START' });
    const ok = await submit(t, seal(pub, notBefore));
    assert.ok(ok.session_id);
    // Later, honest envelopes dated at the enclave's clock are accepted as before.
    t.clock.now = notBefore;
    assert.ok((await submit(t, seal(pub, notBefore))).session_id);
  });

  it('is too far ahead within the boot second itself, which is why main.ts waits it out', async () => {
    const boot = 1_700_000_000;
    const { t, pub } = await restarted(boot);
    await assert.rejects(submit(t, seal(pub, boot + 31)), { code: 'ENVELOPE_STALE' });
    await assert.rejects(submit(t, seal(pub, boot + 30)), { code: 'ENVELOPE_BEFORE_START' });
  });

  it('follows ENVELOPE_MAX_FUTURE_SECONDS (0: the second after boot)', async () => {
    const boot = 1_700_000_000;
    const { t, pub } = await restarted(boot, { ENVELOPE_MAX_FUTURE_SECONDS: '0' });
    t.clock.now = boot + 1;
    await assert.rejects(submit(t, seal(pub, boot)), { code: 'ENVELOPE_BEFORE_START' });
    assert.ok((await submit(t, seal(pub, boot + 1))).session_id);
  });

  it('does not apply to a key this process drew itself: a first start, a rotation', async () => {
    const boot = 1_700_000_000;
    const t = testEnclave({ bootAt: boot });
    const { pub } = await signer(t);
    t.clock.now = boot + 1;
    // No earlier process held this key: an honest envelope is accepted at once.
    assert.ok((await submit(t, seal(pub, boot + 1))).session_id);
    const next = await HANDLERS['keyring.prepare_rotation'](t.state, {});
    const active = await HANDLERS['keyring.activate'](t.state, {
      generation: next.generation,
      sealed: next.sealed,
    });
    const rotated = active.public.credential_keys.find((k) => k.key_id === next.key_id)!;
    assert.ok((await submit(t, seal(base64ToBytes(rotated.public_key), boot + 2))).session_id);
    // The same keys in the next process are under the rule again.
    const again = testEnclave({ dir: t.dir, bootAt: boot + 10 });
    await HANDLERS['keyring.unseal'](again.state, { sealed: next.sealed });
    again.clock.now = boot + 11;
    await assert.rejects(submit(again, seal(base64ToBytes(rotated.public_key), boot + 11)), {
      code: 'ENVELOPE_BEFORE_START',
    });
  });
});
