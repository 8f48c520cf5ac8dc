/**
 * Cookie mode (AUTH_COOKIES=true) refuses cross-site requests: a state-changing request that
 * carries Cloister's cookies and comes from another site (by `Origin`, or `Sec-Fetch-Site`) is
 * answered 403 CSRF_REFUSED and nothing is done, on body-less POSTs too (/auth/refresh,
 * /auth/logout-all, operator routes). Same-origin requests, ALLOWED_ORIGINS, non-browser clients
 * (cookie without Origin or Sec-Fetch-Site) and bearer tokens without cookies keep working.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { registeredRoutes } from '../../src/host/app.js';
import { startTestService, type TestService } from '../helpers/service.js';

const jarOf = (res: LightMyRequestResponse) =>
  ([res.headers['set-cookie']].flat() as string[]).map((c) => c.split(';')[0]).join('; ');

describe('cookie mode refuses cross-site requests', () => {
  let ts: TestService;
  let jar: string;
  let bearer: string;
  const post = (url: string, headers: Record<string, string>) =>
    ts.service.app.inject({ method: 'POST', url, headers });
  const refused = (res: LightMyRequestResponse, what: string) => {
    assert.equal(res.statusCode, 403, `${what}: ${res.body}`);
    assert.equal(res.json().error.code, 'CSRF_REFUSED', what);
    assert.equal(res.headers['set-cookie'], undefined, `${what}: no new cookies`);
  };

  before(async () => {
    ts = await startTestService('pglite', {
      AUTH_COOKIES: 'true',
      AUTH_DISABLED_FOR_DEVELOPMENT: 'false',
      ALLOWED_ORIGINS: 'https://app.example',
    });
    const creds = { email: 'csrf@example.com', password: 'csrf-password-000001' };
    await ts.service.app.inject({ method: 'POST', url: '/auth/register', payload: creds });
    const login = await ts.service.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: creds,
    });
    jar = jarOf(login);
    bearer = login.json().access_token;
  });
  after(async () => ts?.stop());

  it('refuses body-less cookie POSTs from another origin, before doing anything', async () => {
    refused(
      await post('/auth/refresh', { cookie: jar, origin: 'https://evil.example' }),
      'refresh, foreign Origin',
    );
    refused(
      await post('/auth/refresh', { cookie: jar, 'sec-fetch-site': 'cross-site' }),
      'refresh, Sec-Fetch-Site cross-site',
    );
    refused(
      await post('/auth/refresh', {
        cookie: jar,
        'sec-fetch-site': 'same-site',
        origin: 'https://evil.localhost',
      }),
      'refresh, sibling subdomain',
    );
    refused(await post('/auth/refresh', { cookie: jar, origin: 'null' }), 'refresh, Origin null');
    refused(
      await post('/auth/logout-all', { cookie: jar, origin: 'https://evil.example' }),
      'logout-all',
    );
    refused(
      await post('/operator/auth/rotate-keys', { cookie: jar, origin: 'https://evil.example' }),
      'operator route',
    );
    // Nothing was done: the login session is alive and its refresh token unspent.
    const { rows } = await ts.service.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM auth_sessions WHERE revoked_at IS NULL',
    );
    assert.equal(Number(rows[0]!.n), 1);
  });

  it('every state-changing route refuses a cross-site request that carries the cookies, the sign-in routes added since (register/confirm, step-up) included', async () => {
    const changing = registeredRoutes(ts.service.app).filter(
      (r) => !['GET', 'HEAD', 'OPTIONS'].includes(r.method),
    );
    for (const needed of [
      'POST /auth/register/confirm',
      'POST /auth/step-up',
      'POST /auth/step-up/email/start',
      'POST /auth/step-up/passkey/options',
      'POST /auth/passkeys/register/options',
      'POST /auth/methods/link',
      'DELETE /auth/totp',
    ])
      assert.ok(
        changing.some((r) => `${r.method} ${r.url}` === needed),
        `${needed} is not registered`,
      );
    for (const r of changing) {
      const res = await ts.service.app.inject({
        method: r.method as 'POST',
        url: r.url.replace(/:[a-z_]+/g, () => crypto.randomUUID()),
        headers: {
          cookie: jar,
          origin: 'https://evil.example',
          'content-type': 'application/json',
        },
        payload: '{}',
      });
      refused(res, `${r.method} ${r.url}`);
    }
  });

  it('accepts the same origin, an allowed origin and a non-browser cookie client', async () => {
    for (const [what, headers] of [
      ['same origin', { origin: 'http://localhost', 'sec-fetch-site': 'same-origin' }],
      ['allowed origin', { origin: 'https://app.example', 'sec-fetch-site': 'cross-site' }],
      ['no Origin, no Sec-Fetch-Site', {}],
    ] as const) {
      const res = await post('/auth/refresh', { cookie: jar, ...headers });
      assert.equal(res.statusCode, 200, `${what}: ${res.body}`);
      jar = jarOf(res);
    }
  });

  it('a bearer token without cookies is not affected', async () => {
    const res = await post('/auth/logout-all', {
      authorization: `Bearer ${bearer}`,
      origin: 'https://elsewhere.example',
    });
    assert.equal(res.statusCode, 200, res.body);
  });
});
