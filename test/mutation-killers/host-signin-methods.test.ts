/**
 * An account's linked methods (src/host/auth/methods-service.ts) and the step-up rule
 * (step-up.ts), in-process against a scripted enclave (host-signin-world.ts): which account a
 * method links to, never unlinking the last one, the email and password rules, the logged events,
 * and which tokens pass a sensitive route.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import type { FastifyRequest } from 'fastify';
import { createMethodsService } from '../../src/host/auth/methods-service.js';
import { createStepUp, FACTORS } from '../../src/host/auth/step-up.js';
import { HostError } from '../../src/host/errors.js';
import {
  BINDING,
  NOW,
  UID,
  enclaveError,
  entry,
  rejectsWith,
  settle,
  world,
} from './host-signin-world.js';

const EMAIL = 'a@example.test';

beforeEach(() => mock.timers.enable({ apis: ['Date'], now: NOW * 1000 }));
afterEach(() => mock.timers.reset());

function methods() {
  const w = world();
  const started: unknown[][] = [];
  const s = createMethodsService(w.deps, async (...a: unknown[]) => void started.push(a));
  return { w, s, started };
}

describe('passwords', () => {
  function withEmail() {
    const m = methods();
    m.w.answers.passwordEmailOf = () => ({ email: EMAIL, binding: BINDING });
    m.w.enclaveAnswers['auth.password_set'] = () => ({ user_id: UID, password_sealed: 'ph1.s' });
    return m;
  }

  it('linkPassword: sealed by the enclave for the account’s email, stored once, one logged link', async () => {
    const { w, s } = withEmail();
    w.answers.hasPassword = () => false;
    w.answers.insertPassword = () => true;
    assert.deepEqual(await s.linkPassword('tok', UID, { password: 'pw' } as never), {
      id: 'password',
    });
    assert.deepEqual(w.calls, [
      {
        method: 'auth.password_set',
        params: {
          access_token: 'tok',
          action: 'link',
          email: EMAIL,
          binding: BINDING,
          secret: { password: 'pw' },
        },
      },
    ]);
    assert.deepEqual(w.repoCalls, [
      ['hasPassword', UID],
      ['passwordEmailOf', UID],
      ['insertPassword', 'TX', UID, 'ph1.s'],
    ]);
    assert.deepEqual(w.recorded, [
      { q: 'TX', event: { type: 'auth.method_linked', userId: UID, kind: 'password' } },
    ]);
    assert.deepEqual(w.committed, [[entry('auth.method_linked')]]);
  });

  it('linkPassword refuses an account with a password (before the enclave), without an email, for another account, and a lost race', async () => {
    const has = withEmail();
    has.w.answers.hasPassword = () => true;
    await rejectsWith(has.s.linkPassword('t', UID, {} as never), 'AUTH_PASSWORD_EXISTS');
    assert.deepEqual(has.w.calls, []);

    const noEmail = withEmail();
    noEmail.w.answers.hasPassword = () => false;
    noEmail.w.answers.passwordEmailOf = () => null;
    await rejectsWith(noEmail.s.linkPassword('t', UID, {} as never), 'AUTH_EMAIL_REQUIRED');
    assert.deepEqual(noEmail.w.calls, []);

    const other = withEmail();
    other.w.answers.hasPassword = () => false;
    other.w.enclaveAnswers['auth.password_set'] = () => ({ user_id: 'x', password_sealed: 's' });
    await rejectsWith(other.s.linkPassword('t', UID, {} as never), 'AUTH_TOKEN_INVALID');
    assert.deepEqual(other.w.committed, []);

    const race = withEmail();
    race.w.answers.hasPassword = () => false;
    race.w.answers.insertPassword = () => false;
    await rejectsWith(race.s.linkPassword('t', UID, {} as never), 'AUTH_PASSWORD_EXISTS');
    assert.deepEqual(race.w.recorded, []);
  });

  it('changePassword: every other session ends, this one stays; logged with the count; verifier cache dropped', async () => {
    const { w, s } = withEmail();
    w.answers.hasPassword = () => true;
    w.answers.replacePassword = () => true;
    w.answers.revokeOtherSessions = () => 4;
    assert.deepEqual(await s.changePassword('tok', UID, 'sid-1', {} as never), { revoked: 4 });
    assert.equal(w.calls[0]!.params.action, 'change');
    assert.deepEqual(w.repoCalls, [
      ['hasPassword', UID],
      ['passwordEmailOf', UID],
      ['replacePassword', 'TX', UID, 'ph1.s'],
      ['revokeOtherSessions', 'TX', UID, 'sid-1'],
    ]);
    assert.deepEqual(w.recorded, [
      { q: 'TX', event: { type: 'auth.password_changed', userId: UID, revoked: 4 } },
    ]);
    assert.deepEqual(w.committed, [[entry('auth.password_changed')]]);
    assert.deepEqual(w.steps, ['commit', 'record auth.password_changed', 'forget']);
  });

  it('changePassword refuses an account without a password (before the enclave) and a password gone meanwhile', async () => {
    const none = withEmail();
    none.w.answers.hasPassword = () => false;
    await rejectsWith(none.s.changePassword('t', UID, 's', {} as never), 'AUTH_METHOD_NOT_FOUND');
    assert.deepEqual(none.w.calls, []);

    const gone = withEmail();
    gone.w.answers.hasPassword = () => true;
    gone.w.answers.replacePassword = () => false;
    await rejectsWith(gone.s.changePassword('t', UID, 's', {} as never), 'AUTH_METHOD_NOT_FOUND');
    assert.ok(!gone.w.repoNames().includes('revokeOtherSessions'));
    assert.ok(!gone.w.steps.includes('forget'));
  });
});

describe('email links', () => {
  it('linkEmailStart mails a link code only to an address no account holds (a pending one gives way)', async () => {
    const cases: [unknown, unknown, boolean][] = [
      [null, null, true],
      [{ user_id: 'x', status: 'pending' }, null, true],
      [null, { user_id: 'x', status: 'pending' }, true],
      [{ user_id: 'x', status: 'active' }, null, false],
      [null, { user_id: 'x', status: 'active' }, false],
      [{ user_id: 'x', status: 'disabled' }, { user_id: 'x', status: 'pending' }, false],
    ];
    for (const [account, method, mailed] of cases) {
      const { w, s, started } = methods();
      w.answers.findAccountByEmail = () => account;
      w.answers.findUserByMethod = () => method;
      await s.linkEmailStart('tok', EMAIL);
      await settle();
      assert.deepEqual(w.repoCalls, [
        ['findAccountByEmail', EMAIL],
        ['findUserByMethod', 'email', EMAIL],
      ]);
      assert.deepEqual(started, mailed ? [[EMAIL, 'link', 'tok']] : []);
    }
  });

  it('linkEmail: the enclave checks the code for the token’s account; the row under the account’s lock; one logged link', async () => {
    const { w, s } = methods();
    w.enclaveAnswers['auth.email_link'] = () => ({ user_id: UID, email: EMAIL, binding: BINDING });
    w.answers.linkEmail = () => 'm-1';
    assert.deepEqual(await s.linkEmail('tok', UID, 'A@Example.test', '123456'), { id: 'm-1' });
    assert.deepEqual(w.calls, [
      {
        method: 'auth.email_link',
        params: { access_token: 'tok', email: 'A@Example.test', code: '123456' },
      },
    ]);
    assert.deepEqual(w.queries, [['SELECT id FROM users WHERE id = $1 FOR UPDATE', [UID]]]);
    assert.deepEqual(w.repoCalls, [['linkEmail', 'TX', UID, EMAIL, BINDING]]);
    assert.deepEqual(w.recorded, [
      { q: 'TX', event: { type: 'auth.method_linked', userId: UID, kind: 'email' } },
    ]);
    assert.deepEqual(w.committed, [[entry('auth.method_linked')]]);
  });

  it('linkEmail refuses a taken address, another account’s token, and hides a locked code', async () => {
    const taken = methods();
    taken.w.enclaveAnswers['auth.email_link'] = () => ({
      user_id: UID,
      email: EMAIL,
      binding: BINDING,
    });
    taken.w.answers.linkEmail = () => null;
    await rejectsWith(taken.s.linkEmail('t', UID, EMAIL, '1'), 'AUTH_METHOD_TAKEN');
    assert.deepEqual(taken.w.recorded, []);

    const other = methods();
    other.w.enclaveAnswers['auth.email_link'] = () => ({
      user_id: 'x',
      email: EMAIL,
      binding: BINDING,
    });
    await rejectsWith(other.s.linkEmail('t', UID, EMAIL, '1'), 'AUTH_TOKEN_INVALID');
    assert.deepEqual(other.w.repoCalls, []);

    const locked = methods();
    locked.w.enclaveAnswers['auth.email_link'] = enclaveError('AUTH_OTP_LOCKED');
    await rejectsWith(locked.s.linkEmail('t', UID, EMAIL, '1'), 'AUTH_OTP_INVALID');
    const wrong = methods();
    wrong.w.enclaveAnswers['auth.email_link'] = enclaveError('AUTH_OTP_INVALID');
    await rejectsWith(
      wrong.s.linkEmail('t', UID, EMAIL, '1'),
      'AUTH_OTP_INVALID',
      'EnclaveCallError',
    );
  });
});

describe('SIWE links', () => {
  it('links the lower-cased signer address to the token’s account, one logged link', async () => {
    const { w, s } = methods();
    const address = `0x${'AB'.repeat(20)}`;
    w.enclaveAnswers['auth.siwe_link'] = () => ({ user_id: UID, address, binding: BINDING });
    w.setQueryRows([{ id: 'm-9' }]);
    assert.deepEqual(await s.linkSiwe('tok', UID, 'msg', '0xsig'), { id: 'm-9' });
    assert.deepEqual(w.calls, [
      {
        method: 'auth.siwe_link',
        params: { access_token: 'tok', message: 'msg', signature: '0xsig' },
      },
    ]);
    assert.deepEqual(w.queries, [
      [
        "INSERT INTO auth_methods (user_id, kind, identifier, binding) VALUES ($1, 'siwe', $2, $3) ON CONFLICT (kind, identifier) DO NOTHING RETURNING id",
        [UID, address.toLowerCase(), BINDING],
      ],
    ]);
    assert.deepEqual(w.recorded, [
      { q: 'TX', event: { type: 'auth.method_linked', userId: UID, kind: 'siwe' } },
    ]);
    assert.deepEqual(w.committed, [[entry('auth.method_linked')]]);
  });

  it('refuses another account’s token and an address already linked', async () => {
    const other = methods();
    other.w.enclaveAnswers['auth.siwe_link'] = () => ({
      user_id: 'x',
      address: '0x1',
      binding: BINDING,
    });
    await rejectsWith(other.s.linkSiwe('t', UID, 'm', 's'), 'AUTH_TOKEN_INVALID');
    assert.deepEqual(other.w.queries, []);

    const taken = methods();
    taken.w.enclaveAnswers['auth.siwe_link'] = () => ({
      user_id: UID,
      address: '0x1',
      binding: BINDING,
    });
    taken.w.setQueryRows([]);
    await rejectsWith(taken.s.linkSiwe('t', UID, 'm', 's'), 'AUTH_METHOD_TAKEN');
    assert.deepEqual(taken.w.recorded, []);
  });
});

describe('listing and unlinking', () => {
  const two = [
    { id: 'm-1', kind: 'email' },
    { id: 'm-2', kind: 'siwe' },
  ];

  it('listMethods is the repository’s', async () => {
    const { w, s } = methods();
    w.answers.listMethods = () => two;
    assert.deepEqual(await s.listMethods(UID), two);
    assert.deepEqual(w.repoCalls, [['listMethods', UID]]);
  });

  it('unlinks one of two methods under the account’s lock, one logged unlink', async () => {
    const { w, s } = methods();
    w.answers.listMethods = () => two;
    w.answers.deleteMethod = () => 'siwe';
    await s.unlinkMethod(UID, 'm-2');
    assert.deepEqual(w.queries, [['SELECT id FROM users WHERE id = $1 FOR UPDATE', [UID]]]);
    assert.deepEqual(w.repoCalls, [
      ['listMethods', UID, 'TX'],
      ['deleteMethod', 'TX', UID, 'm-2'],
    ]);
    assert.deepEqual(w.recorded, [
      { q: 'TX', event: { type: 'auth.method_unlinked', userId: UID, kind: 'siwe' } },
    ]);
    assert.deepEqual(w.committed, [[entry('auth.method_unlinked')]]);
  });

  it('never the last method, never another account’s, never one gone meanwhile', async () => {
    const last = methods();
    last.w.answers.listMethods = () => [two[0]];
    await rejectsWith(last.s.unlinkMethod(UID, 'm-1'), 'AUTH_LAST_METHOD');
    assert.ok(!last.w.repoNames().includes('deleteMethod'));

    const foreign = methods();
    foreign.w.answers.listMethods = () => two;
    await rejectsWith(foreign.s.unlinkMethod(UID, 'm-3'), 'AUTH_METHOD_NOT_FOUND');
    assert.ok(!foreign.w.repoNames().includes('deleteMethod'));

    // Not the account's and the only one: not found comes first (it tells nothing).
    const foreignLast = methods();
    foreignLast.w.answers.listMethods = () => [two[0]];
    await rejectsWith(foreignLast.s.unlinkMethod(UID, 'm-3'), 'AUTH_METHOD_NOT_FOUND');

    const gone = methods();
    gone.w.answers.listMethods = () => two;
    gone.w.answers.deleteMethod = () => null;
    await rejectsWith(gone.s.unlinkMethod(UID, 'm-1'), 'AUTH_METHOD_NOT_FOUND');
    assert.deepEqual(gone.w.recorded, []);
  });
});

describe('step-up rule', () => {
  const WINDOW = 300;
  // 999 ms into the second NOW: the rule counts whole seconds.
  beforeEach(() => mock.timers.setTime(NOW * 1000 + 999));
  const request = {} as FastifyRequest;
  function rule(claims: Record<string, unknown>, second: string[] = []) {
    const seen: unknown[] = [];
    const guard = {
      claims: async (r: FastifyRequest) => {
        seen.push(r);
        return { sub: UID, ...claims } as never;
      },
    };
    const asked: string[] = [];
    const requireStepUp = createStepUp(guard, WINDOW, async (u) => {
      asked.push(u);
      return second;
    });
    return { requireStepUp, seen, asked };
  }
  async function refused(p: Promise<void>, issue: string) {
    await assert.rejects(p, (err: unknown) => {
      assert.ok(err instanceof HostError);
      assert.equal(err.code, 'STEP_UP_REQUIRED');
      assert.deepEqual(err.details, [{ path: 'amr', issue }]);
      return true;
    });
  }

  it('the factors are pwd, otp, swk, hwk', () => {
    assert.deepEqual([...FACTORS], ['pwd', 'otp', 'swk', 'hwk']);
  });

  it('without a second factor: a login by one of the factors within the window passes', async () => {
    const fresh = rule({ auth_time: NOW - WINDOW, amr: ['otp'] });
    await fresh.requireStepUp()(request);
    assert.deepEqual(fresh.seen, [request]);
    assert.deepEqual(fresh.asked, [UID]);
    await rule({ auth_time: NOW, amr: ['hwk', 'mfa'] }).requireStepUp(['hwk'])(request);

    await refused(
      rule({ auth_time: NOW - WINDOW - 1, amr: ['pwd'] }).requireStepUp()(request),
      'log in again with one of: pwd, otp, swk, hwk',
    );
    await refused(
      rule({ amr: ['pwd'] }).requireStepUp()(request),
      'log in again with one of: pwd, otp, swk, hwk',
    );
    await refused(
      rule({ auth_time: NOW, amr: ['otp'] }).requireStepUp(['pwd', 'hwk'])(request),
      'log in again with one of: pwd, hwk',
    );
    await refused(
      rule({ auth_time: NOW }).requireStepUp(['pwd'])(request),
      'log in again with one of: pwd',
    );
  });

  it('with a second factor: only `mfa` within the window passes, and the refusal names the factors', async () => {
    const second = ['totp', 'recovery_code', 'passkey'];
    await rule({ auth_time: NOW - WINDOW, amr: ['pwd', 'mfa'] }, second).requireStepUp()(request);
    const issue = 'step up with a second factor: totp, recovery_code, passkey';
    await refused(
      rule({ auth_time: NOW, amr: ['pwd', 'otp'] }, second).requireStepUp()(request),
      issue,
    );
    await refused(
      rule({ auth_time: NOW, amr: ['hwk'] }, second).requireStepUp(['hwk'])(request),
      issue,
    );
    await refused(
      rule({ auth_time: NOW - WINDOW - 1, amr: ['mfa'] }, second).requireStepUp()(request),
      issue,
    );
    await refused(rule({ amr: ['mfa'] }, second).requireStepUp()(request), issue);
    await refused(
      rule({ auth_time: NOW }, ['passkey']).requireStepUp()(request),
      'step up with a second factor: passkey',
    );
  });

  it('without a second-factor lookup, every account is one without', async () => {
    const guard = { claims: async () => ({ sub: UID, auth_time: NOW, amr: ['pwd'] }) as never };
    await createStepUp(guard, WINDOW)()(request);
    await refused(createStepUp(guard, WINDOW)(['otp'])(request), 'log in again with one of: otp');
  });
});
