/**
 * Findings of the read-only attack review of account recovery and email step-up (SECURITY.md
 * "Sign-in methods: attack review"), each with the test that failed before its fix:
 * - an email step-up renewed an earlier `mfa` under a fresh auth_time (the enclave now drops it);
 * - a mailed password reset replaced, at once, the password of an account with a second factor,
 *   which let a mailbox holder end the owner's sessions and wait out a recovery's time-lock
 *   (now AUTH_RECOVERY_REQUIRED: such an account goes through recovery);
 * - a passkey did not count as a second factor for step-up, so an email-code login could
 *   register a passkey of its own (covered by test/auth/step-up-rule.test.ts for the rule).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TOTP, URI } from 'otpauth';
import { mailedCode as mailedCodeIn } from '../helpers/mail.js';
import { startTestService, type TestService } from '../helpers/service.js';

describe('account recovery review: email step-up and mailed resets', () => {
  let ts: TestService;
  let totp: TOTP;
  const creds = { email: 'owner@example.com', password: 'a long enough password' };
  const call = (method: 'POST' | 'GET', url: string, token?: string, payload?: object) =>
    ts.service.app.inject({
      method,
      url,
      ...(payload ? { payload: payload as Record<string, unknown> } : {}),
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
  const claims = (jwt: string) =>
    JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as {
      amr: string[];
    };
  const mailedCode = (what: RegExp) => mailedCodeIn(ts.dataDir, what);

  before(async () => {
    ts = await startTestService('pglite', { AUTH_LOGIN_MAX_PER_IP: '100000' });
    assert.equal((await call('POST', '/auth/register', undefined, creds)).statusCode, 201);
    const token = (await call('POST', '/auth/login', undefined, creds)).json().access_token;
    const enrol = await call('POST', '/auth/totp/enroll', token, { label: creds.email });
    totp = URI.parse(enrol.json().otpauth_uri) as TOTP;
    const ok = await call('POST', '/auth/totp/confirm', token, { code: totp.generate() });
    assert.equal(ok.statusCode, 200, ok.body);
  });
  after(async () => ts?.stop());

  it('the enclave never carries mfa forward through an email step-up', async () => {
    const login = await call('POST', '/auth/login', undefined, {
      ...creds,
      totp_code: totp.generate({ timestamp: Date.now() + 30_000 }),
    });
    assert.equal(login.statusCode, 200, login.body);
    const mfaToken = login.json().access_token as string;
    assert.ok(claims(mfaToken).amr.includes('mfa'));
    // The host calls the enclave itself (its route refuses accounts with TOTP).
    const { rows } = await ts.service.db.query<{ identifier: string; binding: string }>(
      "SELECT identifier, binding FROM auth_methods WHERE kind = 'email'",
    );
    const sent = await ts.service.enclave.call('auth.otp_start', {
      email: creds.email,
      purpose: 'step_up',
    });
    const code = /(\d{6})/.exec(sent.dev_mail?.text ?? '')?.[1] ?? '';
    const up = await ts.service.enclave.call('auth.step_up_email', {
      access_token: mfaToken,
      roles: [],
      email: rows[0]!.identifier,
      binding: rows[0]!.binding,
      code,
    });
    assert.ok(claims(up.access_token).amr.includes('otp'));
    assert.ok(!claims(up.access_token).amr.includes('mfa'), 'mfa renewed by a mailbox');
  });

  it('a mailed reset does not replace the password of an account with a second factor', async () => {
    assert.equal(
      (await call('POST', '/auth/password/reset/start', undefined, { email: creds.email }))
        .statusCode,
      202,
    );
    const code = await mailedCode(/reset code is (\d{6})/i);
    const reset = await call('POST', '/auth/password/reset', undefined, {
      email: creds.email,
      code,
      password: 'the mailbox holder’s password',
    });
    assert.equal(reset.json().error.code, 'AUTH_RECOVERY_REQUIRED', reset.body);
    // Nothing changed: the owner's password is still right (it now asks for the second factor,
    // where a wrong password would be AUTH_INVALID_CREDENTIALS).
    const still = await call('POST', '/auth/login', undefined, creds);
    assert.equal(still.json().error.code, 'AUTH_MFA_REQUIRED', still.body);
  });
});
