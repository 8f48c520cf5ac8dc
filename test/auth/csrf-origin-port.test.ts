/**
 * Attack review (issue 12): a page served from another port of the service's own host name (an
 * account on the same machine running its own web server) is another origin. SameSite does not
 * stop it (ports do not make a site), and cookies are sent to every port, so the CSRF check is
 * the only barrier: an Origin that differs from the request's Host by its port must be refused.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { startTestService, type TestService } from '../helpers/service.js';

const jarOf = (res: LightMyRequestResponse) =>
  ([res.headers['set-cookie']].flat() as string[]).map((c) => c.split(';')[0]).join('; ');

describe('cookie mode: an Origin on another port of the same host is cross-origin', () => {
  let ts: TestService;
  let jar: string;
  const post = (url: string, headers: Record<string, string>) =>
    ts.service.app.inject({ method: 'POST', url, headers });

  before(async () => {
    ts = await startTestService('pglite', {
      AUTH_COOKIES: 'true',
      AUTH_DISABLED_FOR_DEVELOPMENT: 'false',
    });
    const creds = { email: 'csrf-port@example.com', password: 'csrf-port-password-01' };
    await ts.service.app.inject({ method: 'POST', url: '/auth/register', payload: creds });
    jar = jarOf(
      await ts.service.app.inject({ method: 'POST', url: '/auth/login', payload: creds }),
    );
  });
  after(async () => ts?.stop());

  it('refuses a cookie POST whose Origin is the same host name on another port', async () => {
    for (const [host, origin] of [
      ['localhost:3000', 'http://localhost:8080'],
      ['localhost:3000', 'http://localhost'],
      ['app.example', 'http://app.example:8443'],
      ['app.example', 'https://app.example:8443'],
    ] as const) {
      const res = await post('/auth/logout-all', { cookie: jar, host, origin });
      assert.equal(res.statusCode, 403, `${origin} -> ${host}: ${res.body}`);
      assert.equal(res.json().error.code, 'CSRF_REFUSED');
    }
    const { rows } = await ts.service.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM auth_sessions WHERE revoked_at IS NULL',
    );
    assert.equal(Number(rows[0]!.n), 1, 'the session is still alive');
  });

  it('still accepts the same origin, with and without an explicit port', async () => {
    for (const [host, origin] of [
      ['localhost:3000', 'http://localhost:3000'],
      ['app.example', 'https://app.example'],
      ['localhost:80', 'http://localhost'],
    ] as const) {
      const res = await post('/auth/refresh', { cookie: jar, host, origin });
      assert.equal(res.statusCode, 200, `${origin} -> ${host}: ${res.body}`);
      jar = jarOf(res);
    }
  });
});
