/**
 * What a client seals beside its credential besides the lifetime (`ttl`, submit-credential
 * test): the `label` it sends, which the host may not change at submission, and the owner's
 * aggregates `subject`, the only one a signed result over the credential may name. Calls go
 * through the real dispatcher, as the host makes them; each refusal has a passing neighbour.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { CryptoHelper, type EncryptOptions } from '../../src/client/index.js';
import { aggregatesSubject, DAY_MS } from '../../src/protocol/aggregates.js';
import { testEnclave, type TestEnclave } from '../helpers/enclave-state.js';
import { code, ok } from '../mutation-killers/rpc.js';

const creds = { exchange: 'binance' as const, apiKey: 'key', apiSecret: 'secret' };
const OWNER = '6f1c9a52-3a0e-4f0e-9a7e-2c1d5b7e8a11';
const OTHER = '0b2d4e6f-1a3c-4e5f-8a9b-7c6d5e4f3a2b';

async function enclave() {
  const t = testEnclave();
  const g = await ok(t, 'keyring.generate', { policy: 'signer' });
  return { t, pub: g.public.credential_keys[0]!.public_key, keyId: g.public.current_key_id };
}

type Ready = Awaited<ReturnType<typeof enclave>>;

const seal = (e: Ready, options: EncryptOptions) =>
  CryptoHelper.encryptCredentials(creds, e.pub, {
    issuedAt: e.t.clock.now,
    keyId: e.keyId,
    ...options,
  });

const metadata = (label: string) => ({ exchange: 'binance', label, ttl: 3600 });

/** Submits and returns the stored credential as the host keeps it (for `aggregates.start`). */
async function stored(e: Ready, options: EncryptOptions) {
  const envelope = await seal(e, options);
  const subject = options.userId ? { subject: aggregatesSubject({ userId: options.userId }) } : {};
  const s = await ok(e.t, 'credential.submit', {
    envelope,
    metadata: metadata('main'),
    ...subject,
  });
  return {
    session_id: s.session_id,
    envelope,
    key_id: s.key_id,
    exchange: 'binance' as const,
    label: 'main',
    expires_at: s.expires_at,
    binding: s.binding,
  };
}

const start = (t: TestEnclave, credential: unknown, subject: string) =>
  code(t, 'aggregates.start', {
    job_id: randomUUID(),
    credential,
    from: t.clock.now * 1000 - DAY_MS,
    to: t.clock.now * 1000,
    symbols: ['BTC/USDT'],
    reporting_currency: 'USDT',
    subject,
    audience: null,
    nonce: null,
  });

describe('sealed submission terms', () => {
  it('refuses a label the host changed at submission, and spends the envelope', async () => {
    const e = await enclave();
    const envelope = await seal(e, { label: 'main' });
    assert.equal(
      await code(e.t, 'credential.submit', { envelope, metadata: metadata('other') }),
      'ENVELOPE_LABEL_MISMATCH',
    );
    // The refusal came after the envelope authenticated: the same envelope is now spent.
    assert.equal(
      await code(e.t, 'credential.submit', { envelope, metadata: metadata('main') }),
      'ENVELOPE_REPLAYED',
    );
  });

  it('binds the sealed label when the host forwards it, and any label when none is sealed', async () => {
    const e = await enclave();
    const same = await seal(e, { label: 'main' });
    assert.equal(
      await code(e.t, 'credential.submit', { envelope: same, metadata: metadata('main') }),
      'ok',
    );
    const none = await seal(e, {});
    assert.equal(
      await code(e.t, 'credential.submit', { envelope: none, metadata: metadata('anything') }),
      'ok',
    );
  });

  it('refuses to start a job whose subject is not the owner the client sealed', async () => {
    const e = await enclave();
    const credential = await stored(e, { userId: OWNER });
    assert.equal(
      await start(e.t, credential, aggregatesSubject({ userId: OTHER })),
      'CREDENTIAL_SUBJECT_MISMATCH',
    );
    // A session-shaped subject (an ownerless session) is another subject too.
    assert.equal(
      await start(e.t, credential, aggregatesSubject({ sessionId: credential.session_id })),
      'CREDENTIAL_SUBJECT_MISMATCH',
    );
    assert.equal(await start(e.t, credential, aggregatesSubject({ userId: OWNER })), 'ok');
  });

  it('refuses at submission an envelope sealed for another account, and spends it', async () => {
    // A copy of A's envelope (the network, a proxy, a log) submitted first under B's account:
    // before, the enclave stored it for B (A's own submission then answered ENVELOPE_REPLAYED)
    // and only a later aggregates job noticed. The host passes the submitting owner's subject.
    const e = await enclave();
    // Submits as `owner`'s account (none: ownerless, development mode).
    const submitAs = (envelope: unknown, owner?: string) =>
      code(e.t, 'credential.submit', {
        envelope,
        metadata: metadata('main'),
        ...(owner ? { subject: aggregatesSubject({ userId: owner }) } : {}),
      });
    const envelope = await seal(e, { userId: OWNER });
    assert.equal(await submitAs(envelope, OTHER), 'CREDENTIAL_SUBJECT_MISMATCH');
    assert.equal(await submitAs(envelope, OWNER), 'ENVELOPE_REPLAYED');
    // An ownerless submission (development mode) of an envelope that names an owner: refused.
    assert.equal(await submitAs(await seal(e, { userId: OWNER })), 'CREDENTIAL_SUBJECT_MISMATCH');
    // The owner's own submission passes; an envelope that seals no subject passes for anyone.
    assert.equal(await submitAs(await seal(e, { userId: OWNER }), OWNER), 'ok');
    assert.equal(await submitAs(await seal(e, {}), OTHER), 'ok');
  });

  it('starts a job for any subject when the client sealed none (older clients)', async () => {
    const e = await enclave();
    const credential = await stored(e, {});
    assert.equal(await start(e.t, credential, aggregatesSubject({ userId: OTHER })), 'ok');
  });
});
