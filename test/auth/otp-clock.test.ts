/**
 * Host–enclave boundary, second attack review (SECURITY.md): email codes on the host's clock.
 * A code lives 10 minutes, counted on the enclave's wall clock, which is the host's to set: once
 * a code had expired (unused: the user gave up, or it was read from the mailbox later), setting
 * the clock back made it valid again, for sign-in, password reset, account recovery or a link.
 * The rules that forget something once it is past read the clock that never goes back within a
 * process (`state.monotonicNow`), as the replay cache, credential expiry, TOTP and the recovery
 * time-lock already did. Through the real dispatcher on an in-process enclave with a settable
 * clock.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OTP_TTL_SECONDS } from '../../src/enclave/auth/otp.js';
import { testEnclave } from '../helpers/enclave-state.js';
import { code, ok } from '../mutation-killers/rpc.js';

describe('email codes on a clock the host sets back', () => {
  it('a code past its 10 minutes stays expired when the clock is set back', async () => {
    const t = testEnclave();
    await ok(t, 'keyring.generate', { policy: 'signer' });
    await ok(t, 'auth.init', { sealed: null });
    const email = 'late@example.test';
    const start = await ok(t, 'auth.otp_start', { email, purpose: 'login' });
    const mailed = /is (\d{6})/.exec(start.dev_mail!.text)![1]!;
    const sentAt = t.clock.now;
    t.clock.now = sentAt + OTP_TTL_SECONDS + 1;
    // Any call reads the clock: here the expired code itself (refused, and not counted).
    assert.equal(
      await code(t, 'auth.otp_verify', { email, code: mailed, user: null }),
      'AUTH_OTP_INVALID',
    );
    t.clock.now = sentAt + 10; // back to when the code was fresh
    assert.equal(
      await code(t, 'auth.otp_verify', { email, code: mailed, user: null }),
      'AUTH_OTP_INVALID',
    );
  });
});
