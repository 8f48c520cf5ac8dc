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
import type { ZodType } from 'zod';
import { dispatchFrame } from '../../src/enclave/dispatcher.js';
import { HANDLERS } from '../../src/enclave/methods/index.js';
import {
  ENVELOPE_PURPOSES,
  openOnce,
  type EnvelopePurpose,
} from '../../src/enclave/methods/open-envelope.js';
import { noblePrimitives } from '../../src/client/noble-primitives.js';
import { base64ToBytes, utf8 } from '../../src/protocol/encoding.js';
import { sealEnvelopeHpke } from '../../src/protocol/envelope/hpke.js';
import { sealEnvelopeV1 } from '../../src/protocol/envelope/v1.js';
import { WALLET_SHARE_BYTES } from '../../src/protocol/wallet/constants.js';
import { seal, submit } from '../helpers/credential-submit.js';
import { testEnclave, type TestEnclave } from '../helpers/enclave-state.js';

const code = (e: unknown) => (e as { code?: string }).code;

async function signer(t: TestEnclave) {
  const g = await HANDLERS['keyring.generate'](t.state, { policy: 'signer' });
  return { sealed: g.sealed, pub: base64ToBytes(g.public.credential_keys[0]!.public_key) };
}

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

/**
 * Attack review of the keysMadeHere exemption: the host cannot make a process treat a key it
 * loaded as one it drew. Key ids are thumbprints of keys drawn at random inside the process, so
 * only a key this process generated can be on its list; each path by which a key arrives from
 * storage (unseal, reload, a rotation prepared by an earlier process) keeps the rule, and so does
 * every envelope kind and purpose (all go through openOnce).
 */
describe('the keysMadeHere exemption cannot be given to a loaded key', () => {
  const boot = 1_700_000_000;
  const pubOf = (keys: { credential_keys: { key_id: string; public_key: string }[] }, id: string) =>
    base64ToBytes(keys.credential_keys.find((k) => k.key_id === id)!.public_key);

  it('keyring.generate is refused once a keyring is held (no fresh key list over a loaded one)', async () => {
    const { t } = await restarted(boot);
    t.clock.now = boot + 1;
    const r = await dispatchFrame(t.state, {
      calls: [{ id: 1, method: 'keyring.generate', params: { policy: 'signer' } }],
    });
    assert.ok('results' in r);
    assert.equal(r.results[0]!.ok, false);
    assert.equal(t.state.keysMadeHere.size, 0);
  });

  it('a rotation prepared by an earlier process (never activated there), unsealed or reloaded here', async () => {
    const a = testEnclave({ bootAt: boot - 600 });
    const { sealed } = await signer(a);
    a.clock.now = boot - 500;
    const next = await HANDLERS['keyring.prepare_rotation'](a.state, {});
    assert.ok(a.state.keysMadeHere.has(next.key_id));
    // B, on the pending blob itself.
    const b = testEnclave({ dir: a.dir, bootAt: boot });
    const keys = await HANDLERS['keyring.unseal'](b.state, { sealed: next.sealed });
    b.clock.now = boot + 1;
    assert.equal(keys.public.current_key_id, next.key_id);
    await assert.rejects(submit(b, seal(pubOf(keys.public, next.key_id), boot + 1)), {
      code: 'ENVELOPE_BEFORE_START',
    });
    // C, on the stored generation, then reloading the newer one (a cluster member's path).
    const c = testEnclave({ dir: a.dir, bootAt: boot });
    await HANDLERS['keyring.unseal'](c.state, { sealed });
    const reloaded = await HANDLERS['keyring.reload'](c.state, { sealed: next.sealed });
    c.clock.now = boot + 1;
    await assert.rejects(submit(c, seal(pubOf(reloaded.public, next.key_id), boot + 1)), {
      code: 'ENVELOPE_BEFORE_START',
    });
    assert.equal(c.state.keysMadeHere.size, 0);
    // C's own rotation exempts only the key C drew; the loaded ones keep the rule.
    const own = await HANDLERS['keyring.prepare_rotation'](c.state, {});
    const active = await HANDLERS['keyring.activate'](c.state, {
      generation: own.generation,
      sealed: own.sealed,
    });
    assert.deepEqual([...c.state.keysMadeHere], [own.key_id]);
    assert.ok((await submit(c, seal(pubOf(active.public, own.key_id), boot + 1))).session_id);
    for (const loaded of [next.key_id, keys.public.credential_keys.at(-1)!.key_id])
      await assert.rejects(
        submit(c, { ...seal(pubOf(active.public, loaded), boot + 1), key_id: loaded }),
        { code: 'ENVELOPE_BEFORE_START' },
      );
  });

  it('every purpose and envelope kind: password (auth), wallet share, HPKE', async () => {
    const { t, pub } = await restarted(boot);
    t.clock.now = boot + 1;
    const early = boot + 1;
    const plaintexts = {
      auth: {
        purpose: 'auth',
        action: 'login',
        email: 'a@example.com',
        password: 'a long enough password',
        issued_at: early,
      },
      wallet_share: {
        purpose: 'wallet_share',
        wallet_id: '00000000-0000-4000-8000-000000000000',
        kind: 'device',
        share: Buffer.alloc(WALLET_SHARE_BYTES, 1).toString('base64'),
        binds: '00'.repeat(32),
        issued_at: early,
      },
      credential: { exchange: 'binance', apiKey: 'k', apiSecret: 's', issued_at: early },
    } as const;
    for (const [name, body] of Object.entries(plaintexts)) {
      const purpose = ENVELOPE_PURPOSES[name as keyof typeof plaintexts] as EnvelopePurpose<
        ZodType<{ issued_at: number }>
      >;
      const bytes = utf8.encode(JSON.stringify(body));
      for (const envelope of [
        sealEnvelopeV1(noblePrimitives, pub, bytes),
        await sealEnvelopeHpke('HPKE-Base-X25519-SHA256-A256GCM', pub, bytes),
      ])
        await assert.rejects(
          openOnce(t.state, envelope, purpose, () => 1),
          { code: 'ENVELOPE_BEFORE_START' },
          `${name} ${envelope.alg ?? 'v1'}`,
        );
    }
  });
});
