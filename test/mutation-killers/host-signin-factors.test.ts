/**
 * Second factors and account recovery on the host (src/host/auth/totp-service.ts,
 * passkey-service.ts, recovery-service.ts), in-process against a scripted enclave
 * (host-signin-world.ts): a recovery code spent once and before its session, a passkey's counter
 * advanced over the row the enclave checked, step-ups only for the token's own account, and a
 * recovery that waits out its lock and completes only if nothing changed meanwhile.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { createPasskeyService } from '../../src/host/auth/passkey-service.js';
import { createRecoveryService } from '../../src/host/auth/recovery-service.js';
import { createTotpService, factorKind } from '../../src/host/auth/totp-service.js';
import {
  BINDING,
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
const active = { user_id: UID, binding: BINDING, roles: ['operator'], status: 'active' };
const SESSION = { hash: 'ref-hash', expiresAt: NOW + 86400 };

beforeEach(() => mock.timers.enable({ apis: ['Date'], now: NOW * 1000 }));
afterEach(() => mock.timers.reset());

function totp() {
  const w = world();
  return { w, s: createTotpService(w.deps) };
}

describe('totp: second factors of an account', () => {
  it('factorKind tells a recovery code from a TOTP code', () => {
    assert.equal(factorKind({ recovery_code: 'x' } as never), 'recovery_code');
    assert.equal(factorKind({ totp: '123456' } as never), 'totp');
  });

  it('secondFactors, hasSecondFactor and totpEnrolled', async () => {
    for (const [t, keys, factors] of [
      [null, [], []],
      ['tt1.x', [], ['totp', 'recovery_code']],
      [null, ['c'], ['passkey']],
      ['tt1.x', ['c'], ['totp', 'recovery_code', 'passkey']],
    ] as const) {
      const { w, s } = totp();
      w.answers.confirmedTotp = () => t;
      w.answers.passkeyIds = () => keys;
      assert.deepEqual(await s.secondFactors(UID), factors);
      assert.equal(await s.hasSecondFactor(UID), factors.length > 0);
      assert.equal(await s.totpEnrolled(UID), t !== null);
      assert.deepEqual(w.repoCalls.slice(0, 2), [
        ['confirmedTotp', UID],
        ['passkeyIds', UID],
      ]);
    }
  });
});

describe('totp: enrolment and removal', () => {
  it('enrollTotp: refused when confirmed, for another account, or when another enrolment won', async () => {
    const { w, s } = totp();
    w.answers.confirmedTotp = () => null;
    w.answers.startTotp = () => true;
    w.enclaveAnswers['auth.totp_enroll'] = () => ({
      user_id: UID,
      totp_sealed: 'tt1.p',
      otpauth_uri: 'otpauth://x',
    });
    assert.deepEqual(await s.enrollTotp('tok', UID, 'Cloister'), { otpauth_uri: 'otpauth://x' });
    assert.deepEqual(w.calls, [
      { method: 'auth.totp_enroll', params: { access_token: 'tok', label: 'Cloister' } },
    ]);
    assert.deepEqual(w.repoCalls, [
      ['confirmedTotp', UID],
      ['startTotp', UID, 'tt1.p'],
    ]);

    const enrolled = totp();
    enrolled.w.answers.confirmedTotp = () => 'tt1.c';
    await rejectsWith(enrolled.s.enrollTotp('t', UID, 'l'), 'AUTH_TOTP_ENROLLED');
    assert.deepEqual(enrolled.w.calls, []);

    const other = totp();
    other.w.answers.confirmedTotp = () => null;
    other.w.enclaveAnswers['auth.totp_enroll'] = () => ({
      user_id: 'x',
      totp_sealed: 's',
      otpauth_uri: 'u',
    });
    await rejectsWith(other.s.enrollTotp('t', UID, 'l'), 'AUTH_TOKEN_INVALID');
    assert.deepEqual(other.w.repoNames(), ['confirmedTotp']);

    const race = totp();
    race.w.answers.confirmedTotp = () => null;
    race.w.answers.startTotp = () => false;
    race.w.enclaveAnswers['auth.totp_enroll'] = () => ({
      user_id: UID,
      totp_sealed: 's',
      otpauth_uri: 'u',
    });
    await rejectsWith(race.s.enrollTotp('t', UID, 'l'), 'AUTH_TOTP_ENROLLED');
  });

  it('confirmTotp: the pending secret checked by the enclave, stored with the recovery MACs, one logged link', async () => {
    const { w, s } = totp();
    w.answers.pendingTotp = () => 'tt1.p';
    w.answers.confirmTotp = () => true;
    w.enclaveAnswers['auth.totp_confirm'] = () => ({
      user_id: UID,
      recovery_macs: ['m1', 'm2'],
      recovery_codes: ['c1', 'c2'],
    });
    assert.deepEqual(await s.confirmTotp('tok', UID, '123456'), { recovery_codes: ['c1', 'c2'] });
    assert.deepEqual(w.calls, [
      {
        method: 'auth.totp_confirm',
        params: { access_token: 'tok', totp_sealed: 'tt1.p', code: '123456' },
      },
    ]);
    assert.deepEqual(w.repoCalls, [
      ['pendingTotp', UID],
      ['confirmTotp', 'TX', UID, 'tt1.p', ['m1', 'm2']],
    ]);
    assert.deepEqual(w.recorded, [
      { q: 'TX', event: { type: 'auth.method_linked', userId: UID, kind: 'totp' } },
    ]);
    assert.deepEqual(w.committed, [[entry('auth.method_linked')]]);
  });

  it('confirmTotp refuses nothing pending, another account, and a secret replaced meanwhile', async () => {
    const none = totp();
    none.w.answers.pendingTotp = () => null;
    await rejectsWith(none.s.confirmTotp('t', UID, '1'), 'AUTH_TOTP_NOT_PENDING');
    assert.deepEqual(none.w.calls, []);

    const other = totp();
    other.w.answers.pendingTotp = () => 'tt1.p';
    other.w.enclaveAnswers['auth.totp_confirm'] = () => ({
      user_id: 'x',
      recovery_macs: [],
      recovery_codes: [],
    });
    await rejectsWith(other.s.confirmTotp('t', UID, '1'), 'AUTH_TOKEN_INVALID');
    assert.deepEqual(other.w.committed, []);

    const replaced = totp();
    replaced.w.answers.pendingTotp = () => 'tt1.p';
    replaced.w.answers.confirmTotp = () => false;
    replaced.w.enclaveAnswers['auth.totp_confirm'] = () => ({
      user_id: UID,
      recovery_macs: [],
      recovery_codes: [],
    });
    await rejectsWith(replaced.s.confirmTotp('t', UID, '1'), 'AUTH_TOTP_NOT_PENDING');
    assert.deepEqual(replaced.w.recorded, []);
  });

  it('removeTotp: one logged unlink, or AUTH_METHOD_NOT_FOUND', async () => {
    const { w, s } = totp();
    w.answers.deleteTotp = () => true;
    await s.removeTotp(UID);
    assert.deepEqual(w.repoCalls, [['deleteTotp', 'TX', UID]]);
    assert.deepEqual(w.recorded, [
      { q: 'TX', event: { type: 'auth.method_unlinked', userId: UID, kind: 'totp' } },
    ]);
    assert.deepEqual(w.committed, [[entry('auth.method_unlinked')]]);

    const none = totp();
    none.w.answers.deleteTotp = () => false;
    await rejectsWith(none.s.removeTotp(UID), 'AUTH_METHOD_NOT_FOUND');
    assert.deepEqual(none.w.recorded, []);
  });
});

describe('totp: step-up and recovery codes', () => {
  function steppable(over: Record<string, unknown> = {}) {
    const { w, s } = totp();
    w.answers.confirmedTotp = () => 'tt1.c';
    w.answers.recoveryCodeMacs = () => ['m1'];
    w.answers.addRefresh = () => undefined;
    w.answers.spendRecoveryCode = () => true;
    w.answers.recoveryCodesLeft = () => 7;
    w.enclaveAnswers['auth.step_up'] = () => issued(over);
    return { w, s };
  }

  it('a TOTP step-up: a fresh pair on this session (one statement, no transaction), a step_up event', async () => {
    const { w, s } = steppable();
    const second = { totp: '123456' };
    assert.deepEqual(await s.stepUp('tok', UID, ['operator'], second as never), PAIR);
    assert.deepEqual(w.calls, [
      {
        method: 'auth.step_up',
        params: {
          access_token: 'tok',
          roles: ['operator'],
          totp_sealed: 'tt1.c',
          second,
          recovery_macs: ['m1'],
        },
      },
    ]);
    assert.deepEqual(w.repoCalls, [
      ['confirmedTotp', UID],
      ['recoveryCodeMacs', UID],
      ['addRefresh', 'DB', SID, UID, 'ref-hash', NOW + 86400],
    ]);
    assert.deepEqual(w.steps, ['record auth.step_up']);
    assert.deepEqual(w.recorded, [
      { q: 'DB', event: { type: 'auth.step_up', userId: UID, factor: 'totp' } },
    ]);
  });

  it('a recovery code step-up: the code spent first, then the refresh, its count logged', async () => {
    const { w, s } = steppable({ recovery_mac: 'm1' });
    await s.stepUp('tok', UID, [], { recovery_code: 'abcd' } as never);
    assert.deepEqual(w.repoCalls.slice(2), [
      ['spendRecoveryCode', 'TX', UID, 'm1'],
      ['addRefresh', 'TX', SID, UID, 'ref-hash', NOW + 86400],
      ['recoveryCodesLeft', UID, 'TX'],
    ]);
    assert.deepEqual(w.recorded, [
      { q: 'TX', event: { type: 'auth.recovery_code_used', userId: UID, left: 7 } },
      { q: 'DB', event: { type: 'auth.step_up', userId: UID, factor: 'recovery_code' } },
    ]);
    assert.deepEqual(w.committed, [[entry('auth.recovery_code_used')]]);
  });

  it('a recovery code spent meanwhile: AUTH_MFA_INVALID, nothing stored', async () => {
    const { w, s } = steppable({ recovery_mac: 'm1' });
    w.answers.spendRecoveryCode = () => false;
    await rejectsWith(s.stepUp('t', UID, [], { recovery_code: 'a' } as never), 'AUTH_MFA_INVALID');
    assert.ok(!w.repoNames().includes('addRefresh'));
    assert.deepEqual(w.recorded, []);
  });

  it('refuses an account without TOTP (before the enclave) and another account’s token', async () => {
    const none = steppable();
    none.w.answers.confirmedTotp = () => null;
    await rejectsWith(none.s.stepUp('t', UID, [], { totp: '1' } as never), 'AUTH_MFA_INVALID');
    assert.deepEqual(none.w.calls, []);

    const other = steppable({ user_id: 'x' });
    await rejectsWith(other.s.stepUp('t', UID, [], { totp: '1' } as never), 'AUTH_TOKEN_INVALID');
    assert.ok(!other.w.repoNames().includes('addRefresh'));
    assert.deepEqual(other.w.recorded, []);
  });

  it('storeSecondFactorSession: a new session (one statement) or more work in one transaction, that work first', async () => {
    const { w, s } = steppable();
    w.answers.insertSession = () => undefined;
    await s.storeSecondFactorSession(issued(), false);
    assert.deepEqual(w.repoCalls, [['insertSession', 'DB', SID, UID, SESSION]]);
    assert.deepEqual(w.steps, []);

    const more = steppable();
    more.w.answers.insertSession = () => undefined;
    const seen: unknown[] = [];
    await more.s.storeSecondFactorSession(issued(), false, async (tx) => {
      seen.push(tx === more.w.TX);
      more.w.steps.push('also');
    });
    assert.deepEqual(seen, [true]);
    assert.deepEqual(more.w.steps, ['tx', 'also']);
    assert.deepEqual(more.w.repoCalls, [['insertSession', 'TX', SID, UID, SESSION]]);

    // With a recovery code, the extra work runs in the log's transaction too.
    const coded = steppable();
    coded.w.answers.insertSession = () => undefined;
    await coded.s.storeSecondFactorSession(issued({ recovery_mac: 'm1' }), false, async () => {
      coded.w.steps.push('also');
    });
    assert.deepEqual(coded.w.steps, ['commit', 'also', 'record auth.recovery_code_used']);

    // A login's event: in the new session's one statement (no transaction), recorded once
    // that statement succeeded; never when it failed.
    const event = { type: 'auth.login_succeeded', userId: UID } as const;
    const one = steppable();
    one.w.answers.insertSession = () => undefined;
    await one.s.storeSecondFactorSession(issued(), false, undefined, event);
    assert.deepEqual(one.w.repoCalls, [
      ['insertSession', 'DB', SID, UID, SESSION, ['ROW', 'auth.login_succeeded']],
    ]);
    assert.deepEqual(one.w.steps, ['record auth.login_succeeded']);
    assert.deepEqual(one.w.recorded, [{ q: 'session', event }]);
    const failed = steppable();
    failed.w.answers.insertSession = () => Promise.reject(new Error('db down'));
    await assert.rejects(failed.s.storeSecondFactorSession(issued(), false, undefined, event));
    assert.deepEqual(failed.w.recorded, []);
    // With a recovery code: in the log's transaction, recorded after its commit.
    const both = steppable();
    both.w.answers.insertSession = () => undefined;
    await both.s.storeSecondFactorSession(issued({ recovery_mac: 'm1' }), false, undefined, event);
    assert.deepEqual(both.w.steps, [
      'commit',
      'record auth.recovery_code_used',
      'record auth.login_succeeded',
    ]);
    // An existing session (a step-up's new refresh chain): its own INSERT, in the transaction.
    const step = steppable();
    step.w.answers.addRefresh = () => undefined;
    await step.s.storeSecondFactorSession(issued(), true, async () => undefined, event);
    assert.deepEqual(step.w.steps, ['tx', 'record auth.login_succeeded']);
    assert.deepEqual(step.w.recorded, [{ q: 'TX', event }]);
  });
});

describe('passkeys', () => {
  const ROW = {
    id: 'pk-1',
    user_id: UID,
    credential_id: 'cred-1',
    public_key: 'pub',
    counter: 5,
    binding: BINDING,
    roles: ['operator'],
    status: 'active',
  };
  const credential = {
    user_id: UID,
    credential_id: 'cred-1',
    public_key: 'pub',
    counter: 5,
    binding: BINDING,
  };

  function passkeys() {
    const w = world();
    w.answers.passkeyIds = () => ['cred-1', 'cred-2'];
    w.answers.findPasskey = () => ROW;
    w.answers.advancePasskey = () => true;
    w.answers.addRefresh = () => undefined;
    w.answers.insertSession = () => undefined;
    w.answers.confirmedTotp = () => null;
    w.answers.recoveryCodeMacs = () => ['m1'];
    w.answers.spendRecoveryCode = () => true;
    w.answers.recoveryCodesLeft = () => 3;
    return { w, s: createPasskeyService(w.deps) };
  }

  it('registration options exclude the account’s passkeys; login options are the enclave’s', async () => {
    const { w, s } = passkeys();
    w.enclaveAnswers['auth.passkey_register_options'] = () => ({ challenge: 'c' });
    w.enclaveAnswers['auth.passkey_login_options'] = () => ({ challenge: 'l' });
    assert.deepEqual(await s.passkeyRegisterOptions('tok', UID, 'alice'), { challenge: 'c' });
    assert.deepEqual(await s.passkeyLoginOptions(), { challenge: 'l' });
    assert.deepEqual(w.calls, [
      {
        method: 'auth.passkey_register_options',
        params: { access_token: 'tok', user_name: 'alice', exclude: ['cred-1', 'cred-2'] },
      },
      { method: 'auth.passkey_login_options', params: {} },
    ]);
    assert.deepEqual(w.repoCalls, [['passkeyIds', UID]]);
  });

  it('registration: stored for the token’s account, one logged link', async () => {
    const { w, s } = passkeys();
    const verified = { user_id: UID, credential_id: 'c'.repeat(255), public_key: 'p', counter: 0 };
    w.enclaveAnswers['auth.passkey_register_verify'] = () => verified;
    w.answers.insertPasskey = () => 'pk-9';
    assert.deepEqual(await s.passkeyRegisterVerify('tok', UID, { id: 'x' }), { id: 'pk-9' });
    assert.deepEqual(w.calls, [
      {
        method: 'auth.passkey_register_verify',
        params: { access_token: 'tok', response: { id: 'x' } },
      },
    ]);
    assert.deepEqual(w.repoCalls, [['insertPasskey', 'TX', UID, verified]]);
    assert.deepEqual(w.recorded, [
      { q: 'TX', event: { type: 'auth.method_linked', userId: UID, kind: 'passkey' } },
    ]);
    assert.deepEqual(w.committed, [[entry('auth.method_linked')]]);
  });

  it('registration refuses another account, a credential id over 255 characters, and a taken one', async () => {
    const other = passkeys();
    other.w.enclaveAnswers['auth.passkey_register_verify'] = () => ({
      user_id: 'x',
      credential_id: 'c',
    });
    await rejectsWith(other.s.passkeyRegisterVerify('t', UID, {}), 'AUTH_TOKEN_INVALID');
    assert.deepEqual(other.w.committed, []);

    const long = passkeys();
    long.w.enclaveAnswers['auth.passkey_register_verify'] = () => ({
      user_id: UID,
      credential_id: 'c'.repeat(256),
    });
    await rejectsWith(long.s.passkeyRegisterVerify('t', UID, {}), 'AUTH_PASSKEY_INVALID');
    assert.deepEqual(long.w.committed, []);

    const taken = passkeys();
    taken.w.enclaveAnswers['auth.passkey_register_verify'] = () => ({
      user_id: UID,
      credential_id: 'c',
    });
    taken.w.answers.insertPasskey = () => null;
    await rejectsWith(taken.s.passkeyRegisterVerify('t', UID, {}), 'AUTH_METHOD_TAKEN');
    assert.deepEqual(taken.w.recorded, []);
  });

  it('step-up options allow only the account’s own passkeys, and need one', async () => {
    const { w, s } = passkeys();
    w.enclaveAnswers['auth.passkey_step_up_options'] = () => ({ challenge: 's' });
    assert.deepEqual(await s.passkeyStepUpOptions('tok', UID), { challenge: 's' });
    assert.deepEqual(w.calls, [
      {
        method: 'auth.passkey_step_up_options',
        params: { access_token: 'tok', allow: ['cred-1', 'cred-2'] },
      },
    ]);
    const none = passkeys();
    none.w.answers.passkeyIds = () => [];
    await rejectsWith(none.s.passkeyStepUpOptions('t', UID), 'AUTH_METHOD_NOT_FOUND');
    assert.deepEqual(none.w.calls, []);
  });

  it('step-up: the account’s own passkey; refresh and counter in one transaction; a step_up event', async () => {
    const { w, s } = passkeys();
    const r = issued({ counter: 6 });
    w.enclaveAnswers['auth.passkey_step_up'] = () => r;
    assert.deepEqual(await s.passkeyStepUp('tok', UID, ['operator'], { id: 'cred-1' }), PAIR);
    assert.deepEqual(w.calls, [
      {
        method: 'auth.passkey_step_up',
        params: {
          access_token: 'tok',
          roles: ['operator'],
          response: { id: 'cred-1' },
          credential,
        },
      },
    ]);
    assert.deepEqual(w.repoCalls, [
      ['findPasskey', 'cred-1'],
      ['advancePasskey', 'TX', 'pk-1', 5, r],
      ['addRefresh', 'TX', SID, UID, 'ref-hash', NOW + 86400],
    ]);
    assert.deepEqual(w.steps, ['tx', 'record auth.step_up']);
    assert.deepEqual(w.recorded, [
      { q: 'DB', event: { type: 'auth.step_up', userId: UID, factor: 'passkey' } },
    ]);
  });

  it('step-up refuses a missing id, an unknown or foreign passkey, another token, and a replayed counter', async () => {
    const noId = passkeys();
    await rejectsWith(noId.s.passkeyStepUp('t', UID, [], { id: 5 }), 'AUTH_PASSKEY_INVALID');
    await rejectsWith(noId.s.passkeyStepUp('t', UID, [], { id: '' }), 'AUTH_PASSKEY_INVALID');
    assert.deepEqual(noId.w.repoCalls, []);

    const unknown = passkeys();
    unknown.w.answers.findPasskey = () => null;
    await rejectsWith(unknown.s.passkeyStepUp('t', UID, [], { id: 'c' }), 'AUTH_PASSKEY_INVALID');
    assert.deepEqual(unknown.w.calls, []);

    const foreign = passkeys();
    foreign.w.answers.findPasskey = () => ({ ...ROW, user_id: 'x' });
    await rejectsWith(foreign.s.passkeyStepUp('t', UID, [], { id: 'c' }), 'AUTH_PASSKEY_INVALID');
    assert.deepEqual(foreign.w.calls, []);

    const other = passkeys();
    other.w.enclaveAnswers['auth.passkey_step_up'] = () => issued({ user_id: 'x' });
    await rejectsWith(other.s.passkeyStepUp('t', UID, [], { id: 'c' }), 'AUTH_TOKEN_INVALID');
    assert.deepEqual(other.w.steps, []);

    const replay = passkeys();
    replay.w.answers.advancePasskey = () => false;
    replay.w.enclaveAnswers['auth.passkey_step_up'] = () => issued();
    await rejectsWith(replay.s.passkeyStepUp('t', UID, [], { id: 'c' }), 'AUTH_PASSKEY_INVALID');
    assert.ok(!replay.w.repoNames().includes('addRefresh'));
    assert.deepEqual(replay.w.recorded, []);
  });

  it('login: the checked row (with roles) to the enclave; counter, session and login event together', async () => {
    const { w, s } = passkeys();
    const r = issued({ counter: 6 });
    w.enclaveAnswers['auth.passkey_login_verify'] = () => r;
    assert.deepEqual(await s.passkeyLogin({ id: 'cred-1' }), { user_id: UID, ...PAIR });
    assert.deepEqual(w.calls, [
      {
        method: 'auth.passkey_login_verify',
        params: { response: { id: 'cred-1' }, credential: { ...credential, roles: ['operator'] } },
      },
    ]);
    assert.deepEqual(w.repoCalls, [
      ['findPasskey', 'cred-1'],
      ['confirmedTotp', UID],
      ['advancePasskey', 'TX', 'pk-1', 5, r],
      // The login event is written by the session's own statement, in the counter's transaction.
      ['insertSession', 'TX', SID, UID, SESSION, ['ROW', 'auth.login_succeeded']],
    ]);
    assert.deepEqual(w.steps, ['tx', 'record auth.login_succeeded']);
    assert.deepEqual(w.recorded, [
      { q: 'session', event: { type: 'auth.login_succeeded', userId: UID, method: 'passkey' } },
    ]);
    assert.deepEqual(w.emitted, []);
  });

  it('login with TOTP: the sealed secret, the MACs and the second factor go to the enclave', async () => {
    const { w, s } = passkeys();
    w.answers.confirmedTotp = () => 'tt1.c';
    w.enclaveAnswers['auth.passkey_login_verify'] = () => issued({ recovery_mac: 'm1' });
    await s.passkeyLogin({ id: 'cred-1' }, { recovery_code: 'a' } as never);
    assert.deepEqual(w.calls[0]!.params, {
      response: { id: 'cred-1' },
      credential: {
        ...credential,
        roles: ['operator'],
        totp_sealed: 'tt1.c',
        recovery_macs: ['m1'],
      },
      second: { recovery_code: 'a' },
    });
    // The recovery code is spent in the same transaction as counter and session.
    assert.deepEqual(w.repoCalls.slice(3), [
      ['spendRecoveryCode', 'TX', UID, 'm1'],
      ['advancePasskey', 'TX', 'pk-1', 5, issued({ recovery_mac: 'm1' })],
      ['insertSession', 'TX', SID, UID, SESSION, ['ROW', 'auth.login_succeeded']],
      ['recoveryCodesLeft', UID, 'TX'],
    ]);
  });

  it('login with an unknown, missing or disabled credential: the enclave gets none, the failure is audited', async () => {
    for (const [response, row, userId] of [
      [{ id: 'cred-1' }, null, null],
      [{ id: 7 }, ROW, null],
      [{ id: 'cred-1' }, { ...ROW, status: 'disabled' }, UID],
    ] as const) {
      const { w, s } = passkeys();
      w.answers.findPasskey = () => row;
      w.enclaveAnswers['auth.passkey_login_verify'] = enclaveError('AUTH_PASSKEY_INVALID');
      await rejectsWith(s.passkeyLogin(response), 'AUTH_PASSKEY_INVALID', 'EnclaveCallError');
      assert.deepEqual(w.calls, [
        { method: 'auth.passkey_login_verify', params: { response, credential: null } },
      ]);
      assert.ok(!w.repoNames().includes('confirmedTotp'));
      assert.deepEqual(w.emitted, [
        { type: 'auth.login_failed', userId, reason: 'AUTH_PASSKEY_INVALID', method: 'passkey' },
      ]);
    }
  });

  it('login with a replayed counter: AUTH_PASSKEY_INVALID, no session, audited', async () => {
    const { w, s } = passkeys();
    w.answers.advancePasskey = () => false;
    w.enclaveAnswers['auth.passkey_login_verify'] = () => issued();
    await rejectsWith(s.passkeyLogin({ id: 'cred-1' }), 'AUTH_PASSKEY_INVALID');
    assert.ok(!w.repoNames().includes('insertSession'));
    assert.deepEqual(w.recorded, []);
    assert.deepEqual(w.emitted, [
      { type: 'auth.login_failed', userId: UID, reason: 'AUTH_PASSKEY_INVALID', method: 'passkey' },
    ]);
  });
});

describe('account recovery', () => {
  const PENDING = {
    id: 'rec-1',
    unlock_at: NOW + 100,
    expires_at: NOW + 200,
    password_sealed: 'ph1.pending',
    mac: 'mac',
  };

  function recovery() {
    const w = world();
    const started: unknown[][] = [];
    w.answers.findUserByMethod = () => active;
    w.answers.confirmedTotp = () => null;
    w.answers.passkeyIds = () => [];
    w.answers.sealedPassword = () => 'ph1.old';
    w.answers.upsertPassword = () => undefined;
    w.answers.swapPassword = () => true;
    w.answers.revokeAllSessions = () => 3;
    w.answers.putRecovery = () => undefined;
    w.answers.pendingRecovery = () => PENDING;
    w.answers.deleteRecovery = () => true;
    w.answers.deleteTotp = () => true;
    w.answers.deletePasskeys = () => 1;
    const s = createRecoveryService(w.deps, async (...a: unknown[]) => void started.push(a));
    return { w, s, started };
  }

  it('recoveryStart mails a code only to an active account', async () => {
    for (const [row, mailed] of [
      [active, true],
      [{ ...active, status: 'disabled' }, false],
      [null, false],
    ] as const) {
      const { w, s, started } = recovery();
      w.answers.findUserByMethod = () => row;
      await s.recoveryStart(EMAIL);
      await settle();
      assert.deepEqual(w.repoCalls, [['findUserByMethod', 'email', EMAIL]]);
      assert.deepEqual(started, mailed ? [[EMAIL, 'recovery']] : []);
    }
  });

  it('confirm without a second factor: an immediate reset (every session ended, logged)', async () => {
    const { w, s } = recovery();
    w.enclaveAnswers['auth.recovery_confirm'] = () => ({
      password_sealed: 'ph1.new',
      recovery_id: 'r',
      unlock_at: null,
      expires_at: null,
      mac: null,
      completion_code: null,
    });
    assert.deepEqual(await s.recoveryConfirm(EMAIL, '123456', { password: 'n' } as never), {
      status: 'reset',
    });
    assert.deepEqual(w.calls, [
      {
        method: 'auth.recovery_confirm',
        params: {
          email: EMAIL,
          code: '123456',
          secret: { password: 'n' },
          user: { user_id: UID, binding: BINDING },
          second_factor: false,
          password_state: 'ph1.old',
        },
      },
    ]);
    assert.deepEqual(w.repoCalls.slice(-2), [
      ['upsertPassword', 'TX', UID, 'ph1.new'],
      ['revokeAllSessions', 'TX', UID, 'logout_all'],
    ]);
    assert.deepEqual(w.recorded, [
      { q: 'TX', event: { type: 'auth.password_reset', userId: UID, revoked: 3 } },
    ]);
    assert.deepEqual(w.throttleCalls, [`begin recovery:${EMAIL}`, `succeeded recovery:${EMAIL}`]);
    assert.deepEqual(w.steps, ['commit', 'record auth.password_reset', 'forget']);
  });

  it('confirm with any of the time-lock fields missing is a reset', async () => {
    const full = { unlock_at: NOW + 100, expires_at: NOW + 200, mac: 'm', completion_code: 'cc' };
    for (const missing of Object.keys(full)) {
      const { w, s } = recovery();
      w.enclaveAnswers['auth.recovery_confirm'] = () => ({
        password_sealed: 'ph1.new',
        recovery_id: 'r',
        ...full,
        [missing]: null,
      });
      assert.deepEqual(
        await s.recoveryConfirm(EMAIL, '1', {} as never),
        { status: 'reset' },
        missing,
      );
      assert.ok(!w.repoNames().includes('putRecovery'));
    }
  });

  it('confirm with a second factor: a pending recovery stored and logged; the completion code only to the caller', async () => {
    for (const which of ['totp', 'passkey'] as const) {
      const { w, s } = recovery();
      if (which === 'totp') w.answers.confirmedTotp = () => 'tt1.c';
      else w.answers.passkeyIds = () => ['c'];
      w.enclaveAnswers['auth.recovery_confirm'] = () => ({
        password_sealed: 'ph1.new',
        recovery_id: 'rec-2',
        unlock_at: NOW + 86400,
        expires_at: NOW + 2 * 86400,
        mac: 'mac-2',
        completion_code: 'cc-2',
      });
      assert.deepEqual(await s.recoveryConfirm(EMAIL, '1', {} as never), {
        status: 'pending',
        unlock_at: new Date((NOW + 86400) * 1000).toISOString(),
        completion_code: 'cc-2',
      });
      assert.equal(w.calls[0]!.params.second_factor, true);
      assert.deepEqual(w.repoCalls.at(-1), [
        'putRecovery',
        'TX',
        UID,
        {
          id: 'rec-2',
          unlock_at: NOW + 86400,
          expires_at: NOW + 2 * 86400,
          password_sealed: 'ph1.new',
          mac: 'mac-2',
        },
      ]);
      assert.deepEqual(w.recorded, [
        { q: 'TX', event: { type: 'auth.recovery_started', userId: UID, unlockAt: NOW + 86400 } },
      ]);
      assert.deepEqual(w.committed, [[entry('auth.recovery_started')]]);
      assert.ok(!w.repoNames().includes('revokeAllSessions'));
    }
  });

  it('confirm for no active account: AUTH_OTP_INVALID, counted, audited as account_recovery', async () => {
    const { w, s } = recovery();
    w.answers.findUserByMethod = () => null;
    w.enclaveAnswers['auth.recovery_confirm'] = enclaveError('AUTH_OTP_INVALID');
    await rejectsWith(s.recoveryConfirm(EMAIL, '1', {} as never), 'AUTH_OTP_INVALID');
    assert.deepEqual(w.throttleCalls, [`begin recovery:${EMAIL}`]);
    assert.deepEqual(w.emitted, [
      {
        type: 'auth.login_failed',
        userId: null,
        reason: 'AUTH_OTP_INVALID',
        method: 'account_recovery',
      },
    ]);
    assert.equal(w.calls.length, 1);
  });

  it('status: the unlock time and whether it can complete now (never the password)', async () => {
    const { w, s } = recovery();
    w.answers.pendingRecovery = () => null;
    assert.equal(await s.recoveryStatus(UID), null);
    for (const [unlock, expires, can] of [
      [NOW + 1, NOW + 10, false],
      [NOW, NOW + 10, true],
      [NOW - 10, NOW + 1, true],
      [NOW - 10, NOW, false],
    ] as const) {
      w.answers.pendingRecovery = () => ({ ...PENDING, unlock_at: unlock, expires_at: expires });
      assert.deepEqual(await s.recoveryStatus(UID), {
        unlock_at: new Date(unlock * 1000).toISOString(),
        can_complete: can,
      });
    }
    assert.deepEqual(w.repoCalls[0], ['pendingRecovery', UID]);
  });

  it('cancel: one logged event, or AUTH_RECOVERY_NOT_FOUND', async () => {
    const { w, s } = recovery();
    await s.recoveryCancel(UID);
    assert.deepEqual(w.repoCalls, [['deleteRecovery', 'TX', UID, null]]);
    assert.deepEqual(w.recorded, [
      { q: 'TX', event: { type: 'auth.recovery_cancelled', userId: UID } },
    ]);
    assert.deepEqual(w.committed, [[entry('auth.recovery_cancelled')]]);

    const none = recovery();
    none.w.answers.deleteRecovery = () => false;
    await rejectsWith(none.s.recoveryCancel(UID), 'AUTH_RECOVERY_NOT_FOUND');
    assert.deepEqual(none.w.recorded, []);
  });

  it('complete: the stored recovery checked by the enclave; password swapped if unchanged; factors removed; every session ended', async () => {
    const { w, s } = recovery();
    w.enclaveAnswers['auth.recovery_complete'] = () => ({ password_sealed: 'ph1.final' });
    await s.recoveryComplete(EMAIL, 'cc-1');
    assert.deepEqual(w.calls, [
      {
        method: 'auth.recovery_complete',
        params: {
          user_id: UID,
          recovery_id: 'rec-1',
          unlock_at: NOW + 100,
          expires_at: NOW + 200,
          password_sealed: 'ph1.pending',
          mac: 'mac',
          password_state: 'ph1.old',
          completion_code: 'cc-1',
        },
      },
    ]);
    assert.deepEqual(w.repoCalls, [
      ['findUserByMethod', 'email', EMAIL],
      ['pendingRecovery', UID],
      ['sealedPassword', UID],
      ['deleteRecovery', 'TX', UID, 'rec-1'],
      ['deleteTotp', 'TX', UID],
      ['deletePasskeys', 'TX', UID],
      ['swapPassword', 'TX', UID, 'ph1.old', 'ph1.final'],
      ['revokeAllSessions', 'TX', UID, 'logout_all'],
    ]);
    assert.deepEqual(w.recorded, [
      { q: 'TX', event: { type: 'auth.recovery_completed', userId: UID, revoked: 3 } },
    ]);
    assert.deepEqual(w.committed, [[entry('auth.recovery_completed')]]);
    assert.deepEqual(w.steps, ['commit', 'record auth.recovery_completed', 'forget']);
  });

  it('complete refuses a recovery cancelled meanwhile and a password changed meanwhile', async () => {
    const cancelled = recovery();
    cancelled.w.answers.deleteRecovery = () => false;
    cancelled.w.enclaveAnswers['auth.recovery_complete'] = () => ({ password_sealed: 'p' });
    await rejectsWith(cancelled.s.recoveryComplete(EMAIL, 'c'), 'AUTH_RECOVERY_INVALID');
    assert.ok(!cancelled.w.repoNames().includes('deleteTotp'));
    assert.deepEqual(cancelled.w.recorded, []);
    assert.ok(!cancelled.w.steps.includes('forget'));

    const changed = recovery();
    changed.w.answers.swapPassword = () => false;
    changed.w.enclaveAnswers['auth.recovery_complete'] = () => ({ password_sealed: 'p' });
    await rejectsWith(changed.s.recoveryComplete(EMAIL, 'c'), 'AUTH_RECOVERY_INVALID');
    assert.ok(!changed.w.repoNames().includes('revokeAllSessions'));
    assert.deepEqual(changed.w.recorded, []);
  });

  it('complete for an unknown or inactive address, or without a pending recovery: the same call for nobody, AUTH_RECOVERY_INVALID', async () => {
    for (const row of [null, { ...active, status: 'disabled' }]) {
      for (const enclaveOk of [true, false]) {
        const { w, s } = recovery();
        w.answers.findUserByMethod = () => row;
        w.answers.pendingRecovery = () => null;
        w.answers.sealedPassword = () => null;
        w.enclaveAnswers['auth.recovery_complete'] = enclaveOk
          ? () => ({ password_sealed: 'p' })
          : enclaveError('AUTH_RECOVERY_INVALID');
        await rejectsWith(s.recoveryComplete(EMAIL, 'cc'), 'AUTH_RECOVERY_INVALID');
        const p = w.calls[0]!.params;
        assert.match(p.user_id as string, UUID);
        assert.notEqual(p.user_id, UID);
        assert.match(p.recovery_id as string, UUID);
        assert.equal(p.unlock_at, 0);
        assert.equal(p.expires_at, 0);
        assert.match(p.password_sealed as string, /^ph1\.[A-Za-z0-9+/]{64}$/);
        assert.match(p.mac as string, /^[A-Za-z0-9_-]{43}$/);
        assert.equal(p.password_state, null);
        assert.equal(p.completion_code, 'cc');
        assert.deepEqual(w.repoCalls[1], ['pendingRecovery', p.user_id]);
        assert.deepEqual(w.committed, []);
      }
    }
    // An active account without a pending recovery.
    const { w, s } = recovery();
    w.answers.pendingRecovery = () => null;
    w.enclaveAnswers['auth.recovery_complete'] = () => ({ password_sealed: 'p' });
    await rejectsWith(s.recoveryComplete(EMAIL, 'cc'), 'AUTH_RECOVERY_INVALID');
    assert.equal(w.calls[0]!.params.user_id, UID);
    assert.deepEqual(w.committed, []);
  });

  it('complete with a pending recovery: the enclave’s refusal is passed on as it is', async () => {
    const { w, s } = recovery();
    w.enclaveAnswers['auth.recovery_complete'] = enclaveError('AUTH_RECOVERY_LOCKED' as never);
    await rejectsWith(s.recoveryComplete(EMAIL, 'cc'), 'AUTH_RECOVERY_LOCKED', 'EnclaveCallError');
    assert.deepEqual(w.committed, []);
  });
});
