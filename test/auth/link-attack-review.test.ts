/**
 * Attack review of linking (password, email), password change, MFA on every login and passkey
 * step-up (SECURITY.md "Sign-in methods: attack review"). The test plays a host that calls the
 * enclave directly with what it holds (rows of any account, tokens it relayed, codes of its own
 * mailbox) and a thief who holds one factor, and checks what the enclave decides:
 * - a passkey step-up that proves only the key (no user verification) gives `mfa` only when the
 *   session already rests on another factor (a password, a mailed code, a SIWE key, a verified
 *   user): a session from that same key alone, or a refreshed one, does not become multi-factor;
 * - auth.password_set with one account's token and another account's email binding is refused;
 *   a forged token is refused; an envelope made for another action is refused;
 * - a `link` code serves only the account that asked and only linking (not a sign-in); a link
 *   start without a token, or a sign-in start with one, is refused; 5 wrong codes lock it;
 * - a passkey step-up over a login challenge, a login over a step-up challenge, and a step-up
 *   with another account's credential row are refused;
 * - a user-verified flag the host sets in an assertion breaks its signature; a login whose
 *   second factor the host withholds never says `mfa`;
 * - linking an email with a wrong code answers alike for a taken and a free address; a malformed
 *   new password is neither echoed in the validation error nor logged.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TOTP, URI } from 'otpauth';
import { encryptPassword } from '../../src/client/index.js';
import { isEnclaveCallError } from '../../src/host/enclave-client/rpc-client.js';
import { enclaveKey } from '../helpers/security-util.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { SoftAuthenticator } from '../helpers/webauthn.js';

const ISSUER = 'https://cloister.test';
const DOMAIN = 'cloister.test';
const ORIGIN = 'https://cloister.test';

const amrOf = (token: string) =>
  (
    JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as {
      amr?: string[];
    }
  ).amr ?? [];

describe('attack review: linking, password change, MFA everywhere, passkey step-up', () => {
  let ts: TestService;
  const call = (method: 'GET' | 'POST', url: string, token?: string, payload?: object) =>
    ts.service.app.inject({
      method,
      url,
      ...(payload ? { payload: payload as Record<string, unknown> } : {}),
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
  const rpc = () => ts.service.enclave;
  /** A password account, logged in: its token pair, user id and email binding. */
  const account = async (email: string, password = `${email} has a long password`) => {
    assert.equal(
      (await call('POST', '/auth/register', undefined, { email, password })).statusCode,
      201,
    );
    const login = (await call('POST', '/auth/login', undefined, { email, password })).json();
    const { rows } = await ts.service.db.query<{ user_id: string; binding: string }>(
      "SELECT user_id, binding FROM auth_methods WHERE kind = 'email' AND identifier = $1",
      [email],
    );
    return { email, password, login, userId: rows[0]!.user_id, binding: rows[0]!.binding };
  };
  const withPasskey = async (a: Awaited<ReturnType<typeof account>>) => {
    const device = new SoftAuthenticator(DOMAIN, ORIGIN);
    const reg = (
      await call('POST', '/auth/passkeys/register/options', a.login.access_token, {
        user_name: a.email,
      })
    ).json().options;
    const v = await call('POST', '/auth/passkeys/register/verify', a.login.access_token, {
      response: device.create(reg),
    });
    assert.equal(v.statusCode, 201, v.body);
    return device;
  };
  const loginOptions = async () =>
    (await call('POST', '/auth/passkeys/login/options')).json().options as Record<string, unknown>;
  const stepUpOptions = async (token: string) =>
    (await call('POST', '/auth/step-up/passkey/options', token)).json().options as Record<
      string,
      unknown
    >;
  const codeOf = (mail: { text: string } | null) => /(\d{6})/.exec(mail!.text)![1]!;

  before(async () => {
    ts = await startTestService('pglite', {
      AUTH_ISSUER: ISSUER,
      AUTH_LOGIN_MAX_PER_IP: '100000',
      AUTH_REGISTER_MAX_PER_IP: '100000',
    });
  });
  after(async () => ts?.stop());

  it('a passkey step-up without user verification is no second factor for a session of that key alone', async () => {
    const a = await account('thief-target@example.com');
    const device = await withPasskey(a);
    // The thief holds the authenticator only (no PIN): a login without user verification.
    const thief = await call('POST', '/auth/passkeys/login/verify', undefined, {
      response: device.get(await loginOptions(), { uv: false }),
    });
    assert.equal(thief.statusCode, 200, thief.body);
    assert.deepEqual(amrOf(thief.json().access_token), ['hwk']);
    // The same key again, as a step-up: still one factor.
    const up = await call('POST', '/auth/step-up', thief.json().access_token, {
      passkey: device.get(await stepUpOptions(thief.json().access_token), { uv: false }),
    });
    assert.equal(up.statusCode, 200, up.body);
    assert.ok(!amrOf(up.json().access_token).includes('mfa'), up.body);
    const change = await call('POST', '/auth/password/change', up.json().access_token, {
      password: 'the thief would like this password',
    });
    assert.equal(change.json().error.code, 'STEP_UP_REQUIRED');
    // A refreshed session carries no factor: the key alone does not make it multi-factor.
    const stale = (
      await call('POST', '/auth/refresh', undefined, { refresh_token: a.login.refresh_token })
    ).json().access_token as string;
    const upStale = await call('POST', '/auth/step-up', stale, {
      passkey: device.get(await stepUpOptions(stale), { uv: false }),
    });
    assert.equal(upStale.statusCode, 200, upStale.body);
    assert.ok(!amrOf(upStale.json().access_token).includes('mfa'), upStale.body);
    // A session from the password plus the key: two factors.
    const pwd = (
      await call('POST', '/auth/login', undefined, { email: a.email, password: a.password })
    ).json().access_token as string;
    const upPwd = await call('POST', '/auth/step-up', pwd, {
      passkey: device.get(await stepUpOptions(pwd), { uv: false }),
    });
    assert.deepEqual(amrOf(upPwd.json().access_token), ['pwd', 'hwk', 'mfa']);
    // A verifying authenticator is two factors on its own, whatever the session.
    const upUv = await call('POST', '/auth/step-up', thief.json().access_token, {
      passkey: device.get(await stepUpOptions(thief.json().access_token)),
    });
    assert.deepEqual(amrOf(upUv.json().access_token), ['hwk', 'user', 'mfa']);
  });

  it('auth.password_set: the account is the token’s; another account’s binding, a forged token, another action', async () => {
    const a = await account('pw-attacker@example.com');
    const b = await account('pw-victim@example.com');
    const secret = { password: 'the host picks this password' };
    /** The host's call: `token`'s account, the email and binding of `target`. */
    const setPassword = (token: string, target: typeof a, secretOf: object = secret) =>
      rpc().call('auth.password_set', {
        access_token: token,
        action: 'change',
        email: target.email,
        binding: target.binding,
        secret: secretOf as typeof secret,
      });
    await assert.rejects(setPassword(a.login.access_token, b), (err) =>
      isEnclaveCallError(err, 'AUTH_METHOD_BINDING_INVALID'),
    );
    const [h, p, s] = b.login.access_token.split('.');
    await assert.rejects(setPassword(`${h}.${p}.${s!.slice(0, -4)}AAAA`, b), (err) =>
      isEnclaveCallError(err, 'AUTH_TOKEN_INVALID'),
    );
    // An envelope the victim made to log in cannot set the password (action confusion).
    const { pub, keyId } = await enclaveKey(ts);
    const loginEnvelope = encryptPassword(
      { action: 'login', email: b.email, password: b.password },
      pub,
      { keyId },
    );
    await assert.rejects(setPassword(b.login.access_token, b, { envelope: loginEnvelope }), (err) =>
      isEnclaveCallError(err, 'AUTH_ENVELOPE_MISMATCH'),
    );
    // The honest call returns a blob sealed to the token's account only.
    const ok = await setPassword(a.login.access_token, a);
    assert.equal(ok.user_id, a.userId);
  });

  it('a link code serves one account and linking only; starts need the right token; 5 wrong codes lock it', async () => {
    const a = await account('link-a@example.com');
    const b = await account('link-b@example.com');
    const target = 'host-mailbox@example.com';
    await assert.rejects(rpc().call('auth.otp_start', { email: target, purpose: 'link' }), (err) =>
      isEnclaveCallError(err, 'AUTH_TOKEN_INVALID'),
    );
    await assert.rejects(
      rpc().call('auth.otp_start', {
        email: target,
        purpose: 'login',
        access_token: a.login.access_token,
      }),
      (err) => isEnclaveCallError(err, 'AUTH_TOKEN_INVALID'),
    );
    const started = await rpc().call('auth.otp_start', {
      email: target,
      purpose: 'link',
      access_token: a.login.access_token,
    });
    const code = codeOf(started.dev_mail);
    // Not for B, not a sign-in or reset code.
    await assert.rejects(
      rpc().call('auth.email_link', { access_token: b.login.access_token, email: target, code }),
      (err) => isEnclaveCallError(err, 'AUTH_OTP_INVALID'),
    );
    await assert.rejects(
      rpc().call('auth.otp_verify', { email: target, code, user: null }),
      (err) => isEnclaveCallError(err, 'AUTH_OTP_INVALID'),
    );
    await assert.rejects(
      rpc().call('auth.password_reset', {
        email: target,
        code,
        secret: { password: 'the host picks this password' },
        user: { user_id: a.userId, binding: a.binding },
      }),
      (err) => isEnclaveCallError(err, 'AUTH_OTP_INVALID'),
    );
    const linked = await rpc().call('auth.email_link', {
      access_token: a.login.access_token,
      email: target,
      code,
    });
    assert.equal(linked.user_id, a.userId);
    // Brute force: 5 wrong codes lock a fresh code, the right one included.
    const again = await rpc().call('auth.otp_start', {
      email: 'brute@example.com',
      purpose: 'link',
      access_token: a.login.access_token,
    });
    const right = codeOf(again.dev_mail);
    const wrongs = ['000000', '000001', '000002', '000003', '000004', '000005']
      .filter((c) => c !== right)
      .slice(0, 5);
    for (const wrong of wrongs)
      await assert.rejects(
        rpc().call('auth.email_link', {
          access_token: a.login.access_token,
          email: 'brute@example.com',
          code: wrong,
        }),
      );
    await assert.rejects(
      rpc().call('auth.email_link', {
        access_token: a.login.access_token,
        email: 'brute@example.com',
        code: right,
      }),
      (err) => isEnclaveCallError(err, 'AUTH_OTP_LOCKED'),
    );
  });

  it('passkey challenges: login ≠ step-up, and another account’s credential row is refused', async () => {
    const a = await account('pk-a@example.com');
    const b = await account('pk-b@example.com');
    const deviceA = await withPasskey(a);
    const deviceB = await withPasskey(b);
    const rowOf = async (id: string) => {
      const { rows } = await ts.service.db.query<{
        user_id: string;
        public_key: string;
        counter: string;
        binding: string;
      }>(
        "SELECT user_id, public_key, counter, binding FROM auth_methods WHERE kind = 'passkey' AND identifier = $1",
        [id],
      );
      const r = rows[0]!;
      return {
        user_id: r.user_id,
        credential_id: id,
        public_key: r.public_key,
        counter: Number(r.counter),
        binding: r.binding,
      };
    };
    const token = a.login.access_token as string;
    // A login challenge does not serve a step-up.
    const viaLogin = await call('POST', '/auth/step-up', token, {
      passkey: deviceA.get(await loginOptions()),
    });
    assert.equal(viaLogin.json().error.code, 'AUTH_PASSKEY_INVALID');
    // A step-up challenge does not serve a login.
    const viaStepUp = await call('POST', '/auth/passkeys/login/verify', undefined, {
      response: deviceA.get(await stepUpOptions(token)),
    });
    assert.equal(viaStepUp.json().error.code, 'AUTH_PASSKEY_INVALID');
    // The host hands B's row (and B's assertion over A's challenge) with A's token.
    await assert.rejects(
      rpc().call('auth.passkey_step_up', {
        access_token: token,
        roles: [],
        response: deviceB.get(await stepUpOptions(token)),
        credential: await rowOf(deviceB.id),
      }),
      (err) => isEnclaveCallError(err, 'AUTH_PASSKEY_INVALID'),
    );
    // B's row relabelled as A's: the binding names B.
    await assert.rejects(
      rpc().call('auth.passkey_step_up', {
        access_token: token,
        roles: [],
        response: deviceB.get(await stepUpOptions(token)),
        credential: { ...(await rowOf(deviceB.id)), user_id: a.userId },
      }),
      (err) => isEnclaveCallError(err, 'AUTH_METHOD_BINDING_INVALID'),
    );
  });

  it('no mfa without the factor: a forged UV flag, a withheld TOTP; a wrong link code tells nothing', async () => {
    const a = await account('uv-forge@example.com');
    const device = await withPasskey(a);
    const assertion = device.get(await loginOptions(), { uv: false });
    const resp = assertion.response as { authenticatorData: string };
    const data = Buffer.from(resp.authenticatorData, 'base64url');
    data[32] = 0x05; // UP | UV
    const forged = await call('POST', '/auth/passkeys/login/verify', undefined, {
      response: {
        ...assertion,
        response: { ...resp, authenticatorData: data.toString('base64url') },
      },
    });
    assert.equal(forged.json().error.code, 'AUTH_PASSKEY_INVALID');

    // The host runs an email-code login itself and withholds the TOTP it would have to hand over.
    const t = await account('totp-withheld@example.com');
    const enrol = await call('POST', '/auth/totp/enroll', t.login.access_token, {});
    assert.equal(enrol.statusCode, 201, enrol.body);
    const totp = URI.parse(enrol.json().otpauth_uri) as TOTP;
    const confirmed = await call('POST', '/auth/totp/confirm', t.login.access_token, {
      code: totp.generate(),
    });
    assert.equal(confirmed.statusCode, 200, confirmed.body);
    const code = codeOf(
      (await rpc().call('auth.otp_start', { email: t.email, purpose: 'login' })).dev_mail,
    );
    const user = { user_id: t.userId, binding: t.binding, roles: [] };
    const { rows } = await ts.service.db.query<{ sealed: string }>(
      'SELECT sealed FROM auth_totp WHERE user_id = $1',
      [t.userId],
    );
    // Handed over, the TOTP is due; withheld, the token says only `otp` (never `mfa`).
    await assert.rejects(
      rpc().call('auth.otp_verify', {
        email: t.email,
        code,
        user: { ...user, totp_sealed: rows[0]!.sealed },
      }),
      (err) => isEnclaveCallError(err, 'AUTH_MFA_REQUIRED'),
    );
    const r = await rpc().call('auth.otp_verify', { email: t.email, code, user });
    assert.deepEqual(amrOf(r.access_token), ['otp']);

    // A wrong link code: the same answer for an address with an account and one without.
    const c = await account('link-prober@example.com');
    const taken = await call('POST', '/auth/methods/link', c.login.access_token, {
      email: { email: 'pw-victim@example.com', code: '123456' },
    });
    const free = await call('POST', '/auth/methods/link', c.login.access_token, {
      email: { email: 'nobody-here@example.com', code: '123456' },
    });
    assert.equal(taken.statusCode, free.statusCode);
    assert.equal(taken.json().error.code, free.json().error.code);
    assert.equal(taken.json().error.code, 'AUTH_OTP_INVALID');

    // A malformed new password is refused without echoing it.
    const planted = 'planted-secret-Zq81';
    for (const password of [
      { envelope: planted },
      { envelope: { v: 1 }, password: planted },
      `${'x'.repeat(1025)}${planted}`,
      [planted],
    ]) {
      const bad = await call('POST', '/auth/password/change', c.login.access_token, { password });
      assert.equal(bad.statusCode, 400, bad.body);
      assert.ok(!bad.body.includes(planted), bad.body);
    }
    assert.ok(!ts.logs.some((l) => l.includes(planted)), 'a refused password in the logs');
  });
});
