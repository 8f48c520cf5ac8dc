/**
 * Mutants that survived the first StrykerJS run over src/enclave (docs/mutation-testing.md) and
 * were real holes: each test fails when its check is removed or its boundary moved. Through the
 * real dispatcher on an in-process enclave, as in enclave-rules.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CryptoHelper, encryptPassword } from '../../src/client/index.js';
import { dispatchFrame } from '../../src/enclave/dispatcher.js';
import type { Result } from '../../src/protocol/rpc/frame.js';
import { testEnclave } from '../helpers/enclave-state.js';
import { ok, code, type Answer } from './rpc.js';

async function readyEnclave() {
  const t = testEnclave();
  const g = await ok(t, 'keyring.generate', { policy: 'signer' });
  return { t, pub: g.public.credential_keys[0]!.public_key, keyId: g.public.current_key_id };
}

const creds = { exchange: 'binance' as const, apiKey: 'k', apiSecret: 's' };
const metadata = { exchange: 'binance', label: 'main', ttl: 600 };
const PASSWORD = 'correct horse battery staple';

describe('dispatcher', () => {
  it('a non-RPC error becomes INTERNAL, whatever code or message it carries', async () => {
    const { t } = await readyEnclave();
    const canary = 'canary-0f3d';
    // The platform fails with an error that looks like an envelope error.
    (t.state as { platform: unknown }).platform = Object.create(t.state.platform, {
      evidence: {
        value: () => {
          throw Object.assign(new Error(`device said ${canary}`), { code: 'ENVELOPE_STALE' });
        },
      },
    });
    const frame = await dispatchFrame(t.state, {
      calls: [{ id: 1, method: 'attestation.get', params: { nonce: 'abcdefghijklmnop' } }],
    });
    assert.ok(!JSON.stringify(frame).includes(canary));
    assert.equal(
      ((frame as { results: Answer[] }).results[0] as { error: { code: string } }).error.code,
      'INTERNAL',
    );
  });

  it('a detached method (Argon2id) answers through detach, not in its frame', async () => {
    const { t } = await readyEnclave();
    await ok(t, 'auth.init', { sealed: null });
    const detached: Result[] = [];
    let done: () => void;
    const arrived = new Promise<void>((r) => (done = r));
    const frame = await dispatchFrame(
      t.state,
      {
        calls: [
          {
            id: 1,
            method: 'auth.register',
            params: { email: 'd@example.test', secret: { password: PASSWORD } },
          },
          { id: 2, method: 'enclave.status', params: {} },
        ],
      },
      (r) => {
        detached.push(r);
        done();
      },
    );
    assert.deepEqual(
      (frame as { results: Result[] }).results.map((r) => r.id),
      [2],
    );
    await arrived;
    assert.deepEqual(
      detached.map((r) => [r.id, r.ok]),
      [[1, true]],
    );
    // Without a detach callback, the same method answers inline.
    const inline = await dispatchFrame(t.state, {
      calls: [
        {
          id: 3,
          method: 'auth.register',
          params: { email: 'e@example.test', secret: { password: PASSWORD } },
        },
      ],
    });
    assert.deepEqual(
      (inline as { results: Result[] }).results.map((r) => [r.id, r.ok]),
      [[3, true]],
    );
  });
});

describe('attestation binds the JWT keys', () => {
  it('signing_keys.jwt lists the published JWT kids once the auth keyring is loaded', async () => {
    const { t } = await readyEnclave();
    const nonce = { nonce: 'abcdefghijklmnop' };
    const before = await ok(t, 'attestation.get', nonce);
    assert.equal(before.signing_keys.jwt, undefined);
    const keys = await ok(t, 'auth.init', { sealed: null });
    const after = await ok(t, 'attestation.get', nonce);
    assert.deepEqual(
      after.signing_keys.jwt,
      keys.keys.map((k) => k.kid),
    );
    assert.ok(after.signing_keys.jwt!.length > 0);
    assert.notEqual(after.report_data, before.report_data, 'the kids are in the report data');
  });
});

describe('passwords', () => {
  it('refuses a password shorter than the minimum, typed or in an envelope', async () => {
    const { t, pub, keyId } = await readyEnclave();
    await ok(t, 'auth.init', { sealed: null });
    const email = 'short@example.test';
    assert.equal(
      await code(t, 'auth.register', { email, secret: { password: 'elevenchars' } }),
      'AUTH_PASSWORD_TOO_SHORT',
    );
    const envelope = encryptPassword({ action: 'register', email, password: 'elevenchars' }, pub, {
      keyId,
      issuedAt: t.clock.now,
    });
    assert.equal(
      await code(t, 'auth.register', { email, secret: { envelope } }),
      'AUTH_PASSWORD_TOO_SHORT',
    );
    assert.equal(
      await code(t, 'auth.register', { email, secret: { password: 'twelve chars' } }),
      'ok',
    );
  });
});

describe('keyring.activate takes exactly the prepared blob', () => {
  it('refuses without a prepared rotation, with another generation, or with another blob', async () => {
    const { t } = await readyEnclave();
    const g = await ok(t, 'keyring.generate', { policy: 'signer' }).catch(() => null);
    assert.equal(g, null, 'generate is refused once ready (phase)');
    const a = await ok(t, 'keyring.prepare_rotation', {});
    const b = await ok(t, 'keyring.prepare_rotation', {});
    assert.equal(a.generation, b.generation);
    assert.notEqual(a.sealed, b.sealed);
    // A blob the host may not have stored (an earlier prepare): refused.
    assert.equal(
      await code(t, 'keyring.activate', { generation: a.generation, sealed: a.sealed }),
      'GENERATION_MISMATCH',
    );
    // The right blob, the wrong generation: refused.
    assert.equal(
      await code(t, 'keyring.activate', { generation: b.generation + 1, sealed: b.sealed }),
      'GENERATION_MISMATCH',
    );
    const activated = await ok(t, 'keyring.activate', {
      generation: b.generation,
      sealed: b.sealed,
    });
    assert.equal(activated.public.current_key_id, b.key_id);
    // Nothing is pending any more: the same call again is refused.
    assert.equal(
      await code(t, 'keyring.activate', { generation: b.generation, sealed: b.sealed }),
      'GENERATION_MISMATCH',
    );
  });

  it('refuses activation when nothing was ever prepared', async () => {
    const { t } = await readyEnclave();
    const sealed = Buffer.from('not a prepared blob').toString('base64');
    assert.equal(
      await code(t, 'keyring.activate', { generation: 2, sealed }),
      'GENERATION_MISMATCH',
    );
  });
});

describe('submit boundaries', () => {
  it('a retired key opens envelopes issued up to its retirement + the future allowance, not later', async () => {
    const { t, pub, keyId } = await readyEnclave();
    const { ENVELOPE_MAX_FUTURE_SECONDS: future } = t.state.config;
    const retiredAt = t.clock.now;
    const b = await ok(t, 'keyring.prepare_rotation', {});
    await ok(t, 'keyring.activate', { generation: b.generation, sealed: b.sealed });
    t.clock.now = retiredAt + future;
    const at = (issuedAt: number) =>
      CryptoHelper.encryptCredentials(creds, pub, { issuedAt, keyId });
    assert.equal(
      await code(t, 'credential.submit', { envelope: await at(retiredAt + future), metadata }),
      'ok',
    );
    assert.equal(
      await code(t, 'credential.submit', { envelope: await at(retiredAt + future + 1), metadata }),
      'ENVELOPE_UNKNOWN_KEY',
    );
  });

  it('a submitted envelope stays spent for its whole freshness window', async () => {
    const { t, pub } = await readyEnclave();
    const { ENVELOPE_MAX_AGE_SECONDS: age, ENVELOPE_MAX_FUTURE_SECONDS: future } = t.state.config;
    // Issued as far ahead as allowed, it is fresh until now + future + age.
    const envelope = await CryptoHelper.encryptCredentials(creds, pub, {
      issuedAt: t.clock.now + future,
    });
    assert.equal(await code(t, 'credential.submit', { envelope, metadata }), 'ok');
    t.clock.now += future + age;
    assert.equal(await code(t, 'credential.submit', { envelope, metadata }), 'ENVELOPE_REPLAYED');
  });

  it('a TTL exactly at the enclave ceiling is accepted', async () => {
    const { t, pub } = await readyEnclave();
    const max = t.state.config.ENCLAVE_MAX_TTL_SECONDS;
    const env = () => CryptoHelper.encryptCredentials(creds, pub, { issuedAt: t.clock.now });
    assert.equal(
      await code(t, 'credential.submit', {
        envelope: await env(),
        metadata: { ...metadata, ttl: max },
      }),
      'ok',
    );
    assert.equal(
      await code(t, 'credential.submit', {
        envelope: await env(),
        metadata: { ...metadata, ttl: max + 1 },
      }),
      'TTL_TOO_LONG',
    );
  });
});

describe('aggregates.start: refusals before any exchange call', () => {
  it('refuses a forged binding and every invalid window, and polls an unknown job as unknown', async () => {
    const { t, pub } = await readyEnclave();
    const DAY = 86_400_000;
    const envelope = await CryptoHelper.encryptCredentials(creds, pub, { issuedAt: t.clock.now });
    const r = await ok(t, 'credential.submit', { envelope, metadata });
    const credential = {
      session_id: r.session_id,
      envelope,
      key_id: r.key_id,
      exchange: 'binance',
      label: 'main',
      expires_at: r.expires_at,
      binding: r.binding,
    };
    const nowMs = t.clock.now * 1000;
    const maxMs = t.state.config.AGGREGATES_MAX_WINDOW_DAYS * DAY;
    const start = (over: Record<string, unknown>) =>
      code(t, 'aggregates.start', {
        job_id: crypto.randomUUID(),
        credential,
        from: nowMs - DAY,
        to: nowMs,
        symbols: null,
        reporting_currency: 'USDT',
        subject: '00'.repeat(32),
        audience: null,
        nonce: null,
        ...over,
      });
    assert.equal(await start({ credential: { ...credential, label: 'other' } }), 'BINDING_INVALID');
    assert.equal(await start({ from: nowMs, to: nowMs }), 'AGGREGATES_WINDOW_INVALID');
    assert.equal(await start({ from: nowMs - maxMs - 1 }), 'AGGREGATES_WINDOW_INVALID');
    assert.equal(
      await start({ from: nowMs, to: nowMs + 60_001 }),
      'AGGREGATES_WINDOW_INVALID',
      'a window ending more than a minute in the future',
    );
    const unknown = crypto.randomUUID();
    const polled = await ok(t, 'aggregates.poll', { job_ids: [unknown], ack: [] });
    assert.deepEqual(polled.jobs, [{ job_id: unknown, state: 'unknown' }]);
  });
});
