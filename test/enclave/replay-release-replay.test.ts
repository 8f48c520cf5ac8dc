/**
 * Attack review (issue 12): the release rule frees a sender key when a tampered copy did not
 * authenticate. The replay cache used to forget that key again when the *tampered copy's*
 * reservation expired, even though the genuine envelope had spent it since, with a later expiry:
 * the host could then open the same genuine envelope a second time while it was still fresh.
 *
 * The host needs the genuine envelope to stay fresh after the tampered copy's reservation ends:
 * a client whose clock is ahead by more than ENVELOPE_MAX_FUTURE_SECONDS makes one (the host
 * holds it until it is acceptable, as a slow network would).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HANDLERS } from '../../src/enclave/methods/index.js';
import { noblePrimitives } from '../../src/client/noble-primitives.js';
import { base64ToBytes, bytesToBase64, utf8 } from '../../src/protocol/encoding.js';
import { sealEnvelopeV1, type EnvelopeV1 } from '../../src/protocol/envelope/v1.js';
import { ReplayCache } from '../../src/enclave/replay-cache.js';
import { testEnclave } from '../helpers/enclave-state.js';

describe('a released sender key, spent again later, stays spent until its own expiry', () => {
  it('the cache keeps the later reservation (real ReplayCache)', () => {
    const cache = new ReplayCache(10);
    assert.equal(cache.add('K', 100, 0), true); // the tampered copy reserves K
    cache.delete('K'); // ...and it is released: it never authenticated
    assert.equal(cache.add('K', 150, 50), true); // the genuine envelope spends K
    assert.equal(cache.add('K', 220, 120), false, 'K is still spent after the first expiry');
  });

  it('the host cannot open one genuine credential envelope twice', async () => {
    const t = testEnclave();
    const g = await HANDLERS['keyring.generate'](t.state, { policy: 'signer' });
    const pub = base64ToBytes(g.public.credential_keys[0]!.public_key);
    const { ENVELOPE_MAX_AGE_SECONDS: age, ENVELOPE_MAX_FUTURE_SECONDS: future } = t.state.config;
    const c = t.clock.now;
    const ahead = 10; // the client's clock runs `future + ahead` seconds ahead
    const env: EnvelopeV1 = sealEnvelopeV1(
      noblePrimitives,
      pub,
      utf8.encode(
        JSON.stringify({
          exchange: 'binance',
          apiKey: 'k',
          apiSecret: 's',
          issued_at: c + future + ahead,
        }),
      ),
    );
    const submit = (e: EnvelopeV1) =>
      Promise.resolve(
        HANDLERS['credential.submit'](t.state, {
          envelope: e,
          metadata: { exchange: 'binance', label: 'main', ttl: 600 },
        }),
      );
    // 1. A tampered copy under the same sender key: refused, the key released.
    const ct = base64ToBytes(env.ciphertext);
    ct[0]! ^= 1;
    await assert.rejects(submit({ ...env, ciphertext: bytesToBase64(ct) }), {
      code: 'ENVELOPE_INVALID',
    });
    // 2. The genuine envelope, once it is no longer from the future: accepted, key spent.
    t.clock.now = c + ahead;
    await submit(env);
    // 3. After the tampered copy's reservation ended, while the envelope is still fresh.
    t.clock.now = c + age + future + 1;
    await assert.rejects(submit(env), { code: 'ENVELOPE_REPLAYED' });
  });
});
