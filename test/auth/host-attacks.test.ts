/**
 * Sign-in methods attacked from the host (SECURITY.md "Sign-in methods: attack review"): the
 * test plays a host that calls the enclave directly with what it holds (database rows, tokens
 * it relayed) and checks that the enclave, not the host, decides each factor.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TOTP, URI } from 'otpauth';
import { isEnclaveCallError } from '../../src/host/enclave-client/rpc-client.js';
import { startTestService, type TestService } from '../helpers/service.js';

describe('sign-in methods: the host cannot claim a factor passed', () => {
  let ts: TestService;
  let token: string;
  let userId: string;
  let sealed: string;
  let recoveryCodes: string[];
  let totp: TOTP;
  const creds = { email: 'victim@example.com', password: 'a long enough password' };
  const call = (method: 'POST', url: string, bearer?: string, payload?: object) =>
    ts.service.app.inject({
      method,
      url,
      ...(payload ? { payload: payload as Record<string, unknown> } : {}),
      headers: bearer ? { authorization: `Bearer ${bearer}` } : {},
    });

  /** auth.step_up called by the host itself, with the account's sealed secret and no MACs. */
  const stepUp = (second: { totp_code: string } | { recovery_code: string }) =>
    ts.service.enclave.call('auth.step_up', {
      access_token: token,
      roles: [],
      totp_sealed: sealed,
      second,
      recovery_macs: [],
    });

  before(async () => {
    ts = await startTestService('pglite', { AUTH_LOGIN_MAX_PER_IP: '100000' });
    assert.equal((await call('POST', '/auth/register', undefined, creds)).statusCode, 201);
    const login = (await call('POST', '/auth/login', undefined, creds)).json();
    token = login.access_token;
    const enrol = await call('POST', '/auth/totp/enroll', token, { label: creds.email });
    totp = URI.parse(enrol.json().otpauth_uri) as TOTP;
    const ok = await call('POST', '/auth/totp/confirm', token, { code: totp.generate() });
    assert.equal(ok.statusCode, 200, ok.body);
    recoveryCodes = ok.json().recovery_codes;
    const { rows } = await ts.service.db.query<{ user_id: string; sealed: string }>(
      'SELECT user_id, sealed FROM auth_totp WHERE confirmed_at IS NOT NULL',
    );
    userId = rows[0]!.user_id;
    sealed = rows[0]!.sealed;
  });
  after(async () => ts?.stop());

  it('a made-up recovery code gets no mfa token from the enclave (step-up)', async () => {
    const made = 'AAAAA-BBBBB';
    assert.ok(!recoveryCodes.includes(made));
    await assert.rejects(stepUp({ recovery_code: made }), (err) =>
      isEnclaveCallError(err, 'AUTH_MFA_INVALID'),
    );
  });

  it('a made-up recovery code gets no mfa token from the enclave (password login)', async () => {
    const { rows } = await ts.service.db.query<{ password_sealed: string }>(
      'SELECT sealed AS password_sealed FROM user_passwords WHERE user_id = $1',
      [userId],
    );
    await assert.rejects(
      ts.service.enclave.call('auth.login', {
        email: creds.email,
        secret: { password: creds.password },
        user: {
          user_id: userId,
          password_sealed: rows[0]!.password_sealed,
          roles: [],
          totp_sealed: sealed,
          recovery_macs: [],
        },
        second: { recovery_code: 'CCCCC-DDDDD' },
      } as never),
      (err) => isEnclaveCallError(err, 'AUTH_MFA_INVALID'),
    );
  });

  it('a real recovery code still steps up through the service', async () => {
    const stepped = await call('POST', '/auth/step-up', token, {
      recovery_code: recoveryCodes[1],
    });
    assert.equal(stepped.statusCode, 200, stepped.body);
    const spent = await call('POST', '/auth/step-up', token, { recovery_code: recoveryCodes[1] });
    assert.equal(spent.json().error.code, 'AUTH_MFA_INVALID');
  });

  it('the host cannot guess TOTP codes through the enclave without limit', async () => {
    const at = (steps: number) => totp.generate({ timestamp: Date.now() + steps * 30_000 });
    const live = new Set([at(-1), at(0), at(1), at(2)]);
    let tried = 0;
    for (let guess = 0; tried < 20; guess++) {
      const code = String(guess).padStart(6, '0');
      if (live.has(code)) continue;
      await assert.rejects(stepUp({ totp_code: code }), (err) =>
        isEnclaveCallError(err, 'AUTH_MFA_INVALID'),
      );
      tried++;
    }
    // The right code of the next step (never used) now fails too: the account is locked out.
    await assert.rejects(stepUp({ totp_code: at(1) }), (err) =>
      isEnclaveCallError(err, 'AUTH_MFA_INVALID'),
    );
  });
});
