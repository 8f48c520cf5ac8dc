/**
 * One opening path for every envelope purpose (enclave/methods/open-envelope.ts), and its one
 * release rule: a sender key is released only when the envelope did not authenticate; an envelope
 * that opened stays spent whatever failed after. Checked for credential.submit, auth.register and
 * auth.login alike, plus the plaintext size cap (which auth lacked) and a purpose that plugs in
 * with nothing but a schema.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { HANDLERS } from '../../src/enclave/methods/index.js';
import { openOnce } from '../../src/enclave/methods/open-envelope.js';
import { encryptPassword } from '../../src/client/auth/index.js';
import { noblePrimitives } from '../../src/client/noble-primitives.js';
import { base64ToBytes, bytesToBase64, utf8 } from '../../src/protocol/encoding.js';
import { sealEnvelopeV1, type EnvelopeV1 } from '../../src/protocol/envelope/v1.js';
import { testEnclave } from '../helpers/enclave-state.js';

const EMAIL = 'ada@example.com';
const PASSWORD = 'correct horse battery staple';

async function ready() {
  const t = testEnclave();
  const g = await HANDLERS['keyring.generate'](t.state, { policy: 'signer' });
  await HANDLERS['auth.init'](t.state, { sealed: null });
  const pub = base64ToBytes(g.public.credential_keys[0]!.public_key);
  const envelope = (plaintext: unknown): EnvelopeV1 =>
    sealEnvelopeV1(
      noblePrimitives,
      pub,
      typeof plaintext === 'string'
        ? utf8.encode(plaintext)
        : utf8.encode(JSON.stringify(plaintext)),
    );
  return { ...t, envelope };
}
type Ready = Awaited<ReturnType<typeof ready>>;

interface Purpose {
  /** A valid plaintext at the enclave's current time. */
  good(t: Ready): Record<string, unknown>;
  /** Sends the envelope through the RPC handler; resolves on acceptance. */
  send(t: Ready, envelope: EnvelopeV1): Promise<unknown>;
  /** A plaintext that opens but the method refuses after opening, with its code. */
  mismatch: { change: Record<string, unknown>; code: string };
}

const PURPOSES: Record<string, Purpose> = {
  'credential.submit': {
    good: (t) => ({ exchange: 'binance', apiKey: 'k', apiSecret: 's', issued_at: t.clock.now }),
    send: (t, envelope) =>
      Promise.resolve(
        HANDLERS['credential.submit'](t.state, {
          envelope,
          metadata: { exchange: 'binance', label: 'main', ttl: 600 },
        }),
      ),
    mismatch: { change: { exchange: 'okx' }, code: 'ENVELOPE_EXCHANGE_MISMATCH' },
  },
  'auth.register': {
    good: (t) => ({
      purpose: 'auth',
      action: 'register',
      email: EMAIL,
      password: PASSWORD,
      issued_at: t.clock.now,
    }),
    send: (t, envelope) =>
      Promise.resolve(HANDLERS['auth.register'](t.state, { email: EMAIL, secret: { envelope } })),
    mismatch: { change: { email: 'eve@example.com' }, code: 'AUTH_ENVELOPE_MISMATCH' },
  },
  'auth.login': {
    good: (t) => ({
      purpose: 'auth',
      action: 'login',
      email: EMAIL,
      password: PASSWORD,
      issued_at: t.clock.now,
    }),
    send: async (t, envelope) => {
      const user = await HANDLERS['auth.register'](t.state, {
        email: EMAIL,
        secret: { password: PASSWORD },
      });
      return HANDLERS['auth.login'](t.state, {
        email: EMAIL,
        secret: { envelope },
        user: { user_id: user.user_id, password_sealed: user.password_sealed, roles: [] },
      });
    },
    mismatch: { change: { action: 'register' }, code: 'AUTH_ENVELOPE_MISMATCH' },
  },
};

for (const [name, p] of Object.entries(PURPOSES)) {
  describe(`${name}: one opening path`, () => {
    it('accepts an envelope once and refuses its replay', async () => {
      const t = await ready();
      const env = t.envelope(p.good(t));
      await p.send(t, env);
      await assert.rejects(p.send(t, env), { code: 'ENVELOPE_REPLAYED' });
    });

    it('an envelope that opened stays spent when its plaintext is refused', async () => {
      const t = await ready();
      const refused: [unknown, string][] = [
        [{ ...p.good(t), ...p.mismatch.change }, p.mismatch.code],
        [{ ...p.good(t), extra: true }, 'ENVELOPE_INVALID'],
        ['not json', 'ENVELOPE_INVALID'],
        [{ ...p.good(t), issued_at: t.clock.now - 301 }, 'ENVELOPE_STALE'],
      ];
      for (const [plaintext, code] of refused) {
        const env = t.envelope(plaintext);
        await assert.rejects(p.send(t, env), { code });
        await assert.rejects(p.send(t, env), { code: 'ENVELOPE_REPLAYED' });
      }
    });

    it('refuses a plaintext over the size cap, even past the RPC schema', async () => {
      const t = await ready();
      // Valid JSON of a valid plaintext, padded with whitespace: only the cap refuses it.
      const json = JSON.stringify(p.good(t));
      const env = t.envelope(json + ' '.repeat(4097 - json.length));
      await assert.rejects(p.send(t, env), { code: 'ENVELOPE_INVALID' });
      const fits = t.envelope(json + ' '.repeat(4096 - json.length));
      await p.send(t, fits);
    });

    it('a tampered ciphertext does not spend its sender key', async () => {
      const t = await ready();
      const env = t.envelope(p.good(t));
      const ct = base64ToBytes(env.ciphertext);
      ct[0]! ^= 1;
      await assert.rejects(p.send(t, { ...env, ciphertext: bytesToBase64(ct) }), {
        code: 'ENVELOPE_INVALID',
      });
      // The forger could not burn the key: the genuine envelope with it still goes through.
      await p.send(t, env);
    });
  });
}

describe('a new purpose plugs in with a schema', () => {
  const WalletShare = z
    .object({
      purpose: z.literal('wallet_share'),
      share: z.string().max(64),
      issued_at: z.number().int(),
    })
    .strict();
  const walletShare = { schema: WalletShare, maxBytes: 256 };

  it('opens its own plaintext once and refuses another purpose', async () => {
    const t = await ready();
    const env = t.envelope({ purpose: 'wallet_share', share: 'abc', issued_at: t.clock.now });
    const opened = await openOnce(t.state, env, walletShare, (v) => v.share);
    assert.equal(opened.value, 'abc');
    await assert.rejects(
      openOnce(t.state, env, walletShare, (v) => v.share),
      { code: 'ENVELOPE_REPLAYED' },
    );
    const auth = t.envelope(PURPOSES['auth.register']!.good(t));
    await assert.rejects(
      openOnce(t.state, auth, walletShare, (v) => v.share),
      { code: 'ENVELOPE_INVALID' },
    );
  });
});

describe("the SDK's password envelope", () => {
  it('is built through the same plaintext schema the enclave parses', async () => {
    const t = await ready();
    const pub = t.state.keyrings.credential.active!.publicKeys().credential_keys[0]!.public_key;
    const env = encryptPassword(
      { action: 'register', email: '  Ada@Example.COM ', password: PASSWORD },
      pub,
      { issuedAt: t.clock.now },
    );
    // The SDK normalised the email exactly as the enclave's schema does.
    await HANDLERS['auth.register'](t.state, { email: EMAIL, secret: { envelope: env } });
    // A plaintext the enclave would refuse is refused before it is encrypted.
    assert.throws(() =>
      encryptPassword({ action: 'login', email: EMAIL, password: 'x'.repeat(1025) }, pub),
    );
  });
});
