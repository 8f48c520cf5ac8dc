/**
 * Linking a password and an email, changing the password, MFA on every login, step-up by
 * passkey (docs/protocol/auth.md "Linked methods", "TOTP", "Step-up"), through the service and
 * the enclave:
 * - a password links to an account without one (email-code account), with step-up; twice is
 *   AUTH_PASSWORD_EXISTS; an account without an email gets AUTH_EMAIL_REQUIRED;
 * - an email links with a `link` code the enclave bound to the asking account and the address:
 *   a wrong code, another account's code and a spent code are refused; an address another
 *   account took in between is AUTH_METHOD_TAKEN; afterwards an email-code login with it lands
 *   in the linking account;
 * - a password change ends every other session, keeps this one; the old password stops working;
 * - with a confirmed TOTP, email-code and SIWE logins need the code (AUTH_MFA_REQUIRED);
 * - step-up by a passkey assertion (software authenticator): the same session, amr hwk + mfa;
 *   STEP_UP_REQUIRED names `passkey`; a replayed assertion and another account's passkey fail;
 * - planted secrets: neither a linked password nor a link code is in the database or the logs.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TOTP, URI } from 'otpauth';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { createSiweMessage } from 'viem/siwe';
import { encryptPassword } from '../../src/client/index.js';
import {
  dumpPublicSchema,
  enclaveKey,
  findNeedles,
  secretNeedles,
} from '../helpers/security-util.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { SoftAuthenticator } from '../helpers/webauthn.js';

const ISSUER = 'https://cloister.test';
const DOMAIN = 'cloister.test';
const ORIGIN = 'https://cloister.test';
const LINKED_PASSWORD = 'planted linked password 7Qx!';
const NEW_PASSWORD = 'planted changed password 9Zy!';

const claimsOf = (token: string) =>
  JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as {
    sub: string;
    sid: string;
    amr?: string[];
    auth_time?: number;
  };

describe('linking a password and an email, password change, MFA everywhere, passkey step-up', () => {
  let ts: TestService;
  const codes: string[] = [];
  const call = (method: 'GET' | 'POST' | 'DELETE', url: string, token?: string, payload?: object) =>
    ts.service.app.inject({
      method,
      url,
      ...(payload ? { payload: payload as Record<string, unknown> } : {}),
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
  /** The mail files so far: a code is read only from a mail written after `since`. */
  const mailFiles = () => {
    try {
      return new Set(readdirSync(join(ts.dataDir, 'mail')));
    } catch {
      return new Set<string>();
    }
  };
  const seen = new Set<string>();
  const mailed = async (what: RegExp, to: string) => {
    // Wait for a mail this step caused (routes answer before the mail is written).
    for (let i = 0; i < 1500; i++) {
      const fresh = [...mailFiles()].filter((f) => !seen.has(f));
      for (const f of fresh) {
        const text = readFileSync(join(ts.dataDir, 'mail', f), 'utf8');
        const m = what.exec(text);
        if (m && text.includes(`To: ${to}`)) {
          seen.add(f);
          codes.push(m[1]!);
          return m[1]!;
        }
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`no new mail to ${to}`);
  };
  const LINK = /link this address to your account is (\d{6})/;
  const SIGN_IN = /sign-in code is (\d{6})/;
  const otpLogin = async (email: string, extra: object = {}) => {
    await call('POST', '/auth/otp/start', undefined, { email });
    const code = await mailed(SIGN_IN, email);
    return {
      code,
      r: await call('POST', '/auth/otp/verify', undefined, { email, code, ...extra }),
    };
  };
  const wrongOf = (c: string) => (c === '000000' ? '000001' : '000000');
  /** A SIWE message over a fresh nonce, signed by `account`. */
  const signedSiwe = async (account: ReturnType<typeof privateKeyToAccount>) => {
    const nonce = (await call('GET', '/auth/siwe/nonce')).json().nonce as string;
    const message = createSiweMessage({
      domain: DOMAIN,
      address: account.address,
      uri: `${ORIGIN}/login`,
      version: '1',
      chainId: 1,
      nonce,
      issuedAt: new Date(),
    });
    return { message, signature: await account.signMessage({ message }) };
  };
  const siweLogin = async (account: ReturnType<typeof privateKeyToAccount>, extra: object = {}) =>
    call('POST', '/auth/siwe/login', undefined, { ...(await signedSiwe(account)), ...extra });
  const refreshed = async (refreshToken: string) =>
    (await call('POST', '/auth/refresh', undefined, { refresh_token: refreshToken })).json()
      .access_token as string;

  before(async () => {
    ts = await startTestService('pglite', {
      AUTH_ISSUER: ISSUER,
      AUTH_SIWE_CHAIN_IDS: '1',
      AUTH_LOGIN_MAX_PER_IP: '100000',
      AUTH_REGISTER_MAX_PER_IP: '100000',
      AUTH_LOGIN_FAILURES_BEFORE_BACKOFF: '1000',
      AUTH_RP_ID: DOMAIN,
      AUTH_ORIGINS: ORIGIN,
    });
  });
  after(async () => ts?.stop());

  it('links a password to an email-code account: step-up needed, then login works, twice is 409', async () => {
    const email = 'codeonly@example.com';
    const { r } = await otpLogin(email);
    assert.equal(r.statusCode, 200, r.body);
    const stale = await refreshed(r.json().refresh_token);
    const noStepUp = await call('POST', '/auth/methods/link', stale, { password: LINKED_PASSWORD });
    assert.equal(noStepUp.json().error.code, 'STEP_UP_REQUIRED');
    const token = r.json().access_token as string;
    const short = await call('POST', '/auth/methods/link', token, { password: 'short' });
    assert.equal(short.statusCode, 400);
    const linked = await call('POST', '/auth/methods/link', token, { password: LINKED_PASSWORD });
    assert.equal(linked.statusCode, 201, linked.body);
    assert.deepEqual(linked.json(), { id: 'password' });
    const methods = (await call('GET', '/auth/methods', token)).json().methods as {
      kind: string;
    }[];
    assert.deepEqual(methods.map((m) => m.kind).sort(), ['email', 'password']);
    const login = await call('POST', '/auth/login', undefined, {
      email,
      password: LINKED_PASSWORD,
    });
    assert.equal(login.statusCode, 200, login.body);
    assert.equal(login.json().user_id, r.json().user_id);
    const again = await call('POST', '/auth/methods/link', token, { password: LINKED_PASSWORD });
    assert.equal(again.statusCode, 409);
    assert.equal(again.json().error.code, 'AUTH_PASSWORD_EXISTS');
    const event = await ts.service.db.query(
      "SELECT 1 FROM ops_logs WHERE event_type = 'auth.method_linked' AND details->>'kind' = 'password'",
    );
    assert.equal(event.rows.length, 1);
  });

  it('links an email with a code bound to the account and address; refusals; then code login lands here', async () => {
    const alice = privateKeyToAccount(generatePrivateKey());
    const bob = privateKeyToAccount(generatePrivateKey());
    const a = await siweLogin(alice);
    const b = await siweLogin(bob);
    assert.equal(a.statusCode, 200, a.body);
    const aToken = a.json().access_token as string;
    const bToken = b.json().access_token as string;

    // No email yet: a password would have nothing to log in with.
    const noEmail = await call('POST', '/auth/methods/link', aToken, {
      password: LINKED_PASSWORD,
    });
    assert.equal(noEmail.json().error.code, 'AUTH_EMAIL_REQUIRED');

    const email = 'alice-link@example.com';
    const stale = await refreshed(a.json().refresh_token);
    const noStepUp = await call('POST', '/auth/methods/link/email/start', stale, { email });
    assert.equal(noStepUp.json().error.code, 'STEP_UP_REQUIRED');
    const start = await call('POST', '/auth/methods/link/email/start', aToken, { email });
    assert.equal(start.statusCode, 202, start.body);
    const code = await mailed(LINK, email);

    const wrong = await call('POST', '/auth/methods/link', aToken, {
      email: { email, code: wrongOf(code) },
    });
    assert.equal(wrong.json().error.code, 'AUTH_OTP_INVALID');
    // Alice's code does not link the address to Bob's account.
    const other = await call('POST', '/auth/methods/link', bToken, { email: { email, code } });
    assert.equal(other.json().error.code, 'AUTH_OTP_INVALID');
    const ok = await call('POST', '/auth/methods/link', aToken, { email: { email, code } });
    assert.equal(ok.statusCode, 201, ok.body);
    const reused = await call('POST', '/auth/methods/link', aToken, { email: { email, code } });
    assert.equal(reused.json().error.code, 'AUTH_OTP_INVALID');

    // The address now logs in to Alice's account, by code and (once linked) by password.
    const { r } = await otpLogin(email);
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(r.json().user_id, a.json().user_id);
    assert.equal(r.json().created, false);
    const pw = await call('POST', '/auth/methods/link', aToken, { password: LINKED_PASSWORD });
    assert.equal(pw.statusCode, 201, pw.body);
    const login = await call('POST', '/auth/login', undefined, {
      email,
      password: LINKED_PASSWORD,
    });
    assert.equal(login.json().user_id, a.json().user_id);

    // An address taken by another account between the start and the code: 409.
    const contested = 'contested@example.com';
    assert.equal(
      (await call('POST', '/auth/methods/link/email/start', bToken, { email: contested }))
        .statusCode,
      202,
    );
    const bCode = await mailed(LINK, contested);
    const reg = await call('POST', '/auth/register', undefined, {
      email: contested,
      password: 'someone else entirely',
    });
    assert.equal(reg.statusCode, 201, reg.body);
    const taken = await call('POST', '/auth/methods/link', bToken, {
      email: { email: contested, code: bCode },
    });
    assert.equal(taken.statusCode, 409);
    assert.equal(taken.json().error.code, 'AUTH_METHOD_TAKEN');
    // Bob cannot take Alice's address either (users.email or a linked method of another).
    assert.equal(
      (await call('POST', '/auth/methods/link/email/start', bToken, { email })).statusCode,
      202,
    );
  });

  it('changes the password: step-up needed; other sessions end, this one stays; old one fails', async () => {
    const email = 'changer@example.com';
    const oldPassword = 'the original password';
    assert.equal(
      (await call('POST', '/auth/register', undefined, { email, password: oldPassword }))
        .statusCode,
      201,
    );
    const other = (
      await call('POST', '/auth/login', undefined, { email, password: oldPassword })
    ).json();
    const mine = (
      await call('POST', '/auth/login', undefined, { email, password: oldPassword })
    ).json();
    const stale = await refreshed(mine.refresh_token);
    const noStepUp = await call('POST', '/auth/password/change', stale, { password: NEW_PASSWORD });
    assert.equal(noStepUp.json().error.code, 'STEP_UP_REQUIRED');
    const ok = await call('POST', '/auth/password/change', mine.access_token, {
      password: NEW_PASSWORD,
    });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.ok(ok.json().revoked >= 1);
    assert.equal((await call('GET', '/auth/methods', other.access_token)).statusCode, 401);
    assert.equal((await call('GET', '/auth/methods', mine.access_token)).statusCode, 200);
    const old = await call('POST', '/auth/login', undefined, { email, password: oldPassword });
    assert.equal(old.json().error.code, 'AUTH_INVALID_CREDENTIALS');
    const fresh = await call('POST', '/auth/login', undefined, { email, password: NEW_PASSWORD });
    assert.equal(fresh.statusCode, 200, fresh.body);
    const entry = await ts.service.db.query(
      "SELECT 1 FROM ops_logs WHERE event_type = 'auth.password_changed'",
    );
    assert.equal(entry.rows.length, 1);
    // An account without a password has nothing to change.
    const { r } = await otpLogin('nopassword@example.com');
    const none = await call('POST', '/auth/password/change', r.json().access_token, {
      password: NEW_PASSWORD,
    });
    assert.equal(none.json().error.code, 'AUTH_METHOD_NOT_FOUND');
  });

  it('with a confirmed TOTP, email-code and SIWE logins need the second factor too', async () => {
    const carol = privateKeyToAccount(generatePrivateKey());
    const email = 'carol-mfa@example.com';
    const { r } = await otpLogin(email);
    const token = r.json().access_token as string;
    // Carol also has an address, linked while she has no second factor.
    const linkSiwe = await call('POST', '/auth/methods/link', token, {
      siwe: await signedSiwe(carol),
    });
    assert.equal(linkSiwe.statusCode, 201, linkSiwe.body);
    const enrol = await call('POST', '/auth/totp/enroll', token, {});
    const totp = URI.parse(enrol.json().otpauth_uri) as TOTP;
    const at = (offset: number) => totp.generate({ timestamp: Date.now() + offset * 30_000 });
    assert.equal(
      (await call('POST', '/auth/totp/confirm', token, { code: at(-1) })).statusCode,
      200,
    );

    // Email code: refused without the TOTP code; the same mailed code then works with it.
    const { code, r: bare } = await otpLogin(email);
    assert.equal(bare.statusCode, 401);
    assert.equal(bare.json().error.code, 'AUTH_MFA_REQUIRED');
    const withTotp = await call('POST', '/auth/otp/verify', undefined, {
      email,
      code,
      totp_code: at(0),
    });
    assert.equal(withTotp.statusCode, 200, withTotp.body);
    assert.deepEqual(claimsOf(withTotp.json().access_token).amr, ['otp', 'otp', 'mfa']);
    const reused = await call('POST', '/auth/otp/verify', undefined, {
      email,
      code,
      totp_code: at(0),
    });
    assert.equal(reused.json().error.code, 'AUTH_OTP_INVALID');

    // SIWE: refused without it; with the next step's code it logs in with mfa.
    const bareSiwe = await siweLogin(carol);
    assert.equal(bareSiwe.json().error.code, 'AUTH_MFA_REQUIRED');
    const wrongSiwe = await siweLogin(carol, { totp_code: wrongOf(at(1)) });
    assert.equal(wrongSiwe.json().error.code, 'AUTH_MFA_INVALID');
    const okSiwe = await siweLogin(carol, { totp_code: at(1) });
    assert.equal(okSiwe.statusCode, 200, okSiwe.body);
    assert.deepEqual(claimsOf(okSiwe.json().access_token).amr, ['swk', 'otp', 'mfa']);
  });

  it('steps up by passkey assertion: same session, amr hwk + mfa; replay and a foreign passkey fail', async () => {
    const email = 'dave-passkey@example.com';
    const password = 'dave has a long password';
    await call('POST', '/auth/register', undefined, { email, password });
    const login = (await call('POST', '/auth/login', undefined, { email, password })).json();
    const device = new SoftAuthenticator(DOMAIN, ORIGIN);
    const reg = (
      await call('POST', '/auth/passkeys/register/options', login.access_token, {
        user_name: email,
      })
    ).json().options;
    const v = await call('POST', '/auth/passkeys/register/verify', login.access_token, {
      response: device.create(reg),
    });
    assert.equal(v.statusCode, 201, v.body);

    const stale = await refreshed(login.refresh_token);
    const refused = await call('POST', '/auth/password/change', stale, { password: NEW_PASSWORD });
    assert.equal(refused.json().error.code, 'STEP_UP_REQUIRED');
    assert.match(JSON.stringify(refused.json().error.details), /passkey/);

    const options = (await call('POST', '/auth/step-up/passkey/options', stale)).json().options;
    assert.deepEqual(
      (options.allowCredentials as { id: string }[]).map((c) => c.id),
      [device.id],
    );
    const assertion = device.get(options);
    const up = await call('POST', '/auth/step-up', stale, { passkey: assertion });
    assert.equal(up.statusCode, 200, up.body);
    const claims = claimsOf(up.json().access_token);
    assert.equal(claims.sid, claimsOf(login.access_token).sid);
    assert.ok(claims.amr!.includes('hwk') && claims.amr!.includes('mfa'));
    const ok = await call('POST', '/auth/password/change', up.json().access_token, {
      password: NEW_PASSWORD,
    });
    assert.equal(ok.statusCode, 200, ok.body);
    const counter = await ts.service.db.query<{ counter: string }>(
      "SELECT counter FROM auth_methods WHERE kind = 'passkey' AND identifier = $1",
      [device.id],
    );
    assert.equal(Number(counter.rows[0]!.counter), device.counter);

    // The assertion's challenge is spent.
    const replay = await call('POST', '/auth/step-up', stale, { passkey: assertion });
    assert.equal(replay.json().error.code, 'AUTH_PASSKEY_INVALID');
    // Another account cannot step up with Dave's passkey, nor with a challenge made for Dave.
    const eve = await otpLogin('eve-passkey@example.com');
    const eveToken = eve.r.json().access_token as string;
    const eveOptions = await call('POST', '/auth/step-up/passkey/options', eveToken);
    assert.equal(eveOptions.json().error.code, 'AUTH_METHOD_NOT_FOUND');
    const daveOptions = (
      await call('POST', '/auth/step-up/passkey/options', up.json().access_token)
    ).json().options;
    const foreign = await call('POST', '/auth/step-up', eveToken, {
      passkey: device.get(daveOptions),
    });
    assert.equal(foreign.json().error.code, 'AUTH_PASSKEY_INVALID');
  });

  it('a password travels in an envelope for this action and this account email only', async () => {
    const email = 'enveloped@example.com';
    const { r } = await otpLogin(email);
    const token = r.json().access_token as string;
    const { pub, keyId } = await enclaveKey(ts);
    const env = (action: 'login' | 'link' | 'change', to = email, password = LINKED_PASSWORD) =>
      encryptPassword({ action, email: to, password }, pub, { keyId });
    const wrongAction = await call('POST', '/auth/methods/link', token, {
      password: { envelope: env('login') },
    });
    assert.equal(wrongAction.json().error.code, 'AUTH_ENVELOPE_MISMATCH');
    const wrongEmail = await call('POST', '/auth/methods/link', token, {
      password: { envelope: env('link', 'someone@example.com') },
    });
    assert.equal(wrongEmail.json().error.code, 'AUTH_ENVELOPE_MISMATCH');
    const ok = await call('POST', '/auth/methods/link', token, {
      password: { envelope: env('link') },
    });
    assert.equal(ok.statusCode, 201, ok.body);
    const changed = await call('POST', '/auth/password/change', token, {
      password: { envelope: env('change', email, NEW_PASSWORD) },
    });
    assert.equal(changed.statusCode, 200, changed.body);
    const login = await call('POST', '/auth/login', undefined, { email, password: NEW_PASSWORD });
    assert.equal(login.statusCode, 200, login.body);
  });

  it('a passkey without user verification needs the TOTP code; a verifying one does not; a recovery code works once', async () => {
    const email = 'frank-uv@example.com';
    const password = 'frank has a long password';
    await call('POST', '/auth/register', undefined, { email, password });
    let token = (await call('POST', '/auth/login', undefined, { email, password })).json()
      .access_token as string;
    const enrol = await call('POST', '/auth/totp/enroll', token, {});
    const totp = URI.parse(enrol.json().otpauth_uri) as TOTP;
    const at = (offset: number) => totp.generate({ timestamp: Date.now() + offset * 30_000 });
    const confirmed = await call('POST', '/auth/totp/confirm', token, { code: at(-1) });
    const recovery = confirmed.json().recovery_codes as string[];
    token = (
      await call('POST', '/auth/login', undefined, { email, password, totp_code: at(0) })
    ).json().access_token;
    const device = new SoftAuthenticator(DOMAIN, ORIGIN);
    const reg = (
      await call('POST', '/auth/passkeys/register/options', token, { user_name: email })
    ).json().options;
    const v = await call('POST', '/auth/passkeys/register/verify', token, {
      response: device.create(reg),
    });
    assert.equal(v.statusCode, 201, v.body);
    const loginOptions = async () =>
      (await call('POST', '/auth/passkeys/login/options')).json().options;

    const bare = await call('POST', '/auth/passkeys/login/verify', undefined, {
      response: device.get(await loginOptions(), { uv: false }),
    });
    assert.equal(bare.json().error.code, 'AUTH_MFA_REQUIRED');
    const withCode = await call('POST', '/auth/passkeys/login/verify', undefined, {
      response: device.get(await loginOptions(), { uv: false }),
      totp_code: at(1),
    });
    assert.equal(withCode.statusCode, 200, withCode.body);
    assert.deepEqual(claimsOf(withCode.json().access_token).amr, ['hwk', 'otp', 'mfa']);
    const verified = await call('POST', '/auth/passkeys/login/verify', undefined, {
      response: device.get(await loginOptions()),
    });
    assert.equal(verified.statusCode, 200, verified.body);
    assert.deepEqual(claimsOf(verified.json().access_token).amr, ['hwk', 'user', 'mfa']);

    // An email-code login with a recovery code: accepted once, its row spent.
    const { code } = await otpLogin(email);
    const rec = await call('POST', '/auth/otp/verify', undefined, {
      email,
      code,
      recovery_code: recovery[0],
    });
    assert.equal(rec.statusCode, 200, rec.body);
    const { code: code2 } = await otpLogin(email);
    const again = await call('POST', '/auth/otp/verify', undefined, {
      email,
      code: code2,
      recovery_code: recovery[0],
    });
    assert.equal(again.json().error.code, 'AUTH_MFA_INVALID');
  });

  it('planted secrets: no linked password and no link code in the database or the logs', async () => {
    const needles = [
      ...secretNeedles('linked password', LINKED_PASSWORD),
      ...secretNeedles('changed password', NEW_PASSWORD),
    ];
    const dump = (await dumpPublicSchema(ts.service.db))
      .flatMap((d) => d.rows.map((r) => `${d.table}: ${r}`))
      .join('\n');
    assert.ok(dump.includes('alice-link@example.com')); // positive control
    assert.ok(dump.includes('user_passwords: ')); // the sealed hashes are there to search
    assert.deepEqual(findNeedles(dump, needles), []);
    const logs = ts.logs.join('\n');
    assert.ok(logs.includes('/auth/methods/link')); // positive control: requests were logged
    assert.deepEqual(findNeedles(logs, needles), []);
    assert.ok(codes.length >= 4);
    for (const code of codes) {
      const re = new RegExp(`(?<![0-9a-f])${code}(?![0-9a-f])`);
      assert.ok(!re.test(dump), `code ${code} in the database`);
      assert.ok(!re.test(logs), `code ${code} in the logs`);
    }
  });
});
