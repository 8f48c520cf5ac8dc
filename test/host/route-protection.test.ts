/**
 * Every route is protected unless it is on the public list below. The routes are enumerated
 * from the app itself (app.ts records each one as Fastify registers it), so a route added
 * later outside the authenticated context fails here without anyone writing a test for it:
 * without a token every non-public route answers 401 AUTH_REQUIRED, before its body is even
 * read; with a valid token that lacks the `operator` role every /operator/ route answers 403
 * AUTH_FORBIDDEN (POST /operator/sessions/:id/revoke and /operator/auth/rotate-keys included).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { registeredRoutes } from '../../src/host/app.js';
import { WEB_PAGES } from '../../src/host/http/routes/web.js';
import { startTestService, type TestService } from '../helpers/service.js';

/** Routes anyone may call: attestation, account creation and login, public log, health. */
const PUBLIC = new Set([
  'GET /attestation/quote',
  'POST /auth/register',
  'POST /auth/login',
  'GET /auth/siwe/nonce',
  'POST /auth/siwe/login',
  'POST /auth/otp/start',
  'POST /auth/otp/verify',
  'POST /auth/register/confirm',
  'POST /auth/passkeys/login/options',
  'POST /auth/passkeys/login/verify',
  'POST /auth/password/reset/start',
  'POST /auth/password/reset',
  'POST /auth/recovery/start',
  'POST /auth/recovery/confirm',
  'POST /auth/recovery/complete',
  'POST /auth/refresh',
  'GET /.well-known/jwks.json',
  'GET /.well-known/openid-configuration',
  'GET /api/log/checkpoint',
  'GET /api/log/entries',
  'GET /api/log/proof/inclusion',
  'GET /api/log/proof/consistency',
  'GET /healthz',
  'GET /readyz',
  'GET /openapi.json',
  // A cluster instance awaiting its quorum answers these to anyone; the enclave checks each
  // against the manifest (docs/protocol/cluster.md).
  'GET /cluster/manifest',
  'POST /cluster/join',
  'POST /cluster/shares',
  // @fastify/cors answers preflights for every path.
  'OPTIONS *',
]);

/**
 * The web app's static files and page paths (src/host/http/routes/web.ts): public, and present
 * only when dist/web is built, so allowed here but not required.
 */
const isWeb = (method: string, url: string) =>
  (method === 'GET' || method === 'HEAD') &&
  (url === '/' ||
    url === '/index.html' ||
    /^\/assets\/[\w.-]+$/.test(url) ||
    (WEB_PAGES as readonly string[]).includes(url));

const isPublic = (method: string, url: string) =>
  PUBLIC.has(`${method} ${url}`) ||
  isWeb(method, url) ||
  (method === 'HEAD' && PUBLIC.has(`GET ${url}`));
const concrete = (url: string) => url.replace(/:[a-z_]+/g, () => crypto.randomUUID());

describe('route protection', () => {
  let ts: TestService;
  let userToken: string;
  before(async () => {
    ts = await startTestService('pglite', { AUTH_DISABLED_FOR_DEVELOPMENT: 'false' });
    const creds = { email: 'plain@example.com', password: 'route-protection-pw-1' };
    await ts.service.app.inject({ method: 'POST', url: '/auth/register', payload: creds });
    const login = await ts.service.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: creds,
    });
    assert.equal(login.statusCode, 200, login.body);
    userToken = login.json().access_token;
  });
  after(async () => ts?.stop());

  const routes = () => registeredRoutes(ts.service.app);

  it('enumerates the routes, and every public one is really registered', () => {
    const all = routes().map((r) => `${r.method} ${r.url}`);
    assert.ok(all.includes('POST /enclave/submit_key'), all.join('\n'));
    for (const p of PUBLIC) assert.ok(all.includes(p), `public route ${p} is not registered`);
  });

  it('every non-public route answers 401 without a token', async () => {
    const protectedRoutes = routes().filter((r) => !isPublic(r.method, r.url));
    assert.ok(protectedRoutes.length >= 10, `only ${protectedRoutes.length} protected routes`);
    for (const r of protectedRoutes) {
      const res = await ts.service.app.inject({
        method: r.method as 'GET',
        url: concrete(r.url),
      });
      assert.equal(res.statusCode, 401, `${r.method} ${r.url}: ${res.statusCode} ${res.body}`);
      if (r.method !== 'HEAD')
        assert.equal(res.json().error.code, 'AUTH_REQUIRED', `${r.method} ${r.url}`);
    }
  });

  it('every /operator/ route answers 403 to a valid token without the operator role', async () => {
    const operatorRoutes = routes().filter((r) => r.url.startsWith('/operator/'));
    for (const needed of [
      'POST /operator/sessions/:session_id/revoke',
      'POST /operator/auth/rotate-keys',
      'POST /operator/roles/grant',
      'GET /operator/sessions',
    ])
      assert.ok(
        operatorRoutes.some((r) => `${r.method} ${r.url}` === needed),
        `${needed} missing`,
      );
    for (const r of operatorRoutes) {
      const res = await ts.service.app.inject({
        method: r.method as 'GET',
        url: concrete(r.url),
        headers: { authorization: `Bearer ${userToken}` },
      });
      assert.equal(res.statusCode, 403, `${r.method} ${r.url}: ${res.statusCode} ${res.body}`);
      if (r.method !== 'HEAD')
        assert.equal(res.json().error.code, 'AUTH_FORBIDDEN', `${r.method} ${r.url}`);
    }
    // Positive control: the same token passes the authenticated context's hook.
    const own = await ts.service.app.inject({
      method: 'GET',
      url: `/enclave/sessions/${crypto.randomUUID()}`,
      headers: { authorization: `Bearer ${userToken}` },
    });
    assert.equal(own.json().error.code, 'SESSION_NOT_FOUND');
  });
});
