/**
 * Log lines under hostile HTTP input, on the real app: malformed JSON that echoes the body in
 * the parser's message, secrets in a 404's query string, a client-chosen request id, headers
 * with credentials. No planted secret reaches any line.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestService, type TestService } from '../helpers/service.js';

const SECRET = 'planted-secret-4d2a9b';

describe('host logs under hostile HTTP input', () => {
  let ts: TestService;
  before(async () => {
    ts = await startTestService('pglite', { LOG_LEVEL: 'trace' });
    // Test-only routes that reply twice: Fastify warns, with the URL in the message's text.
    ts.service.app.get('/test/replies-twice', (_req, reply) => {
      void reply.send({ first: true });
      void reply.send({ second: true });
    });
    ts.service.app.get('/test/writes-head-twice', (_req, reply) => {
      reply.raw.writeHead(200);
      void reply.send({ second: true });
    });
  });
  after(async () => ts?.stop());

  it('no request shape puts a secret in a log line', async () => {
    const inject = ts.service.app.inject.bind(ts.service.app);
    const json = { 'content-type': 'application/json' };
    await inject({
      method: 'POST',
      url: '/auth/login',
      headers: json,
      payload: `{"password":"${SECRET}",`,
    });
    await inject({
      method: 'POST',
      url: '/auth/login',
      headers: json,
      payload: `{"email":"a@b.c","password":${SECRET}}`,
    });
    await inject({
      method: 'POST',
      url: '/auth/login',
      headers: json,
      payload: { email: 'x', password: SECRET },
    });
    await inject({ method: 'GET', url: `/nope?token=${SECRET}` });
    await inject({ method: 'GET', url: `/healthz?token=${SECRET}` });
    await inject({ method: 'GET', url: `/credentials/${SECRET}` });
    await inject({
      method: 'GET',
      url: '/healthz',
      headers: {
        authorization: `Bearer ${SECRET}`,
        cookie: `__Host-cloister_access=${SECRET}`,
        'x-request-id': SECRET,
      },
    });
    await inject({
      method: 'POST',
      url: '/auth/login',
      headers: { 'content-type': 'application/xml' },
      payload: SECRET,
    });
    await inject({
      method: 'POST',
      url: '/auth/login',
      headers: json,
      payload: JSON.stringify({ password: SECRET, pad: 'x'.repeat(2 << 20) }),
    });
    let deep = `"${SECRET}"`;
    for (let i = 0; i < 100_000; i++) deep = `{"a":${deep}}`;
    await inject({ method: 'POST', url: '/auth/login', headers: json, payload: deep });
    await inject({
      method: 'POST',
      url: '/auth/refresh',
      headers: json,
      payload: { refresh_token: SECRET },
    });
    const text = ts.logs.join('\n');
    assert.ok(ts.logs.length > 0);
    assert.ok(!text.includes(SECRET), text.slice(0, 4000));
  });

  it('Fastify\'s "Reply was already sent" warnings name no query string', async () => {
    const from = ts.logs.length;
    for (const url of [
      `/test/replies-twice?token=${SECRET}`,
      `/test/writes-head-twice?code=${SECRET}&state=x`,
    ])
      await ts.service.app.inject({ method: 'GET', url }).catch(() => undefined);
    const lines = ts.logs.slice(from);
    const warnings = lines.filter((l) => l.includes('Reply was already sent'));
    for (const route of ['/test/replies-twice', '/test/writes-head-twice'])
      assert.ok(
        warnings.some((l) => l.includes(`${route}?`)),
        `no warning for ${route}: ${lines.join('\n')}`,
      );
    assert.ok(!lines.join('\n').includes(SECRET), warnings.join('\n'));
  });
});
