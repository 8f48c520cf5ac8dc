/**
 * Enumeration through the enclave's lock of a mailed code (SECURITY.md "Sign-in methods: attack
 * review"; docs/protocol/auth.md "Email one-time codes"). Anyone can have a reset, recovery or
 * registration code mailed to an address; only an account's address (or a new one, at
 * registration) gets one. Five wrong codes then lock that code in the enclave
 * (AUTH_OTP_LOCKED, 429), while an address that was mailed nothing answers AUTH_OTP_INVALID
 * (401) forever: the fifth wrong code told the two apart. Failed before the fix (the known
 * address answered 429 AUTH_OTP_LOCKED at the fifth try). The same through sign-in codes,
 * which go to any address: five reset requests use up a known address's five mails of the hour
 * (a stranger's none), so a sign-in code then reaches only the stranger, and only its code
 * locked at the fifth wrong try; and a link code, which goes to a free address only (both
 * failed before the fix too). Also (each failed before its fix): /auth/register/confirm made no
 * enclave call for a taken address, and /auth/password/reset/start mailed a disabled account.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { mailedCode } from '../helpers/mail.js';
import { enclaveCallsDuring, startTestService, type TestService } from '../helpers/service.js';

const PASSWORD = 'a long enough password';

describe('the lock of a mailed code does not tell a known address from a stranger', () => {
  let ts: TestService;
  const post = (url: string, payload: Record<string, unknown>) =>
    ts.service.app.inject({ method: 'POST', url, payload });

  /** Status and body of five wrong codes at `url` for `email` after `start` was asked. */
  async function fiveWrong(
    start: string,
    url: string,
    email: string,
    extra: Record<string, unknown>,
    mail: RegExp | null,
  ): Promise<{ status: number; body: string }[]> {
    const s = await post(start, {
      email,
      ...(start === '/auth/register' ? { password: PASSWORD } : {}),
    });
    assert.ok(s.statusCode === 202, s.body);
    let right = '';
    if (mail) right = await mailedCode(ts.dataDir, mail, email);
    const wrong = right === '000000' ? '111111' : '000000';
    const out: { status: number; body: string }[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await post(url, { email, code: wrong, ...extra });
      out.push({ status: r.statusCode, body: r.body });
    }
    assert.equal(out[0]!.status, 401, out[0]!.body); // a code was checked, not a bad body
    return out;
  }

  before(async () => {
    ts = await startTestService('pglite', {
      AUTH_LOGIN_MAX_PER_IP: '100000',
      AUTH_REGISTER_MAX_PER_IP: '100000',
      AUTH_LOGIN_FAILURES_BEFORE_BACKOFF: '100',
      AUTH_REQUIRE_EMAIL_CONFIRMATION: 'true',
    });
    // Two confirmed accounts, registered before the checks (confirmation is on).
    for (const email of [
      'reset-known@example.com',
      'recovery-known@example.com',
      'login-known@example.com',
    ]) {
      const reg = await post('/auth/register', { email, password: PASSWORD });
      assert.equal(reg.statusCode, 202, reg.body);
      const code = await mailedCode(ts.dataDir, /confirmation code is (\d{6})/, email);
      const ok = await post('/auth/register/confirm', { email, code, password: PASSWORD });
      assert.equal(ok.statusCode, 200, ok.body);
    }
  });
  after(async () => ts?.stop());

  it('/auth/password/reset: five wrong codes answer the same for an account and a stranger', async () => {
    const extra = { password: 'a new long password' };
    const known = await fiveWrong(
      '/auth/password/reset/start',
      '/auth/password/reset',
      'reset-known@example.com',
      extra,
      /password reset code is (\d{6})/,
    );
    const stranger = await fiveWrong(
      '/auth/password/reset/start',
      '/auth/password/reset',
      'reset-stranger@example.com',
      extra,
      null,
    );
    assert.deepEqual(known, stranger, 'the fifth wrong code tells an account from a stranger');
  });

  it('/auth/recovery/confirm: five wrong codes answer the same for an account and a stranger', async () => {
    const extra = { password: 'a new long password' };
    const known = await fiveWrong(
      '/auth/recovery/start',
      '/auth/recovery/confirm',
      'recovery-known@example.com',
      extra,
      /account recovery code is (\d{6})/,
    );
    const stranger = await fiveWrong(
      '/auth/recovery/start',
      '/auth/recovery/confirm',
      'recovery-stranger@example.com',
      extra,
      null,
    );
    assert.deepEqual(known, stranger, 'the fifth wrong code tells an account from a stranger');
  });

  it('/auth/register/confirm: five wrong codes answer the same for a new and a taken address', async () => {
    // A new address gets a pending account and a code; a taken one gets neither.
    const extra = { password: PASSWORD };
    const fresh = await fiveWrong(
      '/auth/register',
      '/auth/register/confirm',
      'new-address@example.com',
      extra,
      /confirmation code is (\d{6})/,
    );
    const taken = await fiveWrong(
      '/auth/register',
      '/auth/register/confirm',
      'reset-known@example.com',
      extra,
      null,
    );
    assert.deepEqual(fresh, taken, 'the fifth wrong code tells a new address from a taken one');
  });

  it('/auth/otp/verify: reset requests spending the hourly mails do not make the lock tell', async () => {
    const mailsTo = (email: string) => {
      const dir = join(ts.dataDir, 'mail');
      return readdirSync(dir).filter((f) =>
        readFileSync(join(dir, f), 'utf8').includes(`To: ${email}`),
      ).length;
    };
    const answers = async (email: string, known: boolean) => {
      for (let i = 0; i < 5; i++)
        assert.equal((await post('/auth/password/reset/start', { email })).statusCode, 202);
      if (known) {
        // The reset mails are sent after the 202: wait until the enclave has sent all five.
        const until = Date.now() + 30_000;
        while (mailsTo(email) < 5 && Date.now() < until)
          await new Promise((r) => setTimeout(r, 20));
        assert.equal(mailsTo(email), 5);
      }
      assert.equal((await post('/auth/otp/start', { email })).statusCode, 202);
      const out: { status: number; body: string }[] = [];
      for (let i = 0; i < 5; i++) {
        const r = await post('/auth/otp/verify', { email, code: '000000' });
        out.push({ status: r.statusCode, body: r.body });
      }
      return out;
    };
    const known = await answers('login-known@example.com', true);
    const stranger = await answers('login-stranger@example.com', false);
    assert.deepEqual(known, stranger, 'the fifth wrong sign-in code tells an account apart');
  });

  it('/auth/methods/link: five wrong link codes answer the same for a free and a taken address', async () => {
    // Any account holder: a link code is mailed to a free address only.
    const login = await post('/auth/login', {
      email: 'login-known@example.com',
      password: PASSWORD,
    });
    const token = login.json().access_token as string;
    const authed = (url: string, payload: Record<string, unknown>) =>
      ts.service.app.inject({
        method: 'POST',
        url,
        payload,
        headers: { authorization: `Bearer ${token}` },
      });
    const answers = async (email: string, free: boolean) => {
      const s = await authed('/auth/methods/link/email/start', { email });
      assert.equal(s.statusCode, 202, s.body);
      if (free) await mailedCode(ts.dataDir, /link this address to your account is (\d{6})/, email);
      const out: { status: number; body: string }[] = [];
      for (let i = 0; i < 5; i++) {
        const r = await authed('/auth/methods/link', { email: { email, code: '000000' } });
        out.push({ status: r.statusCode, body: r.body });
      }
      assert.equal(out[0]!.status, 401, out[0]!.body);
      return out;
    };
    const free = await answers('free-address@example.com', true);
    const taken = await answers('reset-known@example.com', false);
    assert.deepEqual(
      free,
      taken,
      'the fifth wrong link code tells a free address from a taken one',
    );
  });

  it('/auth/password/reset/start mails no code to a disabled account', async () => {
    const email = 'recovery-known@example.com';
    await ts.service.db.query("UPDATE users SET status = 'disabled' WHERE email = $1", [email]);
    const seen = await enclaveCallsDuring(ts, async () => {
      // The route does not wait for the mail, but asks the enclave for it before answering.
      const r = await post('/auth/password/reset/start', { email });
      assert.equal(r.statusCode, 202);
    });
    assert.ok(!seen.includes('auth.otp_start'), 'a reset code was mailed to a disabled account');
  });

  it('/auth/register/confirm costs the same enclave call for a new and a taken address', async () => {
    const seen: string[][] = [];
    for (const email of ['another-new@example.com', 'reset-known@example.com']) {
      await post('/auth/register', { email, password: PASSWORD });
      seen.push(
        await enclaveCallsDuring(ts, async () => {
          const r = await post('/auth/register/confirm', {
            email,
            code: '000000',
            password: PASSWORD,
          });
          assert.equal(r.json().error.code, 'AUTH_OTP_INVALID', r.body);
        }),
      );
    }
    assert.deepEqual(seen[0], seen[1], 'a taken address costs no enclave call');
  });
});
