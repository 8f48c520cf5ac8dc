/**
 * The enclave's envelope rules at submit time, with a controlled clock: replay, freshness
 * window, "issued before boot", exchange mismatch, TTL ceiling; and verify_stored's binding and
 * expiry checks. Each rule has a passing neighbour so the test can tell the rule from noise.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HANDLERS } from '../../src/enclave/methods/index.js';
import { CryptoHelper, type ExchangeCredentials } from '../../src/client/index.js';
import { testEnclave } from '../helpers/enclave-state.js';

const creds: ExchangeCredentials = { exchange: 'binance', apiKey: 'k', apiSecret: 's' };
const meta: { exchange: 'binance' | 'okx'; label: string; ttl: number } = {
  exchange: 'binance',
  label: 'main',
  ttl: 600,
};

function ready() {
  const t = testEnclave();
  const g = HANDLERS['keyring.generate'](t.state, { policy: 'signer' }) as {
    public: { current_key_id: string; credential_keys: { public_key: string }[] };
  };
  return { ...t, pub: g.public.credential_keys[0]!.public_key, keyId: g.public.current_key_id };
}

const submit = (t: ReturnType<typeof ready>, envelope: unknown, metadata = meta) =>
  Promise.resolve(
    HANDLERS['credential.submit'](t.state, { envelope: envelope as never, metadata }),
  );

describe('credential.submit rules', () => {
  it('accepts a fresh envelope once and refuses its replay', async () => {
    const t = ready();
    const env = await CryptoHelper.encryptCredentials(creds, t.pub, { issuedAt: t.clock.now });
    const r = await submit(t, env);
    assert.equal(r.expires_at, t.clock.now + 600);
    await assert.rejects(submit(t, env), { code: 'ENVELOPE_REPLAYED' });
  });

  it('binds no longer a lifetime than the ttl sealed in the envelope', async () => {
    const t = ready();
    const sealed = (ttl?: number) =>
      CryptoHelper.encryptCredentials(creds, t.pub, {
        issuedAt: t.clock.now,
        ...(ttl !== undefined ? { ttl } : {}),
      });
    // The host forwards a longer ttl than the client sealed: the sealed one is bound.
    const longer = await submit(t, await sealed(600), { ...meta, ttl: 3600 });
    assert.equal(longer.expires_at, t.clock.now + 600);
    // A shorter one (the host may always end a session early) and none sealed (older clients).
    const shorter = await submit(t, await sealed(3600), { ...meta, ttl: 600 });
    assert.equal(shorter.expires_at, t.clock.now + 600);
    const none = await submit(t, await sealed(), { ...meta, ttl: 3600 });
    assert.equal(none.expires_at, t.clock.now + 3600);
  });

  it('enforces the freshness window and the boot time', async () => {
    const t = ready();
    t.clock.now += 1000; // the enclave has been up for a while
    const at = (issuedAt: number) => CryptoHelper.encryptCredentials(creds, t.pub, { issuedAt });
    await submit(t, await at(t.clock.now - 300));
    await assert.rejects(submit(t, await at(t.clock.now - 301)), { code: 'ENVELOPE_STALE' });
    await submit(t, await at(t.clock.now + 30));
    await assert.rejects(submit(t, await at(t.clock.now + 31)), { code: 'ENVELOPE_STALE' });
    // Issued before this enclave process booted, on a keyring an earlier process held (its
    // replay cache cannot know what that one opened), yet fresh by the window: 11 s old on an
    // enclave up for 10 s, so only the start rule refuses it.
    const earlier = testEnclave();
    const { sealed } = HANDLERS['keyring.generate'](earlier.state, { policy: 'signer' }) as {
      sealed: string;
    };
    const restarted = testEnclave({ dir: earlier.dir });
    const unsealed = HANDLERS['keyring.unseal'](restarted.state, { sealed }) as {
      public: { current_key_id: string; credential_keys: { public_key: string }[] };
    };
    const young = {
      ...restarted,
      pub: unsealed.public.credential_keys[0]!.public_key,
      keyId: unsealed.public.current_key_id,
    };
    young.clock.now = young.state.bootTime + 10;
    const preBoot = await CryptoHelper.encryptCredentials(creds, young.pub, {
      issuedAt: young.state.bootTime - 1,
    });
    await assert.rejects(submit(young, preBoot), { code: 'ENVELOPE_BEFORE_START' });
  });

  it('an envelope that opened stays spent even when refused (release rule)', async () => {
    const t = ready();
    const env = await CryptoHelper.encryptCredentials(creds, t.pub, { issuedAt: t.clock.now });
    await assert.rejects(submit(t, env, { ...meta, exchange: 'okx' }), {
      code: 'ENVELOPE_EXCHANGE_MISMATCH',
    });
    // Resubmitting with other metadata would let the host probe the content: refused.
    await assert.rejects(submit(t, env), { code: 'ENVELOPE_REPLAYED' });
  });

  it('refuses a TTL above the enclave ceiling', async () => {
    const t = ready();
    const env = await CryptoHelper.encryptCredentials(creds, t.pub, { issuedAt: t.clock.now });
    await assert.rejects(submit(t, env, { ...meta, ttl: 604801 }), { code: 'TTL_TOO_LONG' });
  });
});

describe('credential.verify_stored', () => {
  it('checks the binding, the expiry and the content', async () => {
    const t = ready();
    const envelope = await CryptoHelper.encryptCredentials(creds, t.pub, { issuedAt: t.clock.now });
    const r = await submit(t, envelope);
    const stored = {
      session_id: r.session_id,
      envelope,
      key_id: r.key_id,
      exchange: 'binance' as const,
      label: 'main',
      expires_at: r.expires_at,
      binding: r.binding,
    };
    const verify = (p: typeof stored) =>
      Promise.resolve(HANDLERS['credential.verify_stored'](t.state, p));
    assert.equal((await verify(stored)).envelope_digest, r.envelope_digest);
    await assert.rejects(verify({ ...stored, expires_at: r.expires_at + 3600 }), {
      code: 'BINDING_INVALID',
    });
    await assert.rejects(verify({ ...stored, label: 'other' }), { code: 'BINDING_INVALID' });
    await assert.rejects(verify({ ...stored, session_id: crypto.randomUUID() }), {
      code: 'BINDING_INVALID',
    });
    const other = await CryptoHelper.encryptCredentials(creds, t.pub, { issuedAt: t.clock.now });
    await assert.rejects(verify({ ...stored, envelope: other }), { code: 'BINDING_INVALID' });
    t.clock.now = r.expires_at;
    await assert.rejects(verify(stored), { code: 'CREDENTIAL_EXPIRED' });
  });
});

describe('credential keys across rotation', () => {
  it('a retired key opens envelopes made before its retirement, never newer ones', async () => {
    const t = ready();
    const prepared = HANDLERS['keyring.prepare_rotation'](t.state, {}) as {
      sealed: string;
      generation: number;
    };
    const old = { keyId: t.keyId };
    const before = await CryptoHelper.encryptCredentials(creds, t.pub, {
      ...old,
      issuedAt: t.clock.now,
    });
    HANDLERS['keyring.activate'](t.state, prepared);
    t.clock.now += 60;
    // Made before the rotation, submitted after: still accepted.
    assert.ok((await submit(t, before)).session_id);
    // Made with the old key after its retirement (a stale attestation): refused.
    const after = await CryptoHelper.encryptCredentials(creds, t.pub, {
      ...old,
      issuedAt: t.clock.now,
    });
    await assert.rejects(submit(t, after), { code: 'ENVELOPE_UNKNOWN_KEY' });
  });

  it('activates only the keyring whose sealed blob the host stored', () => {
    const t = ready();
    const first = HANDLERS['keyring.prepare_rotation'](t.state, {}) as {
      sealed: string;
      generation: number;
    };
    const second = HANDLERS['keyring.prepare_rotation'](t.state, {}) as {
      sealed: string;
      generation: number;
    };
    assert.equal(first.generation, second.generation);
    assert.notEqual(first.sealed, second.sealed);
    // The host stored `first`, but the enclave now holds `second` as pending: refuse.
    assert.throws(() => HANDLERS['keyring.activate'](t.state, first), {
      code: 'GENERATION_MISMATCH',
    });
    const active = HANDLERS['keyring.activate'](t.state, second) as {
      public: { generation: number };
    };
    assert.equal(active.public.generation, second.generation);
  });
});
