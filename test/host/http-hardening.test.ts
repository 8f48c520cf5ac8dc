/**
 * HTTP hardening on the real app: security headers, CORS closed by default and open only to
 * ALLOWED_ORIGINS, the OpenAPI description, health and readiness.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { securityHeaders } from '../../src/host/http/security-headers.js';
import { startTestService, type TestService } from '../helpers/service.js';

describe('HTTP hardening', () => {
  let ts: TestService;
  before(async () => {
    ts = await startTestService('pglite', { ALLOWED_ORIGINS: 'https://app.example' });
  });
  after(async () => ts?.stop());

  it('sends a strict CSP, HSTS and no framing on every response, errors included', async () => {
    for (const url of ['/healthz', '/no-such-route']) {
      const res = await ts.service.app.inject({ method: 'GET', url });
      assert.match(String(res.headers['content-security-policy']), /default-src 'none'/);
      assert.match(String(res.headers['content-security-policy']), /frame-ancestors 'none'/);
      assert.equal(res.headers['strict-transport-security'], 'max-age=31536000; includeSubDomains');
      assert.equal(res.headers['x-content-type-options'], 'nosniff');
      assert.equal(res.headers['x-powered-by'], undefined);
    }
  });

  it("sends every header of helmet's for its options, computed once (http/security-headers.ts)", async () => {
    const expected = {
      'content-security-policy':
        "default-src 'none';frame-ancestors 'none';base-uri 'none';form-action 'none'",
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-resource-policy': 'same-origin',
      'origin-agent-cluster': '?1',
      'referrer-policy': 'no-referrer',
      'strict-transport-security': 'max-age=31536000; includeSubDomains',
      'x-content-type-options': 'nosniff',
      'x-dns-prefetch-control': 'off',
      'x-download-options': 'noopen',
      'x-frame-options': 'SAMEORIGIN',
      'x-permitted-cross-domain-policies': 'none',
      'x-xss-protection': '0',
    };
    assert.deepEqual({ ...(await securityHeaders()) }, expected);
    for (const [method, url] of [
      ['GET', '/healthz'],
      ['GET', '/no-such-route'],
      ['POST', '/auth/login'],
    ] as const) {
      const res = await ts.service.app.inject({
        method,
        url,
        payload: method === 'POST' ? {} : undefined,
      });
      for (const [name, value] of Object.entries(expected))
        assert.equal(res.headers[name], value, `${method} ${url} ${res.statusCode}: ${name}`);
    }
  });

  it('allows CORS only from ALLOWED_ORIGINS', async () => {
    const ok = await ts.service.app.inject({
      method: 'GET',
      url: '/healthz',
      headers: { origin: 'https://app.example' },
    });
    assert.equal(ok.headers['access-control-allow-origin'], 'https://app.example');
    const no = await ts.service.app.inject({
      method: 'GET',
      url: '/healthz',
      headers: { origin: 'https://evil.example' },
    });
    assert.equal(no.headers['access-control-allow-origin'], undefined);
    assert.equal(no.headers['access-control-allow-credentials'], undefined);
  });

  it('serves an OpenAPI description of every route', async () => {
    const res = await ts.service.app.inject({ method: 'GET', url: '/openapi.json' });
    assert.equal(res.statusCode, 200);
    const doc = res.json();
    assert.equal(doc.openapi, '3.1.0');
    for (const path of [
      '/attestation/quote',
      '/enclave/submit_key',
      '/enclave/revoke',
      '/enclave/sessions/{session_id}',
      '/healthz',
      '/readyz',
    ]) {
      assert.ok(doc.paths[path], `${path} missing from OpenAPI`);
    }
    assert.ok(doc.paths['/enclave/submit_key'].post.requestBody);
  });

  it('reports liveness and readiness', async () => {
    assert.deepEqual((await ts.service.app.inject({ method: 'GET', url: '/healthz' })).json(), {
      status: 'ok',
    });
    const ready = await ts.service.app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(ready.statusCode, 200);
    assert.deepEqual(ready.json(), { status: 'ready', enclave: true, database: true });
  });
});

describe('CORS default', () => {
  let ts: TestService;
  before(async () => {
    ts = await startTestService('pglite');
  });
  after(async () => ts?.stop());

  it('sends no CORS headers when ALLOWED_ORIGINS is unset', async () => {
    const res = await ts.service.app.inject({
      method: 'GET',
      url: '/healthz',
      headers: { origin: 'https://app.example' },
    });
    assert.equal(res.headers['access-control-allow-origin'], undefined);
  });
});

describe('security headers on early-rejected requests', () => {
  let ts: TestService;
  before(async () => {
    ts = await startTestService('pglite', {
      AUTH_COOKIES: 'true',
      AUTH_DISABLED_FOR_DEVELOPMENT: 'false',
      ALLOWED_ORIGINS: 'https://app.example',
      RATE_LIMIT_MAX: '20',
    });
  });
  after(async () => ts?.stop());

  it('sends every security header on refusals made before routing (CSRF, bad body, body too large, rate limit)', async () => {
    const expected = await securityHeaders();
    const cases = [
      // The cross-site check refuses in the first onRequest hooks, before any handler.
      {
        what: 'cross-site cookie POST',
        req: {
          method: 'POST' as const,
          url: '/auth/refresh',
          headers: { cookie: 'cloister_access=x', origin: 'https://evil.example' },
        },
      },
      {
        what: 'invalid JSON',
        req: {
          method: 'POST' as const,
          url: '/auth/login',
          headers: { 'content-type': 'application/json' },
          payload: '{"password": nope',
        },
      },
      {
        what: 'unsupported content type',
        req: {
          method: 'POST' as const,
          url: '/auth/login',
          headers: { 'content-type': 'application/xml' },
          payload: '<x/>',
        },
      },
      {
        what: 'body too large',
        req: {
          method: 'POST' as const,
          url: '/auth/login',
          headers: { 'content-type': 'application/json' },
          payload: JSON.stringify({ pad: 'x'.repeat(4 * 1024 * 1024) }),
        },
      },
      { what: 'unknown route', req: { method: 'GET' as const, url: '/nope?token=1' } },
      // Refused by Fastify's router before any hook runs (app.ts `frameworkErrors`).
      { what: 'malformed URL', req: { method: 'GET' as const, url: '/credentials/%c0' } },
      {
        what: 'path parameter over the limit',
        req: { method: 'GET' as const, url: `/credentials/${'a'.repeat(200)}` },
      },
    ];
    for (const { what, req } of cases) {
      const res = await ts.service.app.inject(req);
      assert.ok(res.statusCode >= 400, `${what}: ${res.statusCode}`);
      for (const [name, value] of Object.entries(expected)) {
        assert.equal(res.headers[name], value, `${what} (${res.statusCode}): ${name}`);
      }
    }
    let limited;
    for (let i = 0; i < 30 && limited?.statusCode !== 429; i++)
      limited = await ts.service.app.inject({ method: 'GET', url: '/nope' });
    assert.equal(limited?.statusCode, 429);
    for (const [name, value] of Object.entries(expected))
      assert.equal(limited.headers[name], value, `rate limited: ${name}`);
  });
});
