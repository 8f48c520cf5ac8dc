/**
 * Linked login methods: an account lists its password and its email (bound at registration);
 * unlinking works down to one method and the last one is refused; another account's method id
 * is not found; every unlink is an ops event; unlinking needs a recent login (step-up).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { engines, startTestService, type TestService } from '../helpers/service.js';
import { cliSetOperator } from './operator-helper.js';

for (const engine of engines())
  describe(`linked methods (${engine})`, () => {
    let ts: TestService;
    const call = (
      method: 'GET' | 'POST' | 'DELETE',
      url: string,
      token?: string,
      payload?: object,
    ) =>
      ts.service.app.inject({
        method,
        url,
        ...(payload ? { payload: payload as Record<string, unknown> } : {}),
        headers: token ? { authorization: `Bearer ${token}` } : {},
      });
    const account = async (email: string): Promise<string> => {
      const creds = { email, password: 'a long enough password' };
      assert.equal((await call('POST', '/auth/register', undefined, creds)).statusCode, 201);
      const r = await call('POST', '/auth/login', undefined, creds);
      assert.equal(r.statusCode, 200, r.body);
      return r.json().access_token;
    };

    before(async () => {
      ts = await startTestService(engine, { AUTH_LOGIN_MAX_PER_IP: '100000' });
    });
    after(async () => {
      await ts?.stop();
    });

    it('unlinking needs a recent login: a refreshed token gets STEP_UP_REQUIRED', async () => {
      const creds = { email: 'step@example.com', password: 'a long enough password' };
      assert.equal((await call('POST', '/auth/register', undefined, creds)).statusCode, 201);
      const login = (await call('POST', '/auth/login', undefined, creds)).json();
      const claims = JSON.parse(
        Buffer.from(login.access_token.split('.')[1], 'base64url').toString('utf8'),
      );
      assert.deepEqual(claims.amr, ['pwd']);
      assert.equal(typeof claims.auth_time, 'number');
      const refreshed = await call('POST', '/auth/refresh', undefined, {
        refresh_token: login.refresh_token,
      });
      assert.equal(refreshed.statusCode, 200, refreshed.body);
      const stale = refreshed.json().access_token;
      const r = await call('DELETE', '/auth/methods/password', stale);
      assert.equal(r.statusCode, 401);
      assert.equal(r.json().error.code, 'STEP_UP_REQUIRED');
      assert.match(r.json().error.details[0].issue, /pwd, otp, swk/);
      assert.equal((await call('GET', '/auth/methods', stale)).json().methods.length, 2);
    });

    it('operator role changes and key rotation need a recent login too', async () => {
      const creds = { email: 'op@example.com', password: 'a long enough password' };
      assert.equal((await call('POST', '/auth/register', undefined, creds)).statusCode, 201);
      assert.ok(await cliSetOperator(ts, 'grant', creds.email));
      const login = (await call('POST', '/auth/login', undefined, creds)).json();
      const stale = (
        await call('POST', '/auth/refresh', undefined, { refresh_token: login.refresh_token })
      ).json().access_token;
      for (const [url, body] of [
        ['/operator/auth/rotate-keys', undefined],
        ['/operator/roles/grant', { email: 'step@example.com' }],
      ] as const) {
        const r = await call('POST', url, stale, body);
        assert.equal(r.statusCode, 401, url);
        assert.equal(r.json().error.code, 'STEP_UP_REQUIRED');
      }
      const fresh = await call('POST', '/operator/roles/grant', login.access_token, {
        email: 'step@example.com',
      });
      assert.equal(fresh.statusCode, 200, fresh.body);
    });

    it('lists, unlinks down to one method, and refuses to unlink the last', async () => {
      const token = await account('lin@example.com');
      const other = await account('other@example.com');
      const list = await call('GET', '/auth/methods', token);
      assert.equal(list.statusCode, 200, list.body);
      const methods = list.json().methods as { id: string; kind: string; identifier: string }[];
      assert.deepEqual(methods.map((m) => m.kind).sort(), ['email', 'password']);
      const email = methods.find((m) => m.kind === 'email')!;
      assert.equal(email.identifier, 'lin@example.com');
      // Another account cannot see or remove it.
      assert.equal((await call('DELETE', `/auth/methods/${email.id}`, other)).statusCode, 404);
      const unlink = await call('DELETE', `/auth/methods/${email.id}`, token);
      assert.equal(unlink.statusCode, 200, unlink.body);
      const last = await call('DELETE', '/auth/methods/password', token);
      assert.equal(last.statusCode, 409);
      assert.equal(last.json().error.code, 'AUTH_LAST_METHOD');
      assert.equal((await call('GET', '/auth/methods', token)).json().methods.length, 1);
      const gone = await call('DELETE', `/auth/methods/${email.id}`, token);
      assert.equal(gone.json().error.code, 'AUTH_METHOD_NOT_FOUND');
      const ops = await ts.service.db.query<{ event_type: string }>(
        "SELECT event_type FROM ops_logs WHERE event_type = 'auth.method_unlinked'",
      );
      assert.equal(ops.rows.length, 1);
    });
  });
