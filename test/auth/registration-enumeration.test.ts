/**
 * Registration tells whether an email has an account (409 AUTH_EMAIL_TAKEN) until an email
 * channel exists (SECURITY.md). What slows that enumeration: the per-address registration limit
 * (AUTH_REGISTER_MAX_PER_IP per hour) counts every attempt, the 409s included, so one address
 * learns about at most that many emails per hour. Login does not enumerate: an unknown email
 * and a wrong password get the same answer.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestService, type TestService } from '../helpers/service.js';

describe('registration enumeration is limited per address', () => {
  let ts: TestService;
  const password = 'enumeration-password-1';
  before(async () => {
    ts = await startTestService('pglite', { AUTH_REGISTER_MAX_PER_IP: '3' });
    for (const who of ['a', 'b', 'c', 'd'])
      await ts.service.app.inject({
        method: 'POST',
        url: '/auth/register',
        remoteAddress: `192.0.2.${who.charCodeAt(0)}`,
        payload: { email: `${who}@example.com`, password },
      });
  });
  after(async () => ts?.stop());

  const probe = (email: string) =>
    ts.service.app.inject({
      method: 'POST',
      url: '/auth/register',
      remoteAddress: '198.51.100.7',
      payload: { email, password },
    });

  it('counts the 409s: the fourth probe from one address is refused 429', async () => {
    for (const email of ['a@example.com', 'b@example.com', 'c@example.com']) {
      const res = await probe(email);
      assert.equal(res.statusCode, 409, res.body);
      assert.equal(res.json().error.code, 'AUTH_EMAIL_TAKEN');
    }
    const fourth = await probe('d@example.com');
    assert.equal(fourth.statusCode, 429, fourth.body);
    assert.equal(fourth.json().error.code, 'RATE_LIMITED');
  });

  it('login answers an unknown email exactly like a wrong password', async () => {
    const login = (email: string, pw: string) =>
      ts.service.app.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { email, password: pw },
      });
    const unknown = await login('nobody@example.com', password);
    const wrong = await login('a@example.com', `${password}-wrong`);
    assert.equal(unknown.statusCode, 401);
    assert.equal(unknown.body, wrong.body);
  });
});
