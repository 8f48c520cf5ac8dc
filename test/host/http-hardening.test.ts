/**
 * HTTP hardening on the real app: security headers, CORS closed by default and open only to
 * ALLOWED_ORIGINS, the OpenAPI description, health and readiness.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AddressInfo, Socket } from 'node:net';
import { createLogger } from '../../src/host/logging.js';
import { HTTP_ERRORS, type HttpErrorCode } from '../../src/host/errors.js';
import { clientErrorHandler } from '../../src/host/http/client-errors.js';
import { securityHeaders } from '../../src/host/http/security-headers.js';
import {
  parseResponses,
  rawConnection,
  rawExchange,
  type RawResponse,
} from '../helpers/raw-http.js';
import { startTestService, type TestService } from '../helpers/service.js';

/** Every answer's security headers: helmet's for HELMET_OPTIONS (http/security-headers.ts). */
const SECURITY_HEADERS: Readonly<Record<string, string>> = {
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
    const expected = SECURITY_HEADERS;
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

  it('an OPTIONS request that is not a whole preflight gets the JSON error body, not CORS plain text', async () => {
    // @fastify/cors answers these itself with a text/plain "Invalid Preflight Request".
    for (const [headers, missing] of [
      [{ origin: 'https://app.example' }, 'access-control-request-method'],
      [{ 'access-control-request-method': 'POST' }, 'origin'],
      [{}, 'origin'],
    ] as const) {
      const res = await ts.service.app.inject({
        method: 'OPTIONS',
        url: '/enclave/submit_key',
        headers,
      });
      assert.equal(res.statusCode, 400, res.body);
      assert.match(String(res.headers['content-type']), /^application\/json/);
      assert.deepEqual(res.json(), {
        error: {
          code: 'VALIDATION_FAILED',
          message: 'the request does not match the schema',
          details: [{ path: `headers.${missing}`, issue: 'required for a CORS preflight' }],
        },
      });
      assert.equal(res.headers['x-content-type-options'], 'nosniff');
    }
    const ok = await ts.service.app.inject({
      method: 'OPTIONS',
      url: '/enclave/submit_key',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' },
    });
    assert.equal(ok.statusCode, 204);
    assert.equal(ok.headers['access-control-allow-origin'], 'https://app.example');
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
    const expected = SECURITY_HEADERS;
    const cases = [
      // The cross-site check refuses in the first onRequest hooks, before any handler.
      {
        what: 'cross-site cookie POST',
        req: {
          method: 'POST' as const,
          url: '/auth/refresh',
          headers: { cookie: '__Host-cloister_access=x', origin: 'https://evil.example' },
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

/** An error answer as every one is: status, every security header, the code's fixed body. */
function assertErrorAnswer(what: string, res: RawResponse | undefined, code: HttpErrorCode): void {
  assert.ok(res, `${what}: no answer`);
  assert.equal(res.status, HTTP_ERRORS[code][0], `${what}: ${JSON.stringify(res)}`);
  for (const [name, value] of Object.entries(SECURITY_HEADERS))
    assert.equal(res.headers[name], value, `${what} (${res.status}): ${name}`);
  assert.match(res.headers['content-type'] ?? '', /^application\/json/);
  assert.deepEqual(JSON.parse(res.body), { error: { code, message: HTTP_ERRORS[code][1] } });
}

const SECRET = 'planted-secret-9e31f0';

describe('security headers on answers written on the socket (no request, or none let in)', () => {
  let ts: TestService;
  let port: number;
  before(async () => {
    ts = await startTestService('pglite', { LOG_LEVEL: 'trace' });
    await ts.service.app.listen({ port: 0, host: '127.0.0.1' });
    port = (ts.service.app.server.address() as AddressInfo).port;
  });
  after(async () => ts?.stop());
  /** The error metrics' count for `code` (every error answer is counted under its code). */
  const errorCount = async (code: string) => {
    const text = await ts.service.metrics!.render();
    const m = new RegExp(`^cloister_http_errors_total\\{code="${code}"\\} (\\d+)$`, 'm').exec(text);
    return Number(m?.[1] ?? 0);
  };
  /** Waits (2 s at most) for `done`: a request let in ends after its connection did. */
  const until = async (done: () => Promise<boolean>) => {
    for (let i = 0; i < 100 && !(await done()); i++) await new Promise((r) => setTimeout(r, 20));
  };

  it('a malformed request (400) and headers over the limit (431): the headers and error body, no request bytes, in the answer or the logs; the server serves on', async () => {
    const cases = [
      {
        code: 'REQUEST_MALFORMED' as const,
        request: `GET /healthz?token=${SECRET} HTTP/1.1 ${SECRET}\r\nHost: x\r\n\r\n`,
      },
      {
        code: 'HEADERS_TOO_LARGE' as const,
        request: `GET /healthz?token=${SECRET} HTTP/1.1\r\nHost: x\r\nX-Pad: ${SECRET}${'a'.repeat(20_000)}\r\n\r\n`,
      },
    ];
    for (const { code, request } of cases) {
      const answers = await rawExchange(port, request);
      assert.equal(answers.length, 1, code);
      assertErrorAnswer(code, answers[0], code);
      assert.ok(!JSON.stringify(answers).includes(SECRET), code);
    }
    // Node's own refusals, before any request reaches the app: an HTTP/1.1 request without
    // Host, an expectation other than 100-continue.
    const [noHost] = await rawExchange(
      port,
      `GET /healthz?token=${SECRET} HTTP/1.1\r\nConnection: close\r\n\r\n`,
    );
    assertErrorAnswer('no Host', noHost, 'REQUEST_MALFORMED');
    const [expects] = await rawExchange(
      port,
      'GET /healthz HTTP/1.1\r\nHost: x\r\nExpect: x-unknown\r\nConnection: close\r\n\r\n',
    );
    assert.equal(expects?.status, 200, JSON.stringify(expects));
    for (const [name, value] of Object.entries(SECURITY_HEADERS))
      assert.equal(expects.headers[name], value, `unknown expectation: ${name}`);
    const [ok] = await rawExchange(
      port,
      'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    assert.equal(ok?.status, 200);
    assert.deepEqual(JSON.parse(ok.body), { status: 'ok' });
    const text = ts.logs.join('\n');
    assert.match(text, /client error/); // positive control: the refusals were logged
    assert.ok(!text.includes(SECRET), text.slice(0, 4000));
  });
  it('a request followed by bytes that are not HTTP: refused as CONNECTION_CLOSED once its connection is gone (no INTERNAL, no error line); the server serves on', async () => {
    const since = ts.logs.length;
    const closed0 = await errorCount('CONNECTION_CLOSED');
    // The parser lets the request in, then meets the garbage and closes the connection while
    // the request is between its hooks: the rate limit's key then has no client address.
    const garbage = ['GARBAGE\r\n\r\n', '\x00\x01\x02', 'GET / HTTP/9.9\r\n\r\n'];
    for (const tail of garbage) {
      const answers = await rawExchange(
        port,
        `GET /attestation/quote?token=${SECRET} HTTP/1.1\r\nHost: x\r\n\r\n${tail}`,
      );
      assert.equal(answers.length, 1, JSON.stringify(answers));
      assertErrorAnswer('the garbage', answers[0], 'REQUEST_MALFORMED');
    }
    // The requests end after their connections did, each counted under its code: wait for
    // the counts (the positive control: the requests were let in and refused, not served).
    await until(async () => (await errorCount('CONNECTION_CLOSED')) - closed0 >= garbage.length);
    assert.equal((await errorCount('CONNECTION_CLOSED')) - closed0, garbage.length);
    assert.equal(await errorCount('INTERNAL'), 0);
    const lines = ts.logs.slice(since).map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const l of lines) {
      assert.ok(Number(l.level) < 50, `an error line: ${JSON.stringify(l)}`);
      assert.ok(!JSON.stringify(l).includes('INTERNAL'), JSON.stringify(l));
      assert.ok(!JSON.stringify(l).includes(SECRET), JSON.stringify(l));
    }
    const [ok] = await rawExchange(
      port,
      'GET /attestation/quote HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    assert.equal(ok?.status, 200, JSON.stringify(ok).slice(0, 500));
  });
  it('a body cut short by the connection closing (bytes that are not HTTP in the chunked body): CONNECTION_CLOSED, not VALIDATION_FAILED', async () => {
    const since = ts.logs.length;
    const [closed0, invalid0] = [
      await errorCount('CONNECTION_CLOSED'),
      await errorCount('VALIDATION_FAILED'),
    ];
    const chunk = JSON.stringify({ email: 'cut@example.com', password: SECRET });
    const answers = await rawExchange(
      port,
      `POST /auth/login?token=${SECRET} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
        `Transfer-Encoding: chunked\r\n\r\n${chunk.length.toString(16)}\r\n${chunk}\r\nZZZ\r\n`,
    );
    assert.equal(answers.length, 1, JSON.stringify(answers));
    assertErrorAnswer('the garbage', answers[0], 'REQUEST_MALFORMED');
    // The request was let in and ends once its body stream does: wait for its count.
    await until(
      async () =>
        (await errorCount('CONNECTION_CLOSED')) + (await errorCount('VALIDATION_FAILED')) >
        closed0 + invalid0,
    );
    assert.equal((await errorCount('CONNECTION_CLOSED')) - closed0, 1);
    assert.equal((await errorCount('VALIDATION_FAILED')) - invalid0, 0);
    for (const l of ts.logs.slice(since)) {
      assert.ok(Number((JSON.parse(l) as { level?: number }).level) < 50, l);
      assert.ok(!l.includes(SECRET), l);
    }
  });
});

describe('the 503 answered while the service shuts down', () => {
  it('carries the security headers and the error body, and closes the connection', async () => {
    const ts = await startTestService('pglite');
    const app = ts.service.app;
    // A test-only route held open until released: the app cannot finish closing meanwhile.
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const inHandler = new Promise<void>((r) => (entered = r));
    app.get('/test/held', async () => {
      entered();
      await released;
      return { held: true };
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const conn = rawConnection((app.server.address() as AddressInfo).port);
    conn.write('GET /test/held HTTP/1.1\r\nHost: x\r\n\r\n');
    await inHandler;
    const stopped = ts.stop();
    // The app is closing once its server stops listening (after the preClose hooks).
    while (app.server.listening) await new Promise((r) => setTimeout(r, 5));
    // A second request on the busy connection: the server still reads it, and refuses it.
    conn.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    release();
    const [held, refused] = parseResponses(await conn.closed);
    await stopped;
    assert.equal(held?.status, 200);
    assertErrorAnswer('closing', refused, 'SERVER_CLOSING');
    assert.equal(refused?.headers.connection, 'close');
    assert.ok(Number(refused?.headers['retry-after']) > 0);
  });
});

describe('client errors answered on the socket (http/client-errors.ts)', () => {
  /** What the handler writes for `err`, on a stand-in socket. */
  function answerTo(err: Error & { code?: string }, socket: Partial<Socket> = {}) {
    const written: Buffer[] = [];
    let destroyed = false;
    const fake = {
      writable: true,
      destroyed: false,
      write: (b: Buffer) => written.push(b) > 0,
      destroy: () => {
        destroyed = true;
      },
      ...socket,
    } as unknown as Socket;
    const handler = clientErrorHandler(SECURITY_HEADERS, createLogger('silent'));
    handler(err, fake);
    return { answers: parseResponses(Buffer.concat(written)), destroyed };
  }
  const err = (code: string) => Object.assign(new Error(code), { code });

  it('a request not received in time: 408 with the headers and error body', () => {
    const { answers, destroyed } = answerTo(err('ERR_HTTP_REQUEST_TIMEOUT'));
    assert.equal(answers.length, 1);
    assertErrorAnswer('timeout', answers[0], 'REQUEST_TIMEOUT');
    assert.ok(destroyed);
  });

  it('chunk extensions over the limit: 413 BODY_TOO_LARGE', () => {
    assertErrorAnswer(
      'chunk extensions',
      answerTo(err('HPE_CHUNK_EXTENSIONS_OVERFLOW')).answers[0],
      'BODY_TOO_LARGE',
    );
  });

  it('nothing is written on a reset connection, or into an answer already under way', () => {
    assert.deepEqual(answerTo(err('ECONNRESET')).answers, []);
    const busy = answerTo(err('HPE_INVALID_METHOD'), {
      _httpMessage: { headersSent: true },
    } as Partial<Socket>);
    assert.deepEqual(busy.answers, []);
    assert.ok(busy.destroyed);
  });
});
