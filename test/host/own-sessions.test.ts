/**
 * GET /enclave/sessions: an account lists its own sessions (newest first, metadata only, an
 * expired one shown as expired), never another account's; without a token it is 401, and in
 * development mode without a token it lists nothing (ownerless session ids are capabilities).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CryptoHelper } from '../../src/client/index.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { uniqueCredentials, verifiedAttestation } from '../helpers/client.js';

describe('GET /enclave/sessions', () => {
  let ts: TestService;
  const tokens: Record<string, string> = {};
  before(async () => {
    ts = await startTestService('pglite', { AUTH_DISABLED_FOR_DEVELOPMENT: 'false' });
    for (const who of ['alice', 'bob']) {
      const creds = { email: `${who}@example.com`, password: `${who}-password-0123` };
      await ts.service.app.inject({ method: 'POST', url: '/auth/register', payload: creds });
      tokens[who] = (
        await ts.service.app.inject({ method: 'POST', url: '/auth/login', payload: creds })
      ).json().access_token;
    }
  });
  after(async () => ts?.stop());

  async function submit(who: string, label: string): Promise<string> {
    const { verification: v } = await verifiedAttestation(ts);
    const envelope = await CryptoHelper.encryptCredentials(
      uniqueCredentials(label),
      v.enclavePubkey!,
      {
        keyId: v.keyId!,
      },
    );
    const res = await ts.service.app.inject({
      method: 'POST',
      url: '/enclave/submit_key',
      headers: { authorization: `Bearer ${tokens[who]}` },
      payload: { ...envelope, metadata: { exchange: 'binance', label, ttl: 3600 } },
    });
    assert.equal(res.statusCode, 200, res.body);
    return res.json().session_id;
  }
  const list = (who?: string) =>
    ts.service.app.inject({
      method: 'GET',
      url: '/enclave/sessions',
      headers: who ? { authorization: `Bearer ${tokens[who]}` } : {},
    });

  it("lists the caller's sessions only, newest first, with status and expiry", async () => {
    const a1 = await submit('alice', 'first');
    const a2 = await submit('alice', 'second');
    const b1 = await submit('bob', 'bobs');
    await ts.service.app.inject({
      method: 'POST',
      url: '/enclave/revoke',
      headers: { authorization: `Bearer ${tokens.alice}` },
      payload: { session_id: a1 },
    });
    const alice = (await list('alice')).json().sessions as Record<string, string>[];
    assert.deepEqual(
      alice.map((s) => [s.session_id, s.label, s.status]),
      [
        [a2, 'second', 'active'],
        [a1, 'first', 'revoked'],
      ],
    );
    for (const s of alice) {
      assert.ok(Date.parse(s.expires_at!) > Date.parse(s.created_at!));
      assert.deepEqual(Object.keys(s).sort(), [
        'created_at',
        'exchange',
        'expires_at',
        'label',
        'session_id',
        'status',
      ]);
    }
    const bob = (await list('bob')).json().sessions as Record<string, string>[];
    assert.deepEqual(
      bob.map((s) => s.session_id),
      [b1],
    );
  });

  it('answers 401 without a token', async () => {
    const res = await list();
    assert.equal(res.statusCode, 401);
    assert.equal(res.json().error.code, 'AUTH_REQUIRED');
  });

  it('lists nothing to an anonymous caller in development mode', async () => {
    const dev = await startTestService('pglite', { AUTH_DISABLED_FOR_DEVELOPMENT: 'true' });
    try {
      const { verification: v } = await verifiedAttestation(dev);
      const envelope = await CryptoHelper.encryptCredentials(
        uniqueCredentials('anon'),
        v.enclavePubkey!,
        {
          keyId: v.keyId!,
        },
      );
      const sub = await dev.service.app.inject({
        method: 'POST',
        url: '/enclave/submit_key',
        payload: { ...envelope, metadata: { exchange: 'binance', label: 'anon', ttl: 3600 } },
      });
      assert.equal(sub.statusCode, 200, sub.body);
      const res = await dev.service.app.inject({ method: 'GET', url: '/enclave/sessions' });
      assert.equal(res.statusCode, 401);
      assert.doesNotMatch(res.body, new RegExp(sub.json().session_id));
    } finally {
      await dev.stop();
    }
  });
});
