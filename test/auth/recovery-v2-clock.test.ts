/**
 * Account recovery v2 on the enclave's own clock (SECURITY.md "Sign-in methods: attack
 * review", the recovery v2 rows): a host that calls auth.recovery_complete itself early, at the
 * deadline or after it, and after forcing an enclave restart. Through the real dispatcher on an
 * in-process enclave with a settable clock. These held.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RECOVERY_COMPLETE_WINDOW_SECONDS } from '../../src/enclave/methods/auth-otp.js';
import { testEnclave, type TestEnclave } from '../helpers/enclave-state.js';
import { code, ok } from '../mutation-killers/rpc.js';

const DELAY = 86400;

async function pendingRecovery() {
  const t = testEnclave({ env: { AUTH_RECOVERY_DELAY_SECONDS: String(DELAY) } });
  const keyring = await ok(t, 'keyring.generate', { policy: 'signer' });
  const init = await ok(t, 'auth.init', { sealed: null });
  const email = 'owner@example.test';
  const reg = await ok(t, 'auth.register', { email, secret: { password: 'the old password 1' } });
  const start = await ok(t, 'auth.otp_start', { email, purpose: 'recovery' });
  const mailed = /is (\d{6})/.exec(start.dev_mail!.text)![1]!;
  const user = { user_id: reg.user_id, binding: reg.email_binding };
  const r = await ok(t, 'auth.recovery_confirm', {
    email,
    code: mailed,
    secret: { password: 'the recovered password' },
    user,
    second_factor: true,
    password_state: reg.password_sealed,
  });
  const params = {
    user_id: reg.user_id,
    recovery_id: r.recovery_id,
    unlock_at: r.unlock_at!,
    expires_at: r.expires_at!,
    password_sealed: r.password_sealed,
    mac: r.mac!,
    password_state: reg.password_sealed,
    completion_code: r.completion_code!,
  };
  return {
    t,
    params,
    binding: reg.email_binding,
    sealedKeyring: keyring.sealed,
    sealedAuth: init.sealed!,
    confirmedAt: t.clock.now,
  };
}

const complete = (t: TestEnclave, params: object) => code(t, 'auth.recovery_complete', params);

describe('recovery v2 on the enclave clock', () => {
  it('the enclave fixes the times: unlock = its clock + delay, deadline = unlock + 7 days', async () => {
    const { params, confirmedAt } = await pendingRecovery();
    assert.equal(params.unlock_at, confirmedAt + DELAY);
    assert.equal(params.expires_at, params.unlock_at + RECOVERY_COMPLETE_WINDOW_SECONDS);
  });

  it('early: LOCKED (right code only); at unlock: done; at and after the deadline: INVALID', async () => {
    const { t, params } = await pendingRecovery();
    assert.equal(await complete(t, params), 'AUTH_RECOVERY_LOCKED');
    assert.equal(
      await complete(t, { ...params, completion_code: 'B'.repeat(22) }),
      'AUTH_RECOVERY_INVALID',
      'a wrong code learns LOCKED',
    );
    t.clock.now = params.unlock_at - 1;
    assert.equal(await complete(t, params), 'AUTH_RECOVERY_LOCKED');
    t.clock.now = params.expires_at;
    assert.equal(await complete(t, params), 'AUTH_RECOVERY_INVALID', 'completed at the deadline');
    t.clock.now = params.expires_at + 86400 * 30;
    assert.equal(await complete(t, params), 'AUTH_RECOVERY_INVALID', 'completed after it');
    // The host moves the row's times (earlier unlock, later deadline): the MAC refuses.
    assert.equal(
      await complete(t, { ...params, expires_at: t.clock.now + 10 }),
      'AUTH_RECOVERY_INVALID',
    );
    // The enclave's rules do not go back with its clock: what passed its deadline stays past.
    t.clock.now = params.unlock_at;
    assert.equal(await complete(t, params), 'AUTH_RECOVERY_INVALID', 'the clock set back');
    const fresh = await pendingRecovery();
    fresh.t.clock.now = fresh.params.unlock_at;
    assert.equal(await complete(fresh.t, fresh.params), 'ok');
  });

  it('a host that sets the clock back before the start gets no shorter time-lock', async () => {
    const t0 = await pendingRecovery();
    // Started again on the same enclave with its clock set back by the delay: the unlock time
    // is counted from the latest time the enclave gave, not the earlier one.
    const { t, params } = t0;
    const latest = t.clock.now;
    t.clock.now = latest - DELAY;
    assert.equal(await complete(t, params), 'AUTH_RECOVERY_LOCKED');
    const email = 'owner@example.test';
    const start = await ok(t, 'auth.otp_start', { email, purpose: 'recovery' });
    const mailed = /is (\d{6})/.exec(start.dev_mail!.text)![1]!;
    const r = await ok(t, 'auth.recovery_confirm', {
      email,
      code: mailed,
      secret: { password: 'another recovered password' },
      user: { user_id: params.user_id, binding: t0.binding },
      second_factor: true,
      password_state: params.password_state,
    });
    assert.equal(r.unlock_at, latest + DELAY);
  });

  it('a forced restart neither forgets the time-lock nor the binding to the password', async () => {
    const { t, params, sealedKeyring, sealedAuth } = await pendingRecovery();
    const again = testEnclave({
      dir: t.dir,
      env: { AUTH_RECOVERY_DELAY_SECONDS: String(DELAY) },
    });
    again.clock.now = t.clock.now;
    await ok(again, 'keyring.unseal', { sealed: sealedKeyring });
    await ok(again, 'auth.init', { sealed: sealedAuth });
    assert.equal(await complete(again, params), 'AUTH_RECOVERY_LOCKED');
    again.clock.now = params.unlock_at;
    assert.equal(
      await complete(again, { ...params, password_state: null }),
      'AUTH_RECOVERY_INVALID',
      'completed against another password state',
    );
    assert.equal(await complete(again, params), 'ok');
  });
});
