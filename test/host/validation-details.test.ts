/**
 * A 400 VALIDATION_FAILED names the field and the rule it broke (path + zod code, or our own
 * fixed message), for bodies, params and query strings alike, and never echoes the value sent.
 * Before this test every refusal said `(root): invalid`: fastify-type-provider-zod 7 stopped
 * nesting the zod issue in `params.issue`, and the handler read nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestService, type TestService } from '../helpers/service.js';

describe('validation details', () => {
  let ts: TestService;
  before(async () => {
    ts = await startTestService('pglite');
  });
  after(async () => ts?.stop());

  const details = async (method: 'GET' | 'POST', url: string, payload?: unknown) => {
    const res = await ts.service.app.inject({
      method,
      url,
      ...(payload === undefined ? {} : { payload: payload as object }),
    });
    assert.equal(res.statusCode, 400, res.body);
    const body = res.json() as { error: { code: string; details?: unknown } };
    assert.equal(body.error.code, 'VALIDATION_FAILED');
    return { text: res.body, details: body.error.details };
  };

  it('names the body field and the rule, without the value', async () => {
    const secret = 'PLANTED-VALUE-not-an-email-7731';
    const r = await details('POST', '/auth/register', { email: secret, password: 'x'.repeat(20) });
    assert.deepEqual(r.details, [{ path: 'email', issue: 'invalid_format' }]);
    assert.ok(!r.text.includes(secret), 'the value is not echoed');
  });

  it('names the field of a wrong type', async () => {
    const r = await details('POST', '/auth/login', { email: 'a@example.com', password: 7 });
    assert.ok(
      (r.details as { path: string }[]).some((d) => d.path === 'password'),
      JSON.stringify(r.details),
    );
  });

  it('prefixes params and query fields with where they were', async () => {
    const p = await details('GET', '/api/logs/not-a-uuid');
    assert.deepEqual(
      (p.details as { path: string }[]).map((d) => d.path.split('.')[0]),
      ['params'],
    );
  });
});
