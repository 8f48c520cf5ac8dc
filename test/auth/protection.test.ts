/**
 * Tokens protect the service (AUTH_DISABLED_FOR_DEVELOPMENT=false, the default): submitting,
 * status, revocation, a session's log entries and aggregates need an access token; a session
 * belongs to its creator and another user gets the same 404 as for a missing one; operators see
 * and revoke every session. The development flag opens the quick start and says so loudly.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CryptoHelper } from '../../src/client/index.js';
import { uniqueCredentials } from '../helpers/client.js';
import { cliSetOperator } from './operator-helper.js';
import { engines, startTestService, type TestService } from '../helpers/service.js';

for (const engine of engines())
  describe(`protected routes (${engine})`, () => {
    let ts: TestService;
    const tokens: Record<string, string> = {};
    const password = 'protection-password-42';
    const req = (method: 'GET' | 'POST', url: string, who?: string, payload?: object) =>
      ts.service.app.inject({
        method,
        url,
        ...(payload ? { payload: payload as Record<string, unknown> } : {}),
        headers: who ? { authorization: `Bearer ${tokens[who]}` } : {},
      });
    const submitAs = async (who?: string) => {
      const att = (
        await ts.service.app.inject({ method: 'GET', url: '/attestation/quote' })
      ).json();
      const env = await CryptoHelper.encryptCredentials(
        uniqueCredentials('p'),
        att.enclave_pubkey,
        {
          keyId: att.key_id,
        },
      );
      return req('POST', '/enclave/submit_key', who, {
        ...env,
        metadata: { exchange: 'binance', label: 'main', ttl: 3600 },
      });
    };

    before(async () => {
      ts = await startTestService(engine, { AUTH_DISABLED_FOR_DEVELOPMENT: 'false' });
      for (const who of ['alice', 'bob', 'olga']) {
        const email = `${who}@example.com`;
        await req('POST', '/auth/register', undefined, { email, password });
        if (who === 'olga') await cliSetOperator(ts, 'grant', email);
        tokens[who] = (
          await req('POST', '/auth/login', undefined, { email, password })
        ).json().access_token;
      }
    });
    after(async () => {
      await ts?.stop();
    });

    it('submitting needs a token; the session belongs to its creator', async () => {
      const anon = await submitAs();
      assert.equal(anon.statusCode, 401);
      assert.equal(anon.json().error.code, 'AUTH_REQUIRED');
      const bad = await ts.service.app.inject({
        method: 'POST',
        url: '/enclave/submit_key',
        payload: {},
        headers: { authorization: 'Bearer x.y.z' },
      });
      assert.equal(bad.statusCode, 401);
      const ok = await submitAs('alice');
      assert.equal(ok.statusCode, 200, ok.body);
      const sid = ok.json().session_id as string;
      const { rows } = await ts.service.db.query<{ user_id: string; email: string }>(
        'SELECT s.user_id, u.email FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1',
        [sid],
      );
      assert.equal(rows[0]?.email, 'alice@example.com');

      for (const [method, url, body] of [
        ['GET', `/enclave/sessions/${sid}`, undefined],
        ['GET', `/api/logs/${sid}`, undefined],
        ['POST', '/enclave/revoke', { session_id: sid }],
        ['POST', '/enclave/request_aggregates', { session_id: sid }],
      ] as const) {
        const none = await req(method, url, undefined, body);
        assert.equal(none.statusCode, 401, `${url} without a token`);
        const other = await req(method, url, 'bob', body);
        assert.equal(other.statusCode, 404, `${url} as another user: ${other.body}`);
        assert.equal(other.json().error.code, 'SESSION_NOT_FOUND');
      }
      const job = await req('GET', `/enclave/aggregates/jobs/${crypto.randomUUID()}`, 'bob');
      assert.equal(job.json().error.code, 'JOB_NOT_FOUND');
      assert.equal((await req('GET', `/enclave/sessions/${sid}`, 'alice')).statusCode, 200);
      assert.equal((await req('GET', `/api/logs/${sid}`, 'alice')).statusCode, 200);
      const revoked = await req('POST', '/enclave/revoke', 'alice', { session_id: sid });
      assert.equal(revoked.statusCode, 200, revoked.body);
    });

    it('operators list and revoke any session; others get 403', async () => {
      const sid = (await submitAs('bob')).json().session_id as string;
      assert.equal((await req('GET', '/operator/sessions', 'bob')).statusCode, 403);
      const list = await req('GET', '/operator/sessions', 'olga');
      assert.ok(list.json().sessions.some((s: { session_id: string }) => s.session_id === sid));
      const r = await req('POST', `/operator/sessions/${sid}/revoke`, 'olga');
      assert.equal(r.statusCode, 200, r.body);
      assert.equal((await req('GET', `/enclave/sessions/${sid}`, 'bob')).json().status, 'revoked');
    });

    it("removing the operator role ends that operator's logins (the role is a claim)", async () => {
      assert.equal((await req('GET', '/operator/sessions', 'olga')).statusCode, 200);
      assert.ok(await cliSetOperator(ts, 'revoke', 'olga@example.com'));
      await new Promise((ok) => setTimeout(ok, 2200)); // the host's session cache (2 s)
      const after = await req('GET', '/operator/sessions', 'olga');
      assert.equal(after.statusCode, 401, after.body);
      const again = await req('POST', '/auth/login', undefined, {
        email: 'olga@example.com',
        password,
      });
      tokens.olga = again.json().access_token;
      assert.equal((await req('GET', '/operator/sessions', 'olga')).statusCode, 403);
    });
  });

describe('AUTH_DISABLED_FOR_DEVELOPMENT', () => {
  let ts: TestService;
  before(async () => {
    ts = await startTestService('pglite', { AUTH_DISABLED_FOR_DEVELOPMENT: 'true' });
  });
  after(async () => {
    await ts?.stop();
  });

  it('opens the quick start, says so at start, and still guards the operator routes', async () => {
    assert.ok(ts.logs.some((l) => l.includes('auth.disabled_for_development')));
    const att = (await ts.service.app.inject({ method: 'GET', url: '/attestation/quote' })).json();
    const env = await CryptoHelper.encryptCredentials(uniqueCredentials('d'), att.enclave_pubkey, {
      keyId: att.key_id,
    });
    const res = await ts.service.app.inject({
      method: 'POST',
      url: '/enclave/submit_key',
      payload: { ...env, metadata: { exchange: 'binance', label: 'main', ttl: 3600 } },
    });
    assert.equal(res.statusCode, 200, res.body);
    const op = await ts.service.app.inject({ method: 'GET', url: '/operator/sessions' });
    assert.equal(op.statusCode, 401);
  });

  it("an anonymous caller reaches only sessions without an owner, never a user's", async () => {
    const email = 'dev-owner@example.com';
    const password = 'dev-owner-password-42';
    const post = (url: string, payload: object, token?: string) =>
      ts.service.app.inject({
        method: 'POST',
        url,
        payload: payload as Record<string, unknown>,
        headers: token ? { authorization: `Bearer ${token}` } : {},
      });
    assert.equal((await post('/auth/register', { email, password })).statusCode < 300, true);
    const token = (await post('/auth/login', { email, password })).json().access_token as string;
    const att = (await ts.service.app.inject({ method: 'GET', url: '/attestation/quote' })).json();
    const env = await CryptoHelper.encryptCredentials(uniqueCredentials('o'), att.enclave_pubkey, {
      keyId: att.key_id,
    });
    const owned = await post(
      '/enclave/submit_key',
      { ...env, metadata: { exchange: 'binance', label: 'main', ttl: 3600 } },
      token,
    );
    assert.equal(owned.statusCode, 200, owned.body);
    const sid = owned.json().session_id as string;
    const anon = await ts.service.app.inject({ method: 'GET', url: `/enclave/sessions/${sid}` });
    assert.equal(anon.statusCode, 404);
    assert.equal((await post('/enclave/revoke', { session_id: sid })).statusCode, 404);
    const mine = await ts.service.app.inject({
      method: 'GET',
      url: `/enclave/sessions/${sid}`,
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(mine.statusCode, 200);
  });
});
