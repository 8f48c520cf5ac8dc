/**
 * The SDK's one retry for ENVELOPE_BEFORE_START (src/client/fresh-envelope.ts): a just-restarted
 * enclave refuses envelopes dated before its envelope_not_before; the SDK re-seals once with
 * issued_at = max(now, not_before) and a fresh sender key, and a second refusal surfaces.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CryptoHelper, authClient, encryptPassword } from '../../src/client/index.js';
import { envelopeNotBeforeOf, sendWithFreshEnvelope } from '../../src/client/fresh-envelope.js';
import { ApiError, callService } from '../../src/client/service-call.js';
import { HANDLERS } from '../../src/enclave/methods/index.js';
import type { EnvelopeV1 } from '../../src/protocol/envelope/v1.js';
import { testEnclave } from '../helpers/enclave-state.js';

const refusal = (notBefore: number) =>
  Object.assign(new ApiError(425, 'ENVELOPE_BEFORE_START'), { notBefore });

/**
 * An enclave process started at `boot` on a keyring an earlier process drew (keys this process
 * drew itself are not under envelope_not_before).
 */
async function restartedEnclave(boot: number) {
  const first = testEnclave({ bootAt: boot - 600 });
  const g = await HANDLERS['keyring.generate'](first.state, { policy: 'signer' });
  const t = testEnclave({ dir: first.dir, bootAt: boot });
  const u = await HANDLERS['keyring.unseal'](t.state, { sealed: g.sealed });
  return { t, key: u.public.credential_keys[0]! };
}

describe('sendWithFreshEnvelope', () => {
  it('re-seals once with issued_at = not_before and succeeds', async () => {
    const sealedAt: number[] = [];
    const r = await sendWithFreshEnvelope(
      (issuedAt) => {
        sealedAt.push(issuedAt);
        return { issuedAt, n: sealedAt.length };
      },
      async (e) => {
        if (e.n === 1) throw refusal(1_000_031);
        return `accepted ${e.issuedAt}`;
      },
      () => 1_000_010,
    );
    assert.deepEqual(sealedAt, [1_000_010, 1_000_031]);
    assert.equal(r, 'accepted 1000031');
  });

  it('keeps its own clock when that is already past not_before', async () => {
    const sealedAt: number[] = [];
    await sendWithFreshEnvelope(
      (issuedAt) => sealedAt.push(issuedAt),
      async (n) => {
        if (n === 1) throw refusal(1_000_005);
      },
      () => 1_000_010,
    );
    assert.deepEqual(sealedAt, [1_000_010, 1_000_010]);
  });

  it('surfaces a second refusal, and retries nothing else', async () => {
    let sends = 0;
    await assert.rejects(
      sendWithFreshEnvelope(
        (t) => t,
        async () => {
          sends++;
          throw refusal(2_000_000);
        },
        () => 1_999_990,
      ),
      { code: 'ENVELOPE_BEFORE_START' },
    );
    assert.equal(sends, 2);
    for (const err of [
      new ApiError(400, 'ENVELOPE_STALE'),
      new ApiError(409, 'ENVELOPE_REPLAYED'),
      new ApiError(425, 'ENVELOPE_BEFORE_START'), // no hint
      refusal(1_000_000 + 3601), // an implausible hint
    ]) {
      sends = 0;
      await assert.rejects(
        sendWithFreshEnvelope(
          (t) => t,
          async () => {
            sends++;
            throw err;
          },
          () => 1_000_000,
        ),
        (e) => e === err,
      );
      assert.equal(sends, 1, err.code);
    }
  });

  it('reads not_before from the service error body (callService)', async () => {
    const fetch = (async () =>
      new Response(
        JSON.stringify({
          error: { code: 'ENVELOPE_BEFORE_START', message: 'm', not_before: 1_700_000_031 },
        }),
        { status: 425, headers: { 'content-type': 'application/json' } },
      )) as typeof globalThis.fetch;
    const err = await callService(
      { baseUrl: 'http://x', fetch },
      'POST',
      '/a',
      {},
      (s, c, d) => new ApiError(s, c, d),
    ).catch((e: unknown) => e);
    assert.equal(envelopeNotBeforeOf(err), 1_700_000_031);
  });

  it('against a just-restarted enclave: the first seal is refused, the re-seal opens', async () => {
    const boot = 1_700_000_000;
    const { t, key } = await restartedEnclave(boot);
    await HANDLERS['auth.init'](t.state, { sealed: null });
    t.clock.now = boot + 1; // the first second main.ts serves in; the client's clock agrees
    const email = 'fresh@example.test';
    const senders: string[] = [];
    const status = await HANDLERS['enclave.status'](t.state, {});
    const r = await sendWithFreshEnvelope(
      (issuedAt) =>
        encryptPassword(
          { action: 'register', email, password: 'correct horse battery staple' },
          key.public_key,
          { keyId: key.key_id, issuedAt },
        ),
      async (envelope: EnvelopeV1) => {
        senders.push(envelope.ephemeral_pub);
        try {
          return await HANDLERS['auth.register'](t.state, { email, secret: { envelope } });
        } catch (e) {
          // What the host adds to the refusal (supervisor → error.not_before).
          const code = (e as { code?: string }).code ?? 'INTERNAL';
          throw Object.assign(new ApiError(425, code), {
            notBefore: status.envelope_not_before,
          });
        }
      },
      () => t.clock.now,
    );
    assert.ok(r.user_id);
    assert.equal(senders.length, 2);
    assert.notEqual(senders[0], senders[1], 'a fresh sender key');
  });

  it('CryptoHelper.sendCredentials: refused by a just-restarted enclave, then accepted', async () => {
    const boot = 1_700_000_000;
    const { t, key } = await restartedEnclave(boot);
    t.clock.now = boot + 1;
    const notBefore = (await HANDLERS['enclave.status'](t.state, {})).envelope_not_before;
    const codes: string[] = [];
    const realNow = Date.now;
    Date.now = () => t.clock.now * 1000; // the SDK dates with the client's clock
    try {
      const r = await CryptoHelper.sendCredentials(
        { exchange: 'binance', apiKey: 'k', apiSecret: 's' },
        key.public_key,
        { keyId: key.key_id },
        async (envelope) => {
          try {
            return await HANDLERS['credential.submit'](t.state, {
              envelope,
              metadata: { exchange: 'binance', label: 'main', ttl: 600 },
            });
          } catch (e) {
            const code = (e as { code?: string }).code ?? 'INTERNAL';
            codes.push(code);
            throw Object.assign(new ApiError(425, code), { notBefore });
          }
        },
      );
      assert.ok(r.session_id);
      assert.deepEqual(codes, ['ENVELOPE_BEFORE_START']);
    } finally {
      Date.now = realNow;
    }
  });

  it('the SDK auth client surfaces the code and hint', async () => {
    const fetch = (async () =>
      new Response(
        JSON.stringify({ error: { code: 'ENVELOPE_BEFORE_START', message: 'm', not_before: 5 } }),
        { status: 425 },
      )) as typeof globalThis.fetch;
    const err = await authClient({ baseUrl: 'http://x', fetch })
      .linkPassword({ envelope: {} })
      .catch((e: unknown) => e);
    assert.equal((err as ApiError).code, 'ENVELOPE_BEFORE_START');
    assert.equal(envelopeNotBeforeOf(err), 5);
  });
});
