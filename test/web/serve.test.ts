/**
 * The service serves the built web app (src/host/http/routes/web.ts): `/` and each page path
 * answer index.html, assets are served with long caching, every page response carries the web
 * CSP (scripts and styles from 'self' only, nothing inline), the built HTML has no inline script
 * or style for that CSP to block, pages and assets carry the service's other security headers
 * (framing, referrer, sniffing, opener), the API keeps its own `default-src 'none'`, an unknown path is
 * still the JSON NOT_FOUND, and without a build the service runs the API alone.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WEB_CSP, WEB_PAGES } from '../../src/host/http/routes/web.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { ensureWebBuild, WEB_ROOT } from '../helpers/web.js';

describe('web app served by the service', () => {
  let ts: TestService;
  before(async () => {
    ensureWebBuild();
    ts = await startTestService('pglite');
  });
  after(async () => ts?.stop());

  it('serves index.html at / and at every page path, under the web CSP', async () => {
    for (const url of ['/', ...WEB_PAGES]) {
      const res = await ts.service.app.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 200, url);
      assert.match(String(res.headers['content-type']), /text\/html/, url);
      assert.equal(res.headers['content-security-policy'], WEB_CSP, url);
      assert.match(res.body, /<div id="app"><\/div>/, url);
    }
  });

  it("every page and asset also carries the service's other security headers: not framed, no referrer, no sniffing, its own browsing context group", async () => {
    const assets = readdirSync(join(WEB_ROOT, 'assets')).map((f) => `/assets/${f}`);
    for (const url of ['/', '/index.html', ...WEB_PAGES, ...assets]) {
      const res = await ts.service.app.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 200, url);
      assert.equal(res.headers['x-frame-options'], 'SAMEORIGIN', url);
      assert.equal(res.headers['referrer-policy'], 'no-referrer', url);
      assert.equal(res.headers['x-content-type-options'], 'nosniff', url);
      assert.equal(res.headers['cross-origin-opener-policy'], 'same-origin', url);
      assert.equal(res.headers['cross-origin-resource-policy'], 'same-origin', url);
      assert.match(String(res.headers['strict-transport-security']), /^max-age=31536000/, url);
      assert.equal(res.headers['content-security-policy'], WEB_CSP, url);
      // A source map or an asset is never served as something a browser would run as a page.
      if (url.endsWith('.map')) assert.match(String(res.headers['content-type']), /json/, url);
    }
    for (const directive of [
      "default-src 'none'",
      "script-src 'self'",
      "object-src 'none'",
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
      // Trusted Types: no string reaches an HTML or script sink (innerHTML, eval, a script's src).
      "require-trusted-types-for 'script'",
      "trusted-types 'none'",
    ])
      assert.ok(WEB_CSP.split('; ').includes(directive), directive);
    // The page itself asks for no referrer either (before the header is read, for old browsers).
    assert.match(
      readFileSync(join(WEB_ROOT, 'index.html'), 'utf8'),
      /<meta name="referrer" content="no-referrer"/,
    );
  });

  it('the built HTML has no inline script or style, and the CSP allows none', () => {
    const html = readFileSync(join(WEB_ROOT, 'index.html'), 'utf8');
    for (const m of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)) {
      assert.match(m[1]!, /\bsrc="\/assets\//, 'every script is a file');
      assert.equal(m[2]!.trim(), '', 'no inline script');
    }
    assert.doesNotMatch(html, /<style\b|\sstyle="|\son[a-z]+="/i);
    assert.doesNotMatch(WEB_CSP, /unsafe-inline|unsafe-eval|\*/);
    assert.match(WEB_CSP, /script-src 'self'/);
    assert.match(WEB_CSP, /frame-ancestors 'none'/);
  });

  it('serves the hashed assets, cached, with the web CSP', async () => {
    const assets = readdirSync(join(WEB_ROOT, 'assets')).filter((f) => /\.(js|css)$/.test(f));
    assert.ok(assets.length >= 2);
    for (const f of assets) {
      const res = await ts.service.app.inject({ method: 'GET', url: `/assets/${f}` });
      assert.equal(res.statusCode, 200, f);
      assert.match(String(res.headers['cache-control']), /immutable/);
      assert.equal(res.headers['content-security-policy'], WEB_CSP);
    }
  });

  it('the API keeps its own CSP and JSON errors', async () => {
    const q = await ts.service.app.inject({ method: 'GET', url: '/attestation/quote' });
    assert.equal(q.statusCode, 200);
    assert.match(String(q.headers['content-security-policy']), /default-src 'none'/);
    assert.doesNotMatch(String(q.headers['content-security-policy']), /script-src/);
    const missing = await ts.service.app.inject({ method: 'GET', url: '/no/such/page' });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().error.code, 'NOT_FOUND');
    // The router still refuses what it refused before the app was served (no `/*` catch-all).
    const long = await ts.service.app.inject({
      method: 'GET',
      url: `/enclave/sessions/${'a'.repeat(101)}`,
    });
    assert.equal(long.statusCode, 400);
    assert.equal(long.json().error.code, 'VALIDATION_FAILED');
    const traversal = await ts.service.app.inject({ method: 'GET', url: '/../package.json' });
    assert.notEqual(traversal.statusCode, 200);
  });

  it("no API answer is kept in the browser's cache: no-store on data, tokens and errors; the app's files keep their own caching", async () => {
    // A GET with a bearer token is stored in the browser's private (disk) cache unless the
    // answer says no-store: the account's data would outlive the sign-out on a shared computer.
    for (const [method, url] of [
      ['GET', '/attestation/quote'],
      ['GET', '/enclave/sessions'],
      ['GET', '/wallets'],
      ['GET', '/auth/methods'],
      ['GET', '/log/checkpoint'],
      ['GET', '/no/such/page'],
      ['POST', '/auth/refresh'],
    ] as const) {
      const res = await ts.service.app.inject({
        method,
        url,
        ...(method === 'POST' ? { payload: { refresh_token: 'x' } } : {}),
      });
      assert.equal(
        res.headers['cache-control'],
        'no-store',
        `${method} ${url} (${res.statusCode})`,
      );
    }
    const jwks = await ts.service.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
    assert.equal(jwks.headers['cache-control'], 'public, max-age=60');
    for (const url of ['/', '/index.html', '/signin']) {
      const res = await ts.service.app.inject({ method: 'GET', url });
      assert.equal(res.headers['cache-control'], 'no-cache', url);
    }
  });

  it('without a build, the API runs alone and the log says the web app is not built', async () => {
    const bare = await startTestService('pglite', {}, undefined, { webRoot: '/nonexistent/web' });
    try {
      const health = await bare.service.app.inject({ method: 'GET', url: '/healthz' });
      assert.equal(health.statusCode, 200);
      for (const url of ['/', '/verify']) {
        const res = await bare.service.app.inject({ method: 'GET', url });
        assert.equal(res.statusCode, 404, url);
        assert.equal(res.json().error.code, 'NOT_FOUND');
      }
      assert.ok(bare.logs.some((l) => l.includes('web app not built')));
    } finally {
      await bare.stop();
    }
  });
});
