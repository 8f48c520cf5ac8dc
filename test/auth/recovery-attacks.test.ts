/**
 * Account recovery against a host that writes the database, and against enumeration
 * (SECURITY.md "Sign-in methods: attack review", the recovery rows; docs/protocol/auth.md
 * "Account recovery"). Each case failed before its fix:
 * - the pending sealed password, copied into user_passwords, logged in (skipping the time-lock);
 * - a completed recovery's row, put back, completed again after the password had changed;
 * - a cancelled recovery's row, put back, was completed by anyone with the address alone;
 * - a recovery confirmed before the owner changed the password still completed;
 * - /auth/recovery/confirm and /complete told a known address from a stranger (another answer,
 *   or no enclave call for the stranger, hence a shorter time);
 * - wrong email step-up codes did not count toward the account's backoff;
 * - recovery started (a mail) and completed for a disabled account.
 * No timing thresholds: the time of an answer is compared through what the host does (the same
 * enclave calls for a known and an unknown address).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TOTP, URI } from 'otpauth';
import { mailedCode } from '../helpers/mail.js';
import { dumpPublicSchema } from '../helpers/security-util.js';
import { enclaveCallsDuring, startTestService, type TestService } from '../helpers/service.js';

type Method = 'GET' | 'POST' | 'DELETE';
const PASSWORD = 'a long enough password';
const NEW_PASSWORD = 'recovered passphrase 7Q2x';
const WRONG_COMPLETION = 'A'.repeat(22);

describe('account recovery against a host that writes the database', () => {
  let ts: TestService;
  const completionCodes: string[] = [];
  const call = (method: Method, url: string, token?: string, payload?: object) =>
    ts.service.app.inject({
      method,
      url,
      ...(payload ? { payload: payload as Record<string, unknown> } : {}),
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
  const login = (email: string, password: string) =>
    call('POST', '/auth/login', undefined, { email, password });
  /** The enclave methods the host calls while `fn` runs. */
  const enclaveCalls = (fn: () => Promise<unknown>) => enclaveCallsDuring(ts, fn);
  async function withTotp(email: string): Promise<{ token: string; totp: TOTP }> {
    const reg = await call('POST', '/auth/register', undefined, { email, password: PASSWORD });
    assert.equal(reg.statusCode, 201, reg.body);
    const token = (await login(email, PASSWORD)).json().access_token as string;
    const enrol = await call('POST', '/auth/totp/enroll', token, {});
    assert.equal(enrol.statusCode, 201, enrol.body);
    const totp = URI.parse(enrol.json().otpauth_uri) as TOTP;
    const ok = await call('POST', '/auth/totp/confirm', token, { code: totp.generate() });
    assert.equal(ok.statusCode, 200, ok.body);
    return { token, totp };
  }
  /** The owner's session: password and the next TOTP step (once per account). */
  async function ownerSession(email: string, totp: TOTP): Promise<string> {
    const owner = await call('POST', '/auth/login', undefined, {
      email,
      password: PASSWORD,
      totp_code: totp.generate({ timestamp: Date.now() + 30_000 }),
    });
    assert.equal(owner.statusCode, 200, owner.body);
    return owner.json().access_token as string;
  }
  /** Start and confirm a recovery: pending (the account has TOTP). */
  async function pending(email: string): Promise<{ completion: string | undefined }> {
    const start = await call('POST', '/auth/recovery/start', undefined, { email });
    assert.equal(start.statusCode, 202);
    const code = await mailedCode(ts.dataDir, /account recovery code is (\d{6})/, email);
    const r = await call('POST', '/auth/recovery/confirm', undefined, {
      email,
      code,
      password: NEW_PASSWORD,
    });
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(r.json().status, 'pending');
    const completion = r.json().completion_code as string | undefined;
    if (completion) completionCodes.push(completion);
    return { completion };
  }
  async function userId(email: string): Promise<string> {
    const { rows } = await ts.service.db.query<{ id: string }>(
      'SELECT id FROM users WHERE email = $1',
      [email],
    );
    return rows[0]!.id;
  }
  /** The account's recovery row as stored, to be put back later (all columns). */
  async function saveRow(email: string): Promise<Record<string, unknown>> {
    const { rows } = await ts.service.db.query<Record<string, unknown>>(
      'SELECT * FROM auth_recoveries WHERE user_id = $1',
      [await userId(email)],
    );
    assert.ok(rows[0], 'a pending recovery row');
    return rows[0];
  }
  async function putBack(row: Record<string, unknown>): Promise<void> {
    const cols = Object.keys(row);
    await ts.service.db.query(
      `INSERT INTO auth_recoveries (${cols.join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')})`,
      cols.map((c) => row[c]),
    );
  }

  before(async () => {
    ts = await startTestService('pglite', {
      AUTH_LOGIN_MAX_PER_IP: '100000',
      AUTH_REGISTER_MAX_PER_IP: '100000',
      AUTH_RECOVERY_DELAY_SECONDS: '0',
      AUTH_LOGIN_FAILURES_BEFORE_BACKOFF: '3',
    });
  });
  after(async () => ts?.stop());

  it('the pending password copied into user_passwords does not open as a password', async () => {
    const email = 'copied@example.com';
    await withTotp(email);
    await pending(email);
    await ts.service.db.query(
      `UPDATE user_passwords p SET sealed = r.password_sealed
         FROM auth_recoveries r WHERE r.user_id = p.user_id AND p.user_id = $1`,
      [await userId(email)],
    );
    // AUTH_MFA_REQUIRED would mean the password was accepted (TOTP is still enrolled).
    const r = await login(email, NEW_PASSWORD);
    assert.equal(
      r.json().error?.code,
      'AUTH_INVALID_CREDENTIALS',
      `the copied pending password is accepted: ${r.body}`,
    );
  });

  it('a completed recovery put back is refused: its MAC is bound to the password it replaced', async () => {
    const email = 'replayed@example.com';
    await withTotp(email);
    const { completion } = await pending(email);
    const row = await saveRow(email);
    const done = await call('POST', '/auth/recovery/complete', undefined, {
      email,
      completion_code: completion,
    });
    assert.equal(done.statusCode, 200, done.body);
    // The owner takes the account back: enrols TOTP again.
    const token = (await login(email, NEW_PASSWORD)).json().access_token as string;
    const enrol = await call('POST', '/auth/totp/enroll', token, {});
    const totp = URI.parse(enrol.json().otpauth_uri) as TOTP;
    assert.equal(
      (
        await call('POST', '/auth/totp/confirm', token, {
          code: totp.generate({ timestamp: Date.now() + 30_000 }), // a step not yet used
        })
      ).statusCode,
      200,
    );
    await putBack(row);
    const replay = await call('POST', '/auth/recovery/complete', undefined, {
      email,
      completion_code: completion,
    });
    assert.equal(replay.statusCode, 409, `the replayed recovery completed: ${replay.body}`);
    assert.equal(replay.json().error.code, 'AUTH_RECOVERY_INVALID');
    const still = await ts.service.db.query('SELECT 1 FROM auth_totp WHERE user_id = $1', [
      await userId(email),
    ]);
    assert.equal(still.rows.length, 1, 'the replay removed the new TOTP');
  });

  it('a cancelled recovery put back cannot be completed without the completion code', async () => {
    const email = 'cancelled@example.com';
    const { totp } = await withTotp(email);
    await pending(email);
    const row = await saveRow(email);
    const token = await ownerSession(email, totp);
    assert.equal((await call('DELETE', '/auth/recovery', token)).statusCode, 200);
    await putBack(row);
    // What a host has: the address (and any code it makes up); the code holder's code it has not.
    await call('POST', '/auth/recovery/complete', undefined, { email });
    assert.equal((await login(email, NEW_PASSWORD)).statusCode, 401, 'the recovery completed');
    const made = await call('POST', '/auth/recovery/complete', undefined, {
      email,
      completion_code: WRONG_COMPLETION,
    });
    assert.equal(made.statusCode, 409, made.body);
    assert.equal(made.json().error.code, 'AUTH_RECOVERY_INVALID');
    assert.equal((await login(email, NEW_PASSWORD)).statusCode, 401, 'the recovery completed');
  });

  it("the owner's password change voids a pending recovery", async () => {
    const email = 'changed@example.com';
    const { totp } = await withTotp(email);
    const { completion } = await pending(email);
    const token = await ownerSession(email, totp);
    const change = await call('POST', '/auth/password/change', token, {
      password: "the owner's new password",
    });
    assert.equal(change.statusCode, 200, change.body);
    const r = await call('POST', '/auth/recovery/complete', undefined, {
      email,
      completion_code: completion,
    });
    assert.equal(r.statusCode, 409, `completed after a password change: ${r.body}`);
    assert.equal(r.json().error.code, 'AUTH_RECOVERY_INVALID');
    assert.equal((await login(email, NEW_PASSWORD)).statusCode, 401);
  });

  it('the row cannot be moved in time: the MAC covers the completion deadline', async () => {
    const email = 'deadline@example.com';
    await withTotp(email);
    const { completion } = await pending(email);
    await ts.service.db.query(
      'UPDATE auth_recoveries SET expires_at = expires_at + 86400 WHERE user_id = $1',
      [await userId(email)],
    );
    const r = await call('POST', '/auth/recovery/complete', undefined, {
      email,
      completion_code: completion,
    });
    assert.equal(r.json().error?.code, 'AUTH_RECOVERY_INVALID', r.body);
  });

  it('/auth/recovery/confirm and /complete answer a known and an unknown address alike', async () => {
    const known = 'known@example.com';
    const unknown = 'stranger@example.com';
    await withTotp(known);
    await pending(known); // a pending recovery: the case that answered 409 where a stranger got 404
    const confirmBody = (email: string) => ({ email, code: '000000', password: NEW_PASSWORD });
    const answers: { status: number; body: string; calls: string[] }[] = [];
    for (const email of [known, unknown]) {
      let res!: Awaited<ReturnType<typeof call>>;
      const calls = await enclaveCalls(async () => {
        res = await call('POST', '/auth/recovery/confirm', undefined, confirmBody(email));
      });
      answers.push({ status: res.statusCode, body: res.body, calls });
    }
    assert.deepEqual(answers[0], answers[1], 'confirm: a known and an unknown address differ');
    assert.equal(answers[0]!.status, 401);
    const completes: { status: number; body: string; calls: string[] }[] = [];
    for (const email of [known, unknown]) {
      let res!: Awaited<ReturnType<typeof call>>;
      const calls = await enclaveCalls(async () => {
        res = await call('POST', '/auth/recovery/complete', undefined, {
          email,
          completion_code: WRONG_COMPLETION,
        });
      });
      completes.push({ status: res.statusCode, body: res.body, calls });
    }
    assert.deepEqual(completes[0], completes[1], 'complete: a known and an unknown address differ');
    assert.deepEqual(completes[0]!.calls, ['auth.recovery_complete']);
  });

  it('wrong email step-up codes count toward the backoff of the account', async () => {
    const email = 'stepper@example.com';
    await call('POST', '/auth/register', undefined, { email, password: PASSWORD });
    const token = (await login(email, PASSWORD)).json().access_token as string;
    const start = await call('POST', '/auth/step-up/email/start', token);
    assert.equal(start.statusCode, 202, start.body);
    const code = await mailedCode(ts.dataDir, /sensitive operation is (\d{6})/, email);
    const wrong = code === '000000' ? '111111' : '000000';
    for (let i = 0; i < 3; i++) {
      const r = await call('POST', '/auth/step-up', token, { email_code: wrong });
      assert.equal(r.json().error.code, 'AUTH_OTP_INVALID', r.body);
    }
    // The right code now waits for the backoff, as after 3 wrong sign-in codes.
    const locked = await call('POST', '/auth/step-up', token, { email_code: code });
    assert.equal(locked.statusCode, 429, `no backoff after wrong step-up codes: ${locked.body}`);
    assert.equal(locked.json().error.code, 'AUTH_LOGIN_LOCKED');
    // The backoff is the account's step-up one: sign-in codes for the address keep their own
    // (so that strangers typing the address cannot hold up the owner's step-up either).
    const signIn = await call('POST', '/auth/otp/verify', undefined, { email, code: '123456' });
    assert.equal(signIn.json().error.code, 'AUTH_OTP_INVALID', signIn.body);
  });

  it('a disabled account gets no recovery mail and cannot complete one', async () => {
    const email = 'disabled@example.com';
    await withTotp(email);
    const { completion } = await pending(email);
    await ts.service.db.query("UPDATE users SET status = 'disabled' WHERE email = $1", [email]);
    const calls = await enclaveCalls(async () => {
      const r = await call('POST', '/auth/recovery/start', undefined, { email });
      // The route does not wait for the mail, but asks the enclave for it before answering.
      assert.equal(r.statusCode, 202);
    });
    assert.ok(
      !calls.includes('auth.otp_start'),
      'a recovery code was mailed to a disabled account',
    );
    const done = await call('POST', '/auth/recovery/complete', undefined, {
      email,
      completion_code: completion,
    });
    assert.equal(done.statusCode, 409, `a disabled account completed: ${done.body}`);
    assert.equal(done.json().error.code, 'AUTH_RECOVERY_INVALID');
  });

  it('no completion code in any table or log line', async () => {
    assert.ok(completionCodes.length >= 4);
    const dump = (await dumpPublicSchema(ts.service.db))
      .flatMap((d) => d.rows.map((r) => `${d.table}: ${r}`))
      .join('\n');
    const logs = ts.logs.join('\n');
    assert.ok(dump.includes('auth_recoveries: ')); // positive control: rows to search
    for (const c of completionCodes) {
      assert.ok(!dump.includes(c), 'a completion code in the database');
      assert.ok(!logs.includes(c), 'a completion code in the logs');
    }
  });
});
