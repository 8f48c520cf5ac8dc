/**
 * Step-up by email code (docs/protocol/auth.md "Step-up"), for an account without TOTP: a
 * refreshed token (no `auth_time`) gets STEP_UP_REQUIRED on a sensitive route; a `step_up` code
 * mailed by the enclave to the account's email steps the session up (amr + otp, fresh
 * auth_time, not mfa); a wrong code and a sign-in code are refused.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { mailedCode as mailedCodeIn } from '../helpers/mail.js';
import { startTestService, type TestService } from '../helpers/service.js';

/** The service's routes, in process, with a bearer token when given. */
const caller =
  (ts: () => TestService) =>
  (method: 'POST' | 'GET', url: string, token?: string, payload?: object) =>
    ts().service.app.inject({
      method,
      url,
      ...(payload ? { payload: payload as Record<string, unknown> } : {}),
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });

describe('step-up by email code', () => {
  let ts: TestService;
  const creds = { email: 'stepper@example.com', password: 'a long enough password' };
  const call = caller(() => ts);
  const mailedCode = (what: RegExp) => mailedCodeIn(ts.dataDir, what);

  before(async () => {
    ts = await startTestService('pglite', { AUTH_LOGIN_MAX_PER_IP: '100000' });
    assert.equal((await call('POST', '/auth/register', undefined, creds)).statusCode, 201);
  });
  after(async () => ts?.stop());

  it('a refreshed token steps up with a mailed step_up code', async () => {
    const login = await call('POST', '/auth/login', undefined, creds);
    const refreshed = await call('POST', '/auth/refresh', undefined, {
      refresh_token: login.json().refresh_token,
    });
    assert.equal(refreshed.statusCode, 200, refreshed.body);
    const token = refreshed.json().access_token as string;
    const refused = await call('POST', '/auth/totp/enroll', token, {});
    assert.equal(refused.json().error.code, 'STEP_UP_REQUIRED');

    // A sign-in code is not a step-up code.
    await call('POST', '/auth/otp/start', undefined, { email: creds.email });
    const signIn = await mailedCode(/sign-in code is (\d{6})/);
    const wrongKind = await call('POST', '/auth/step-up', token, { email_code: signIn });
    assert.equal(wrongKind.json().error.code, 'AUTH_OTP_INVALID');

    const start = await call('POST', '/auth/step-up/email/start', token);
    assert.equal(start.statusCode, 202, start.body);
    const code = await mailedCode(/sensitive operation is (\d{6})/);
    const wrong = await call('POST', '/auth/step-up', token, {
      email_code: code === '000000' ? '000001' : '000000',
    });
    assert.equal(wrong.json().error.code, 'AUTH_OTP_INVALID');
    const up = await call('POST', '/auth/step-up', token, { email_code: code });
    assert.equal(up.statusCode, 200, up.body);
    const claims = JSON.parse(
      Buffer.from(up.json().access_token.split('.')[1], 'base64url').toString('utf8'),
    ) as { amr: string[]; auth_time: number };
    assert.ok(claims.amr.includes('otp'));
    assert.ok(!claims.amr.includes('mfa'));
    const ok = await call('POST', '/auth/totp/enroll', up.json().access_token, {});
    assert.equal(ok.statusCode, 201, ok.body);
  });

  it('a step-up ends the refresh chain from before it: a token stolen earlier refreshes no more, the session goes on', async () => {
    const login = await call('POST', '/auth/login', undefined, creds);
    // The thief's copy: a refresh token of the session taken before the step-up, kept unused.
    const stolen = login.json().refresh_token as string;
    const token = login.json().access_token as string;
    await call('POST', '/auth/step-up/email/start', token);
    const code = await mailedCode(/sensitive operation is (\d{6})/);
    const up = await call('POST', '/auth/step-up', token, { email_code: code });
    assert.equal(up.statusCode, 200, up.body);

    const replayed = await call('POST', '/auth/refresh', undefined, { refresh_token: stolen });
    assert.equal(replayed.statusCode, 401, replayed.body);
    // Refused as invalid, not as reuse: the session (and the account's others) are not ended.
    assert.equal(replayed.json().error.code, 'AUTH_REFRESH_INVALID');
    const mine = await call('POST', '/auth/refresh', undefined, {
      refresh_token: up.json().refresh_token,
    });
    assert.equal(mine.statusCode, 200, mine.body);
    const me = await call('GET', '/auth/methods', mine.json().access_token);
    assert.equal(me.statusCode, 200, me.body);
  });
});

describe('step-up by email code, with the sign-in backoff after one failure', () => {
  let ts: TestService;
  const creds = { email: 'stepper-backoff@example.com', password: 'a long enough password' };
  const call = caller(() => ts);

  before(async () => {
    ts = await startTestService('pglite', {
      AUTH_LOGIN_MAX_PER_IP: '100000',
      AUTH_LOGIN_FAILURES_BEFORE_BACKOFF: '1',
    });
    assert.equal((await call('POST', '/auth/register', undefined, creds)).statusCode, 201);
  });
  after(async () => ts?.stop());

  it("wrong sign-in codes sent by anyone do not hold up the owner's step-up", async () => {
    const login = await call('POST', '/auth/login', undefined, creds);
    assert.equal(login.statusCode, 200, login.body);
    const refreshed = await call('POST', '/auth/refresh', undefined, {
      refresh_token: login.json().refresh_token,
    });
    const token = refreshed.json().access_token as string;
    // A stranger sends wrong sign-in codes for the owner's address until sign-in waits 4 s.
    const guess = () =>
      call('POST', '/auth/otp/verify', undefined, { email: creds.email, code: '000000' });
    for (const pause of [1100, 2100, 0]) {
      assert.equal((await guess()).json().error.code, 'AUTH_OTP_INVALID');
      await new Promise((r) => setTimeout(r, pause));
    }
    assert.equal((await guess()).json().error.code, 'AUTH_LOGIN_LOCKED');

    // The owner's session still steps up by email at once.
    assert.equal((await call('POST', '/auth/step-up/email/start', token)).statusCode, 202);
    const code = await mailedCodeIn(ts.dataDir, /sensitive operation is (\d{6})/);
    const up = await call('POST', '/auth/step-up', token, { email_code: code });
    assert.equal(up.statusCode, 200, up.body);
  });
});
