/**
 * Email one-time codes (src/host/auth/otp-login.ts), the logins by a linked method they share
 * with SIWE (method-login.ts) and SIWE (siwe-login.ts), in-process against a scripted enclave
 * (host-signin-world.ts). Each test pins a rule of docs/protocol/auth.md: the backoff key and
 * which failures stay counted, the same answer for strangers, what is stored and recorded.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { createOtpLogin, sameForStrangers } from '../../src/host/auth/otp-login.js';
import { createSiweLogin } from '../../src/host/auth/siwe-login.js';
import { EnclaveCallError } from '../../src/host/enclave-client/rpc-client.js';
import { HostError } from '../../src/host/errors.js';
import {
  BINDING,
  NO_BINDING,
  NOW,
  PAIR,
  SID,
  UID,
  UUID,
  enclaveError,
  entry,
  issued,
  rejectsWith,
  settle,
  world,
} from './host-signin-world.js';

const EMAIL = 'a@example.test';
const SECRET = { password: 'the registration password' };
const active = { user_id: UID, binding: BINDING, roles: ['operator'], status: 'active' };

beforeEach(() => mock.timers.enable({ apis: ['Date'], now: NOW * 1000 }));
afterEach(() => mock.timers.reset());

function otp(opts: { mailDir?: string } = {}) {
  const w = world(opts);
  return { w, s: createOtpLogin(w.deps) };
}

/**
 * What the enclave may answer a code check with, the error the caller then gets, and whether
 * the attempt is refunded: a wrong or locked code stays counted (locked reads as wrong, so a
 * guesser cannot tell), an outage is not the caller's fault.
 */
const CODE_FAILURES = [
  ['AUTH_OTP_INVALID', 'EnclaveCallError', 'AUTH_OTP_INVALID', false],
  ['AUTH_OTP_LOCKED', 'HostError', 'AUTH_OTP_INVALID', false],
  ['ENCLAVE_UNAVAILABLE', 'EnclaveCallError', 'ENCLAVE_UNAVAILABLE', true],
] as const;

describe('sameForStrangers', () => {
  it('turns only AUTH_OTP_LOCKED into a HostError AUTH_OTP_INVALID', () => {
    const locked = sameForStrangers(new EnclaveCallError('AUTH_OTP_LOCKED'));
    assert.ok(locked instanceof HostError);
    assert.equal((locked as HostError).code, 'AUTH_OTP_INVALID');
    const invalid = new EnclaveCallError('AUTH_OTP_INVALID');
    assert.equal(sameForStrangers(invalid), invalid);
    const other = new Error('x');
    assert.equal(sameForStrangers(other), other);
  });
});

describe('otpStart', () => {
  it('asks the enclave for a code, with the access token only when given', async () => {
    const { w, s } = otp();
    w.enclaveAnswers['auth.otp_start'] = () => ({});
    await s.otpStart(EMAIL);
    await s.otpStart(EMAIL, 'link', 'tok');
    assert.deepEqual(w.calls, [
      { method: 'auth.otp_start', params: { email: EMAIL, purpose: 'login' } },
      {
        method: 'auth.otp_start',
        params: { email: EMAIL, purpose: 'link', access_token: 'tok' },
      },
    ]);
    assert.deepEqual(w.warnings, []);
  });

  it('a failure is logged with its code only, never thrown', async () => {
    const { w, s } = otp();
    w.enclaveAnswers['auth.otp_start'] = enclaveError('AUTH_OTP_RATE_LIMITED' as never);
    await s.otpStart(EMAIL, 'login');
    assert.deepEqual(w.warnings, [[{ code: 'AUTH_OTP_RATE_LIMITED' }, 'one-time code not sent']]);
  });

  it('writes a development mail under mailDir (0700 folder, 0600 file), saying where only', async () => {
    const root = await mkdtemp(join(tmpdir(), 'signin-mail-'));
    try {
      const dir = join(root, 'a', 'mail');
      const { w, s } = otp({ mailDir: dir });
      const mail = { from: 'f@x.test', to: EMAIL, subject: 'Your code', text: 'code 123456' };
      w.enclaveAnswers['auth.otp_start'] = () => ({ dev_mail: mail });
      await s.otpStart(EMAIL);
      const files = await readdir(dir);
      assert.equal(files.length, 1);
      const iso = new Date(NOW * 1000).toISOString().replace(/[:.]/g, '-');
      assert.ok(files[0]!.startsWith(`${iso}-`), files[0]);
      assert.match(
        files[0]!.slice(iso.length + 1),
        new RegExp(`${UUID.source.slice(1, -1)}\\.eml$`),
      );
      const file = join(dir, files[0]!);
      assert.equal(
        await readFile(file, 'utf8'),
        `From: f@x.test\nTo: ${EMAIL}\nSubject: Your code\n\ncode 123456`,
      );
      assert.equal((await stat(file)).mode & 0o777, 0o600);
      assert.equal((await stat(dir)).mode & 0o777, 0o700);
      assert.deepEqual(w.warnings, [
        [{ file }, 'no SMTP_URL: one-time-code mail written to a file (simulated platform)'],
      ]);

      // No mail handed back (SMTP sent it): nothing written, not even the folder.
      const smtp = otp({ mailDir: join(root, 'smtp') });
      smtp.w.enclaveAnswers['auth.otp_start'] = () => ({});
      await smtp.s.otpStart(EMAIL);
      assert.deepEqual(smtp.w.warnings, []);
      await assert.rejects(stat(join(root, 'smtp')), { code: 'ENOENT' });

      // Without a mail folder nothing is written and nothing logged.
      const bare = otp();
      bare.w.enclaveAnswers['auth.otp_start'] = () => ({ dev_mail: mail });
      await bare.s.otpStart(EMAIL);
      assert.deepEqual(bare.w.warnings, []);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('registerPending', () => {
  const registered = { user_id: UID, password_sealed: 'ph1.x', email_binding: BINDING };

  it('a new address: a pending account, its event, and a confirmation code', async () => {
    const { w, s } = otp();
    w.answers.findAccountByEmail = () => null;
    w.answers.insertUser = () => true;
    w.enclaveAnswers['auth.register'] = () => registered;
    w.enclaveAnswers['auth.otp_start'] = () => ({});
    await s.registerPending(EMAIL, { password: 'pw' } as never);
    await settle();
    assert.deepEqual(w.repoCalls, [
      ['findAccountByEmail', EMAIL],
      ['insertUser', UID, EMAIL, 'ph1.x', BINDING, 'pending'],
    ]);
    assert.deepEqual(w.recorded, [{ q: 'DB', event: { type: 'auth.registered', userId: UID } }]);
    assert.deepEqual(w.calls, [
      { method: 'auth.register', params: { email: EMAIL, secret: { password: 'pw' } } },
      { method: 'auth.otp_start', params: { email: EMAIL, purpose: 'confirm' } },
    ]);
  });

  it('a pending registration of the address is replaced; a taken one gets nothing', async () => {
    const pending = otp();
    pending.w.answers.findAccountByEmail = () => ({ user_id: UID, status: 'pending' });
    pending.w.answers.insertUser = () => true;
    pending.w.enclaveAnswers['auth.register'] = () => registered;
    pending.w.enclaveAnswers['auth.otp_start'] = () => ({});
    await pending.s.registerPending(EMAIL, { password: 'pw' } as never);
    await settle();
    assert.deepEqual(pending.w.repoNames(), ['findAccountByEmail', 'insertUser']);
    assert.equal(pending.w.calls.length, 2);

    for (const status of ['active', 'disabled']) {
      const taken = otp();
      taken.w.answers.findAccountByEmail = () => ({ user_id: UID, status });
      taken.w.enclaveAnswers['auth.register'] = () => registered;
      await taken.s.registerPending(EMAIL, { password: 'pw' } as never);
      await settle();
      // The same Argon2id work, then nothing stored and no mail.
      assert.deepEqual(
        taken.w.calls.map((c) => c.method),
        ['auth.register'],
      );
      assert.deepEqual(taken.w.repoNames(), ['findAccountByEmail']);
      assert.deepEqual(taken.w.recorded, []);
    }

    // Lost the race to insert: no event, no mail.
    const lost = otp();
    lost.w.answers.findAccountByEmail = () => null;
    lost.w.answers.insertUser = () => false;
    lost.w.enclaveAnswers['auth.register'] = () => registered;
    await lost.s.registerPending(EMAIL, { password: 'pw' } as never);
    await settle();
    assert.deepEqual(lost.w.recorded, []);
    assert.equal(lost.w.calls.length, 1);
  });
});

describe('confirmRegistration', () => {
  const pendingRow = { ...active, status: 'pending' };

  it('is throttled per address (retry-after in whole seconds) before any lookup', async () => {
    const { w, s } = otp();
    w.setWait(1500);
    await rejectsWith(
      s.confirmRegistration(EMAIL, '123456', SECRET),
      'AUTH_LOGIN_LOCKED',
      'HostError',
      2,
    );
    assert.deepEqual(w.throttleCalls, [`begin confirm:${EMAIL}`]);
    assert.deepEqual(w.repoCalls, []);
    w.setWait(1);
    await rejectsWith(
      s.confirmRegistration(EMAIL, '1', SECRET),
      'AUTH_LOGIN_LOCKED',
      'HostError',
      1,
    );
  });

  it('a pending account: the enclave checks its code, then it becomes active', async () => {
    const { w, s } = otp();
    w.answers.findUserByMethod = () => pendingRow;
    w.answers.sealedPassword = () => 'ph1.pending';
    w.answers.activate = () => true;
    w.enclaveAnswers['auth.confirm_email'] = () => ({ confirmed: true });
    assert.deepEqual(await s.confirmRegistration(EMAIL, '123456', SECRET), { user_id: UID });
    assert.deepEqual(w.calls, [
      {
        method: 'auth.confirm_email',
        params: {
          email: EMAIL,
          code: '123456',
          secret: SECRET,
          user: { user_id: UID, binding: BINDING, password_sealed: 'ph1.pending' },
        },
      },
    ]);
    assert.deepEqual(w.repoCalls, [
      ['findUserByMethod', 'email', EMAIL],
      ['sealedPassword', UID],
      ['activate', 'TX', UID],
    ]);
    assert.deepEqual(w.throttleCalls, [`begin confirm:${EMAIL}`, `succeeded confirm:${EMAIL}`]);
    assert.deepEqual(w.recorded, [
      { q: 'TX', event: { type: 'auth.email_confirmed', userId: UID } },
    ]);
    assert.deepEqual(w.steps, ['tx', 'record auth.email_confirmed']);

    // Already activated by a parallel confirmation: no second event.
    const again = otp();
    again.w.answers.findUserByMethod = () => pendingRow;
    again.w.answers.sealedPassword = () => 'ph1.pending';
    again.w.answers.activate = () => false;
    again.w.enclaveAnswers['auth.confirm_email'] = () => ({ confirmed: true });
    assert.deepEqual(await again.s.confirmRegistration(EMAIL, '1', SECRET), { user_id: UID });
    assert.deepEqual(again.w.recorded, []);
  });

  it('an active, disabled or unknown address: the same call for nobody, then AUTH_OTP_INVALID, counted', async () => {
    for (const row of [active, { ...active, status: 'disabled' }, null]) {
      for (const enclaveOk of [true, false]) {
        const { w, s } = otp();
        w.answers.findUserByMethod = () => row;
        w.enclaveAnswers['auth.confirm_email'] = enclaveOk
          ? () => ({ confirmed: true })
          : enclaveError('ENCLAVE_UNAVAILABLE');
        await rejectsWith(s.confirmRegistration(EMAIL, '123456', SECRET), 'AUTH_OTP_INVALID');
        const user = w.calls[0]!.params.user as {
          user_id: string;
          binding: string;
          password_sealed: string;
        };
        assert.notEqual(user.user_id, UID);
        assert.match(user.user_id, UUID);
        assert.equal(user.binding, NO_BINDING);
        assert.match(user.password_sealed, /^ph1\.A{64}$/);
        assert.deepEqual(w.throttleCalls, [`begin confirm:${EMAIL}`]);
        assert.deepEqual(w.recorded, []);
      }
    }
  });

  it('a pending account: wrong and locked codes stay counted (locked reads as wrong), others are refunded', async () => {
    for (const [thrown, cls, code, refunded] of CODE_FAILURES) {
      for (const refundFails of [false, true]) {
        const { w, s } = otp();
        w.setRefundFails(refundFails);
        w.answers.findUserByMethod = () => pendingRow;
        w.answers.sealedPassword = () => 'ph1.pending';
        w.enclaveAnswers['auth.confirm_email'] = enclaveError(thrown);
        await rejectsWith(s.confirmRegistration(EMAIL, '1', SECRET), code, cls);
        assert.deepEqual(w.throttleCalls, [
          `begin confirm:${EMAIL}`,
          ...(refunded ? [`refund confirm:${EMAIL}`] : []),
        ]);
      }
    }
  });
});

describe('password reset', () => {
  it('passwordResetStart mails a reset code only to an active account', async () => {
    for (const [row, mailed] of [
      [active, true],
      [{ ...active, status: 'disabled' }, false],
      [{ ...active, status: 'pending' }, false],
      [null, false],
    ] as const) {
      const { w, s } = otp();
      w.answers.findUserByMethod = () => row;
      w.enclaveAnswers['auth.otp_start'] = () => ({});
      await s.passwordResetStart(EMAIL);
      await settle();
      assert.deepEqual(w.repoCalls, [['findUserByMethod', 'email', EMAIL]]);
      assert.deepEqual(
        w.calls,
        mailed ? [{ method: 'auth.otp_start', params: { email: EMAIL, purpose: 'reset' } }] : [],
      );
    }
  });

  function resettable() {
    const { w, s } = otp();
    w.answers.findUserByMethod = () => active;
    w.answers.confirmedTotp = () => null;
    w.answers.passkeyIds = () => [];
    w.answers.pendingRecovery = () => null;
    w.answers.upsertPassword = () => undefined;
    w.answers.revokeAllSessions = () => 2;
    w.enclaveAnswers['auth.password_reset'] = () => ({ password_sealed: 'ph1.new' });
    return { w, s };
  }

  it('a good code: the new password, every session ended, one logged event, the verifier cache dropped', async () => {
    const { w, s } = resettable();
    await s.passwordReset(EMAIL, '123456', { password: 'new' } as never);
    assert.deepEqual(w.calls, [
      {
        method: 'auth.password_reset',
        params: {
          email: EMAIL,
          code: '123456',
          secret: { password: 'new' },
          user: { user_id: UID, binding: BINDING },
        },
      },
    ]);
    assert.deepEqual(w.repoCalls, [
      ['findUserByMethod', 'email', EMAIL],
      ['confirmedTotp', UID],
      ['passkeyIds', UID],
      ['pendingRecovery', UID],
      ['upsertPassword', 'TX', UID, 'ph1.new'],
      ['revokeAllSessions', 'TX', UID, 'logout_all'],
    ]);
    assert.deepEqual(w.recorded, [
      { q: 'TX', event: { type: 'auth.password_reset', userId: UID, revoked: 2 } },
    ]);
    assert.deepEqual(w.committed, [[entry('auth.password_reset')]]);
    assert.deepEqual(w.steps, ['commit', 'record auth.password_reset', 'forget']);
    assert.deepEqual(w.throttleCalls, [`begin reset:${EMAIL}`, `succeeded reset:${EMAIL}`]);
    assert.deepEqual(w.emitted, []);
  });

  it('an account with TOTP, a passkey or a pending recovery must use account recovery', async () => {
    for (const which of ['totp', 'passkey', 'recovery'] as const) {
      const { w, s } = resettable();
      if (which === 'totp') w.answers.confirmedTotp = () => 'tt1.sealed';
      if (which === 'passkey') w.answers.passkeyIds = () => ['cred'];
      if (which === 'recovery') w.answers.pendingRecovery = () => ({ id: 'r' });
      await rejectsWith(
        s.passwordReset(EMAIL, '1', { password: 'n' } as never),
        'AUTH_RECOVERY_REQUIRED',
      );
      assert.deepEqual(w.committed, []);
      assert.ok(!w.repoNames().includes('upsertPassword'), which);
      // The code was good: the backoff is cleared first.
      assert.deepEqual(w.throttleCalls, [`begin reset:${EMAIL}`, `succeeded reset:${EMAIL}`]);
    }
  });

  it('is throttled per address before any lookup, and the lock is an audit event', async () => {
    const { w, s } = resettable();
    w.setWait(2001);
    await rejectsWith(
      s.passwordReset(EMAIL, '1', {} as never),
      'AUTH_LOGIN_LOCKED',
      'HostError',
      3,
    );
    assert.deepEqual(w.repoCalls, []);
    assert.deepEqual(w.throttleCalls, [`begin reset:${EMAIL}`]);
    assert.deepEqual(w.emitted, []);
  });

  it('no active account: the same enclave call for nobody, then AUTH_OTP_INVALID, counted and audited', async () => {
    for (const row of [null, { ...active, status: 'disabled' }]) {
      for (const enclaveOk of [true, false]) {
        const { w, s } = resettable();
        w.answers.findUserByMethod = () => row;
        if (!enclaveOk) w.enclaveAnswers['auth.password_reset'] = enclaveError('AUTH_OTP_INVALID');
        await rejectsWith(
          s.passwordReset(EMAIL, '1', { password: 'n' } as never),
          'AUTH_OTP_INVALID',
        );
        assert.equal(w.calls.length, 1);
        const user = w.calls[0]!.params.user as { user_id: string; binding: string };
        assert.match(user.user_id, UUID);
        assert.notEqual(user.user_id, UID);
        assert.equal(user.binding, NO_BINDING);
        assert.deepEqual(w.throttleCalls, [`begin reset:${EMAIL}`]);
        assert.deepEqual(w.emitted, [
          {
            type: 'auth.login_failed',
            userId: row ? UID : null,
            reason: 'AUTH_OTP_INVALID',
            method: 'password_reset',
          },
        ]);
        assert.deepEqual(w.committed, []);
      }
    }
  });

  it('a wrong or locked code stays counted (locked reads as wrong); an outage is refunded', async () => {
    for (const [thrown, cls, code, refunded] of CODE_FAILURES) {
      for (const refundFails of [false, true]) {
        const { w, s } = resettable();
        w.setRefundFails(refundFails);
        w.enclaveAnswers['auth.password_reset'] = enclaveError(thrown);
        await rejectsWith(s.passwordReset(EMAIL, '1', {} as never), code, cls);
        assert.deepEqual(w.throttleCalls, [
          `begin reset:${EMAIL}`,
          ...(refunded ? [`refund reset:${EMAIL}`] : []),
        ]);
        assert.deepEqual(w.emitted, [
          { type: 'auth.login_failed', userId: UID, reason: thrown, method: 'password_reset' },
        ]);
      }
    }
    // A failure that is no enclave answer is refunded and audited as INTERNAL.
    const { w, s } = resettable();
    w.answers.findUserByMethod = () => {
      throw new Error('db down');
    };
    await assert.rejects(s.passwordReset(EMAIL, '1', {} as never), /db down/);
    assert.deepEqual(w.throttleCalls, [`begin reset:${EMAIL}`, `refund reset:${EMAIL}`]);
    assert.deepEqual(w.emitted, [
      { type: 'auth.login_failed', userId: null, reason: 'INTERNAL', method: 'password_reset' },
    ]);
  });
});

describe('step-up by email', () => {
  const method = { email: EMAIL, binding: BINDING };

  it('stepUpEmailStart: only an account with an email and without TOTP is mailed a step_up code', async () => {
    const none = otp();
    none.w.answers.emailMethodOf = () => null;
    await rejectsWith(none.s.stepUpEmailStart(UID), 'AUTH_METHOD_NOT_FOUND');
    assert.deepEqual(none.w.repoCalls, [['emailMethodOf', UID]]);

    const withTotp = otp();
    withTotp.w.answers.emailMethodOf = () => method;
    withTotp.w.answers.confirmedTotp = () => 'tt1.x';
    await rejectsWith(withTotp.s.stepUpEmailStart(UID), 'AUTH_MFA_REQUIRED');
    assert.deepEqual(withTotp.w.calls, []);

    const { w, s } = otp();
    w.answers.emailMethodOf = () => method;
    w.answers.confirmedTotp = () => null;
    w.enclaveAnswers['auth.otp_start'] = () => ({});
    await s.stepUpEmailStart(UID);
    assert.deepEqual(w.repoCalls, [
      ['emailMethodOf', UID],
      ['confirmedTotp', UID],
    ]);
    assert.deepEqual(w.calls, [
      { method: 'auth.otp_start', params: { email: EMAIL, purpose: 'step_up' } },
    ]);
  });

  function steppable() {
    const { w, s } = otp();
    w.answers.emailMethodOf = () => method;
    w.answers.confirmedTotp = () => null;
    w.answers.addRefresh = () => undefined;
    w.enclaveAnswers['auth.step_up_email'] = () => issued();
    return { w, s };
  }

  it('a good code: a fresh pair joined to this session, backoff cleared, a step_up event', async () => {
    const { w, s } = steppable();
    assert.deepEqual(await s.stepUpEmail('tok', UID, ['operator'], '123456'), PAIR);
    assert.deepEqual(w.calls, [
      {
        method: 'auth.step_up_email',
        params: {
          access_token: 'tok',
          roles: ['operator'],
          email: EMAIL,
          binding: BINDING,
          code: '123456',
        },
      },
    ]);
    assert.deepEqual(w.repoCalls, [
      ['emailMethodOf', UID],
      ['confirmedTotp', UID],
      ['addRefresh', 'TX', SID, UID, 'ref-hash', NOW + 86400],
    ]);
    assert.deepEqual(w.throttleCalls, [`begin step_up:${UID}`, `succeeded step_up:${UID}`]);
    assert.deepEqual(w.recorded, [
      { q: 'DB', event: { type: 'auth.step_up', userId: UID, factor: 'email_code' } },
    ]);
    assert.deepEqual(w.steps, ['tx', 'record auth.step_up']);
  });

  it('refuses without an email, with TOTP, while locked, and for another account', async () => {
    const none = steppable();
    none.w.answers.emailMethodOf = () => null;
    await rejectsWith(none.s.stepUpEmail('t', UID, [], '1'), 'AUTH_METHOD_NOT_FOUND');
    assert.deepEqual(none.w.throttleCalls, []);

    const withTotp = steppable();
    withTotp.w.answers.confirmedTotp = () => 'tt1.x';
    await rejectsWith(withTotp.s.stepUpEmail('t', UID, [], '1'), 'AUTH_MFA_REQUIRED');
    assert.deepEqual(withTotp.w.throttleCalls, []);

    const locked = steppable();
    locked.w.setWait(999);
    await rejectsWith(locked.s.stepUpEmail('t', UID, [], '1'), 'AUTH_LOGIN_LOCKED', 'HostError', 1);
    assert.deepEqual(locked.w.calls, []);

    const other = steppable();
    other.w.enclaveAnswers['auth.step_up_email'] = () => issued({ user_id: 'someone-else' });
    await rejectsWith(other.s.stepUpEmail('t', UID, [], '1'), 'AUTH_TOKEN_INVALID');
    assert.ok(!other.w.repoNames().includes('addRefresh'));
    assert.deepEqual(other.w.recorded, []);
  });

  it('wrong and locked codes stay counted and are thrown as they are; others are refunded', async () => {
    const cases = [
      ['AUTH_OTP_INVALID', false],
      ['AUTH_OTP_LOCKED', false],
      ['AUTH_TOKEN_INVALID', true],
    ] as const;
    for (const [thrown, refunded] of cases) {
      for (const refundFails of [false, true]) {
        const { w, s } = steppable();
        w.setRefundFails(refundFails);
        w.enclaveAnswers['auth.step_up_email'] = enclaveError(thrown);
        await rejectsWith(s.stepUpEmail('t', UID, [], '1'), thrown, 'EnclaveCallError');
        assert.deepEqual(w.throttleCalls, [
          `begin step_up:${UID}`,
          ...(refunded ? [`refund step_up:${UID}`] : []),
        ]);
      }
    }
  });
});

describe('otpVerify (email-code login)', () => {
  function verifiable(row: unknown = null) {
    const { w, s } = otp();
    w.answers.findUserByMethod = () => row;
    w.answers.confirmedTotp = () => null;
    w.answers.recoveryCodeMacs = () => ['mac-1'];
    w.answers.insertMethodUser = () => true;
    w.answers.insertSession = () => undefined;
    w.enclaveAnswers['auth.otp_verify'] = () => issued({ binding: BINDING });
    return { w, s };
  }

  it('a first login: the account, its link and session, one logged link and the login event', async () => {
    const { w, s } = verifiable();
    assert.deepEqual(await s.otpVerify(EMAIL, '123456'), {
      user_id: UID,
      created: true,
      ...PAIR,
    });
    assert.deepEqual(w.calls, [
      { method: 'auth.otp_verify', params: { email: EMAIL, code: '123456', user: null } },
    ]);
    assert.deepEqual(w.repoCalls, [
      ['findUserByMethod', 'email', EMAIL],
      ['insertMethodUser', 'TX', UID, 'email', EMAIL, BINDING],
      ['insertSession', 'TX', SID, UID, { hash: 'ref-hash', expiresAt: NOW + 86400 }],
    ]);
    assert.deepEqual(w.recorded, [
      { q: 'TX', event: { type: 'auth.method_linked', userId: UID, kind: 'email' } },
      { q: 'TX', event: { type: 'auth.login_succeeded', userId: UID, method: 'email_otp' } },
    ]);
    assert.deepEqual(w.committed, [[entry('auth.method_linked')]]);
    assert.deepEqual(w.throttleCalls, [`begin otp:${EMAIL}`, `succeeded otp:${EMAIL}`]);
    assert.deepEqual(w.emitted, []);
  });

  it('a parallel first login of the address took it: AUTH_EMAIL_TAKEN, audited', async () => {
    const { w, s } = verifiable();
    w.answers.insertMethodUser = () => false;
    await rejectsWith(s.otpVerify(EMAIL, '1'), 'AUTH_EMAIL_TAKEN');
    assert.ok(!w.repoNames().includes('insertSession'));
    assert.deepEqual(w.emitted, [
      { type: 'auth.login_failed', userId: UID, reason: 'AUTH_EMAIL_TAKEN', method: 'email_otp' },
    ]);
  });

  it('a linked account: its binding and roles go to the enclave; the session and login event in one statement', async () => {
    const { w, s } = verifiable(active);
    w.enclaveAnswers['auth.otp_verify'] = () => issued();
    const second = { totp: '123456' };
    assert.deepEqual(await s.otpVerify(EMAIL, '1', second as never), {
      user_id: UID,
      created: false,
      ...PAIR,
    });
    assert.deepEqual(w.calls[0]!.params, {
      email: EMAIL,
      code: '1',
      user: { user_id: UID, binding: BINDING, roles: ['operator'] },
      second,
    });
    assert.deepEqual(w.repoCalls, [
      ['findUserByMethod', 'email', EMAIL],
      ['confirmedTotp', UID],
      [
        'insertSession',
        'DB',
        SID,
        UID,
        { hash: 'ref-hash', expiresAt: NOW + 86400 },
        ['ROW', 'auth.login_succeeded'],
      ],
    ]);
    // The audit event is written by the session's own statement (no transaction needed).
    assert.deepEqual(w.steps, ['record auth.login_succeeded']);
    assert.deepEqual(w.recorded, [
      { q: 'session', event: { type: 'auth.login_succeeded', userId: UID, method: 'email_otp' } },
    ]);
    assert.deepEqual(w.committed, []);
  });

  it('an account with TOTP hands the enclave its sealed secret and recovery-code MACs', async () => {
    const { w, s } = verifiable(active);
    w.answers.confirmedTotp = () => 'tt1.sealed';
    w.enclaveAnswers['auth.otp_verify'] = () => issued();
    await s.otpVerify(EMAIL, '1');
    assert.deepEqual(w.calls[0]!.params.user, {
      user_id: UID,
      binding: BINDING,
      roles: ['operator'],
      totp_sealed: 'tt1.sealed',
      recovery_macs: ['mac-1'],
    });
  });

  it('a disabled account: AUTH_INVALID_CREDENTIALS before the enclave, refunded, audited with the account', async () => {
    for (const status of ['disabled']) {
      const { w, s } = verifiable({ ...active, status });
      await rejectsWith(s.otpVerify(EMAIL, '1'), 'AUTH_INVALID_CREDENTIALS');
      assert.deepEqual(w.calls, []);
      assert.deepEqual(w.throttleCalls, [`begin otp:${EMAIL}`, `refund otp:${EMAIL}`]);
      assert.deepEqual(w.emitted, [
        {
          type: 'auth.login_failed',
          userId: UID,
          reason: 'AUTH_INVALID_CREDENTIALS',
          method: 'email_otp',
        },
      ]);
    }
  });

  it('a pending account (an unconfirmed registration) is no account: the enclave gets user null', async () => {
    const { w, s } = verifiable({ ...active, status: 'pending' });
    w.enclaveAnswers['auth.otp_verify'] = enclaveError('AUTH_OTP_INVALID');
    await rejectsWith(s.otpVerify(EMAIL, '1'), 'AUTH_OTP_INVALID', 'EnclaveCallError');
    assert.deepEqual(
      w.calls.map((c) => [c.method, c.params.user]),
      [['auth.otp_verify', null]],
    );
    assert.deepEqual(w.emitted, [
      { type: 'auth.login_failed', userId: null, reason: 'AUTH_OTP_INVALID', method: 'email_otp' },
    ]);
  });

  it('a first login that fails is audited without an account', async () => {
    const { w, s } = verifiable(null);
    w.enclaveAnswers['auth.otp_verify'] = enclaveError('AUTH_OTP_INVALID');
    await rejectsWith(s.otpVerify(EMAIL, '1'), 'AUTH_OTP_INVALID', 'EnclaveCallError');
    assert.deepEqual(w.emitted, [
      { type: 'auth.login_failed', userId: null, reason: 'AUTH_OTP_INVALID', method: 'email_otp' },
    ]);
  });

  it('locked: AUTH_LOGIN_LOCKED with the wait, audited, no lookup', async () => {
    const { w, s } = verifiable(active);
    w.setWait(60_000);
    await rejectsWith(s.otpVerify(EMAIL, '1'), 'AUTH_LOGIN_LOCKED', 'HostError', 60);
    assert.deepEqual(w.repoCalls, []);
    assert.deepEqual(w.emitted, [
      { type: 'auth.login_failed', userId: null, reason: 'AUTH_LOGIN_LOCKED', method: 'email_otp' },
    ]);
  });

  it('wrong code, locked code and wrong second factor stay counted; an outage is refunded', async () => {
    const cases = [
      ['AUTH_OTP_INVALID', 'EnclaveCallError', 'AUTH_OTP_INVALID', false],
      ['AUTH_OTP_LOCKED', 'HostError', 'AUTH_OTP_INVALID', false],
      ['AUTH_MFA_INVALID', 'EnclaveCallError', 'AUTH_MFA_INVALID', false],
      ['AUTH_MFA_REQUIRED', 'EnclaveCallError', 'AUTH_MFA_REQUIRED', true],
    ] as const;
    for (const [thrown, cls, code, refunded] of cases) {
      for (const refundFails of [false, true]) {
        const { w, s } = verifiable(active);
        w.setRefundFails(refundFails);
        w.enclaveAnswers['auth.otp_verify'] = enclaveError(thrown);
        await rejectsWith(s.otpVerify(EMAIL, '1'), code, cls);
        assert.deepEqual(w.throttleCalls, [
          `begin otp:${EMAIL}`,
          ...(refunded ? [`refund otp:${EMAIL}`] : []),
        ]);
        assert.equal(w.emitted.length, 1);
        assert.equal((w.emitted[0] as { userId: unknown }).userId, UID);
      }
    }
  });
});

describe('siwe login', () => {
  // Every edge of the hex ranges: 0-9, a-f, A-F.
  const ADDRESS = `0x0123456789abcdefABCDEF0123456789abcdefAB`;
  const message = (line: string) => `example.test wants you to sign in\n${line}\n\nURI: x`;

  function siwe(row: unknown = null) {
    const w = world();
    w.answers.findUserByMethod = () => row;
    w.answers.confirmedTotp = () => null;
    w.answers.insertMethodUser = () => true;
    w.answers.insertSession = () => undefined;
    w.enclaveAnswers['auth.siwe_login'] = () => issued({ binding: BINDING });
    w.enclaveAnswers['auth.siwe_nonce'] = () => ({ nonce: 'n', expires_at: NOW + 60 });
    return { w, s: createSiweLogin(w.deps) };
  }

  it('siweNonce is the enclave’s', async () => {
    const { w, s } = siwe();
    assert.deepEqual(await s.siweNonce(), { nonce: 'n', expires_at: NOW + 60 });
    assert.deepEqual(w.calls, [{ method: 'auth.siwe_nonce', params: {} }]);
  });

  it('a first login: keyed and linked by the lower-cased address of the message’s second line', async () => {
    const { w, s } = siwe();
    const msg = message(ADDRESS);
    assert.deepEqual(await s.siweLogin(msg, '0xsig'), { user_id: UID, created: true, ...PAIR });
    const address = ADDRESS.toLowerCase();
    assert.deepEqual(w.calls, [
      { method: 'auth.siwe_login', params: { message: msg, signature: '0xsig', user: null } },
    ]);
    assert.deepEqual(w.repoCalls, [
      ['findUserByMethod', 'siwe', address],
      ['insertMethodUser', 'TX', UID, 'siwe', address, BINDING],
      ['insertSession', 'TX', SID, UID, { hash: 'ref-hash', expiresAt: NOW + 86400 }],
    ]);
    assert.deepEqual(w.recorded, [
      { q: 'TX', event: { type: 'auth.method_linked', userId: UID, kind: 'siwe' } },
      { q: 'TX', event: { type: 'auth.login_succeeded', userId: UID, method: 'siwe' } },
    ]);
    assert.deepEqual(w.throttleCalls, [`begin siwe:${address}`, `succeeded siwe:${address}`]);
  });

  it('a lost first-login race spends the nonce: AUTH_SIWE_NONCE_INVALID; a second factor is passed on', async () => {
    const { w, s } = siwe();
    w.answers.insertMethodUser = () => false;
    await rejectsWith(
      s.siweLogin(message(ADDRESS), '0xsig', { totp: '1' } as never),
      'AUTH_SIWE_NONCE_INVALID',
    );
    assert.deepEqual(w.calls[0]!.params.second, { totp: '1' });
    assert.deepEqual(w.emitted, [
      { type: 'auth.login_failed', userId: UID, reason: 'AUTH_SIWE_NONCE_INVALID', method: 'siwe' },
    ]);
  });

  it('a message without an address line is AUTH_SIWE_INVALID before the throttle', async () => {
    for (const line of [
      `${ADDRESS}x`,
      ` ${ADDRESS}`,
      ADDRESS.slice(0, -1),
      `0X${'a'.repeat(40)}`,
      `0x${'g'.repeat(40)}`,
    ]) {
      const { w, s } = siwe();
      await rejectsWith(s.siweLogin(message(line), 's'), 'AUTH_SIWE_INVALID');
      assert.deepEqual(w.throttleCalls, [], line);
      assert.deepEqual(w.emitted, [
        { type: 'auth.login_failed', userId: null, reason: 'AUTH_SIWE_INVALID', method: 'siwe' },
      ]);
    }
    const { w, s } = siwe();
    await rejectsWith(s.siweLogin(ADDRESS, 's'), 'AUTH_SIWE_INVALID');
    assert.deepEqual(w.throttleCalls, []);
  });

  it('locked: AUTH_LOGIN_LOCKED with the wait', async () => {
    const { w, s } = siwe();
    w.setWait(30_500);
    await rejectsWith(s.siweLogin(message(ADDRESS), 's'), 'AUTH_LOGIN_LOCKED', 'HostError', 31);
    assert.deepEqual(w.calls, []);
  });

  it('a bad signature or second factor stays counted; anything else is refunded', async () => {
    const address = ADDRESS.toLowerCase();
    for (const [thrown, refunded] of [
      ['AUTH_SIWE_SIGNATURE_INVALID', false],
      ['AUTH_MFA_INVALID', false],
      ['AUTH_SIWE_NONCE_INVALID', true],
    ] as const) {
      for (const refundFails of [false, true]) {
        const { w, s } = siwe(active);
        w.setRefundFails(refundFails);
        w.enclaveAnswers['auth.siwe_login'] = enclaveError(thrown);
        await rejectsWith(s.siweLogin(message(ADDRESS), 's'), thrown, 'EnclaveCallError');
        assert.deepEqual(w.throttleCalls, [
          `begin siwe:${address}`,
          ...(refunded ? [`refund siwe:${address}`] : []),
        ]);
        assert.deepEqual(w.emitted, [
          { type: 'auth.login_failed', userId: UID, reason: thrown, method: 'siwe' },
        ]);
      }
    }
    // A disabled account is refused before the enclave and refunded.
    const { w, s } = siwe({ ...active, status: 'disabled' });
    await rejectsWith(s.siweLogin(message(ADDRESS), 's'), 'AUTH_INVALID_CREDENTIALS');
    assert.deepEqual(w.calls, []);
    assert.deepEqual(w.throttleCalls, [`begin siwe:${address}`, `refund siwe:${address}`]);
  });
});
