/**
 * Sign-in methods, second attack review (SECURITY.md "Sign-in methods: second attack review"):
 * - a SIWE message naming the `http` scheme (the page a wallet checked it against was plain
 *   HTTP, an on-path attacker's) is refused by a service whose issuer is https; one naming the
 *   issuer's scheme, or none (https by EIP-4361), still signs in;
 * - a TOTP code accepted once is refused again after the enclave that accepted it forgot it (a
 *   restart here; another cluster member is the same: each enclave remembers steps in memory
 *   only): the host spends the code's step in the database with the session;
 * - registration (with confirmation: 202 for any address) answers an address another account
 *   linked besides its own email like any taken one, not with a 409 of its own;
 * - an unconfirmed registration of an address (anyone can make one) gives way to an email-code
 *   sign-in by the address's mailbox, instead of refusing it (and telling strangers it exists).
 * Held, shown here: a contract wallet's signature is refused; an email address is one string,
 * normalised at the boundary, that both names the account and receives its code; a passkey
 * ceremony run by a sibling subdomain (which browsers let claim our RP id) is refused.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TOTP, URI } from 'otpauth';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { createSiweMessage } from 'viem/siwe';
import { checkSigner } from '../../src/enclave/auth/siwe.js';
import { RpcError } from '../../src/protocol/rpc/errors.js';
import { mailedCode } from '../helpers/mail.js';
import { SoftAuthenticator } from '../helpers/webauthn.js';
import { engines, startTestService, type TestService } from '../helpers/service.js';

const ISSUER = 'https://cloister.test';
const DOMAIN = 'cloister.test';

describe('SIWE: the scheme a message names', () => {
  let ts: TestService;
  const alice = privateKeyToAccount(generatePrivateKey());
  before(async () => {
    ts = await startTestService('pglite', {
      AUTH_ISSUER: ISSUER,
      AUTH_LOGIN_MAX_PER_IP: '100000',
      AUTH_LOGIN_FAILURES_BEFORE_BACKOFF: '1000',
    });
  });
  after(async () => ts?.stop());

  const attempt = async (scheme: string | undefined) => {
    const nonce = (await ts.service.app.inject({ method: 'GET', url: '/auth/siwe/nonce' })).json()
      .nonce as string;
    const message = createSiweMessage({
      ...(scheme !== undefined ? { scheme } : {}),
      domain: DOMAIN,
      address: alice.address,
      uri: `${scheme ?? 'https'}://${DOMAIN}/login`,
      version: '1',
      chainId: 1,
      nonce,
      issuedAt: new Date(),
    });
    return ts.service.app.inject({
      method: 'POST',
      url: '/auth/siwe/login',
      payload: { message, signature: await alice.signMessage({ message }) },
    });
  };

  it('refuses a message signed for http://<our domain> when the issuer is https', async () => {
    const r = await attempt('http');
    assert.equal(r.statusCode, 400, r.body);
    assert.equal(r.json().error.code, 'AUTH_SIWE_INVALID');
  });

  it('refuses a contract-wallet signature (EIP-6492 wrapped, EIP-1271): EOA signatures only', async () => {
    const message = 'any text';
    const eoa = await alice.signMessage({ message });
    const wrapped = `${eoa}${'00'.repeat(64)}${'6492'.repeat(16)}`;
    assert.throws(
      () => checkSigner(message, wrapped, alice.address),
      (e: unknown) => e instanceof RpcError && e.code === 'AUTH_SIWE_SIGNATURE_INVALID',
    );
    assert.equal(checkSigner(message, eoa, alice.address), alice.address);
  });

  it('accepts the issuer scheme, in any case, and a message naming none', async () => {
    for (const scheme of ['https', 'HTTPS', undefined]) {
      const r = await attempt(scheme);
      assert.equal(r.statusCode, 200, `${scheme}: ${r.body}`);
    }
  });
});

for (const engine of engines())
  describe(`TOTP: a code accepted once, then by an enclave that never saw it (${engine})`, () => {
    let ts: TestService;
    let totp: TOTP;
    const creds = { email: 'replay@example.com', password: 'a long enough password' };
    const call = (method: 'GET' | 'POST', url: string, token?: string, payload?: object) =>
      ts.service.app.inject({
        method,
        url,
        ...(payload ? { payload: payload as Record<string, unknown> } : {}),
        headers: token ? { authorization: `Bearer ${token}` } : {},
      });
    const code = () => totp.generate({ timestamp: Date.now() });
    const lastStep = async () =>
      (
        await ts.service.db.query<{ last_step: string | null }>(
          'SELECT last_step FROM auth_totp WHERE user_id = (SELECT id FROM users WHERE email = $1)',
          [creds.email],
        )
      ).rows[0]?.last_step;

    before(async () => {
      ts = await startTestService(engine, {
        AUTH_LOGIN_MAX_PER_IP: '100000',
        AUTH_LOGIN_FAILURES_BEFORE_BACKOFF: '1000',
      });
      assert.equal((await call('POST', '/auth/register', undefined, creds)).statusCode, 201);
      const token = (await call('POST', '/auth/login', undefined, creds)).json().access_token;
      const enrol = await call('POST', '/auth/totp/enroll', token, { label: creds.email });
      assert.equal(enrol.statusCode, 201, enrol.body);
      totp = URI.parse(enrol.json().otpauth_uri) as TOTP;
    });
    after(async () => ts?.stop());

    it('the confirming code and a login code each work once, also across an enclave restart', async () => {
      const token = (await call('POST', '/auth/login', undefined, creds)).json().access_token;
      const first = code();
      const confirmed = await call('POST', '/auth/totp/confirm', token, { code: first });
      assert.equal(confirmed.statusCode, 200, confirmed.body);

      ts = await ts.restart();
      const replayed = await call('POST', '/auth/login', undefined, { ...creds, totp_code: first });
      assert.equal(replayed.statusCode, 401, replayed.body);
      assert.equal(replayed.json().error.code, 'AUTH_MFA_INVALID');

      const nextStep = Math.floor(Date.now() / 30_000) + 1;
      const next = totp.generate({ timestamp: nextStep * 30_000 });
      const ok = await call('POST', '/auth/login', undefined, { ...creds, totp_code: next });
      assert.equal(ok.statusCode, 200, ok.body);
      ts = await ts.restart();
      const again = await call('POST', '/auth/login', undefined, { ...creds, totp_code: next });
      assert.equal(again.statusCode, 401, again.body);
      assert.equal(again.json().error.code, 'AUTH_MFA_INVALID');
      // What refused them: the account's last spent step, in the database.
      assert.equal(Number(await lastStep()), nextStep);
    });
  });

describe('registration of an address another account linked as a second email', () => {
  let ts: TestService;
  const call = (method: 'POST', url: string, token?: string, payload?: object) =>
    ts.service.app.inject({
      method,
      url,
      ...(payload ? { payload: payload as Record<string, unknown> } : {}),
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
  before(async () => {
    ts = await startTestService('pglite', {
      AUTH_REQUIRE_EMAIL_CONFIRMATION: 'true',
      AUTH_LOGIN_MAX_PER_IP: '100000',
      AUTH_REGISTER_MAX_PER_IP: '100000',
    });
  });
  after(async () => ts?.stop());

  it('answers 202 as for a free address, and makes no account', async () => {
    const owner = 'owner@example.com';
    const second = 'second@example.com';
    await call('POST', '/auth/otp/start', undefined, { email: owner });
    const code = await mailedCode(ts.dataDir, /sign-in code is (\d{6})/, owner);
    const login = await call('POST', '/auth/otp/verify', undefined, { email: owner, code });
    assert.equal(login.statusCode, 200, login.body);
    const token = login.json().access_token as string;
    const start = await call('POST', '/auth/methods/link/email/start', token, { email: second });
    assert.equal(start.statusCode, 202, start.body);
    const linkCode = await mailedCode(
      ts.dataDir,
      /link this address to your account is (\d{6})/,
      second,
    );
    const linked = await call('POST', '/auth/methods/link', token, {
      email: { email: second, code: linkCode },
    });
    assert.equal(linked.statusCode, 201, linked.body);

    const password = 'a long enough password';
    const free = await call('POST', '/auth/register', undefined, {
      email: 'free@example.com',
      password,
    });
    const held = await call('POST', '/auth/register', undefined, { email: second, password });
    assert.equal(free.statusCode, 202, free.body);
    assert.equal(held.statusCode, free.statusCode, held.body);
    assert.equal(held.body, free.body);
    const rows = await ts.service.db.query('SELECT 1 FROM users WHERE email = $1', [second]);
    assert.equal(rows.rows.length, 0);
  });

  it('an unconfirmed registration of an address gives way to a code sign-in by its mailbox', async () => {
    const victim = 'squatted@example.com';
    const squat = await call('POST', '/auth/register', undefined, {
      email: victim,
      password: 'the squatter chose this one',
    });
    assert.equal(squat.statusCode, 202, squat.body);
    // Without the code: the answer of any address (it told a pending registration apart).
    const guess = await call('POST', '/auth/otp/verify', undefined, {
      email: victim,
      code: '000000',
    });
    assert.equal(guess.json().error.code, 'AUTH_OTP_INVALID');
    await call('POST', '/auth/otp/start', undefined, { email: victim });
    const code = await mailedCode(ts.dataDir, /sign-in code is (\d{6})/, victim);
    const r = await call('POST', '/auth/otp/verify', undefined, { email: victim, code });
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(r.json().created, true);
    // The squatter's account and password are gone.
    const rows = await ts.service.db.query<{ id: string; status: string }>(
      'SELECT id, status FROM users WHERE email = $1',
      [victim],
    );
    assert.deepEqual(
      rows.rows.map((x) => [x.id, x.status]),
      [[r.json().user_id, 'active']],
    );
    const login = await call('POST', '/auth/login', undefined, {
      email: victim,
      password: 'the squatter chose this one',
    });
    assert.equal(login.statusCode, 401);
  });

  it('an address is the mailbox its code is mailed to (a Kelvin sign folds to k at the boundary)', async () => {
    const start = await call('POST', '/auth/otp/start', undefined, {
      email: ' \u212Aate@Example.com',
    });
    assert.equal(start.statusCode, 202, start.body);
    // The identity and the recipient are the one normalised string.
    const code = await mailedCode(ts.dataDir, /sign-in code is (\d{6})/, 'kate@example.com');
    const r = await call('POST', '/auth/otp/verify', undefined, {
      email: 'KATE@example.com',
      code,
    });
    assert.equal(r.statusCode, 200, r.body);
  });
});

describe('passkeys: a sibling subdomain claims our RP id', () => {
  let ts: TestService;
  const device = new SoftAuthenticator('cloister.test', ISSUER);
  const creds = { email: 'sibling@example.com', password: 'a long enough password' };
  const call = (method: 'POST', url: string, token?: string, payload?: object) =>
    ts.service.app.inject({
      method,
      url,
      ...(payload ? { payload: payload as Record<string, unknown> } : {}),
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
  const loginOptions = async () =>
    (await call('POST', '/auth/passkeys/login/options')).json().options as Record<string, unknown>;
  before(async () => {
    ts = await startTestService('pglite', {
      AUTH_ISSUER: ISSUER,
      AUTH_LOGIN_MAX_PER_IP: '100000',
    });
    assert.equal((await call('POST', '/auth/register', undefined, creds)).statusCode, 201);
    const token = (await call('POST', '/auth/login', undefined, creds)).json().access_token;
    const o = await call('POST', '/auth/passkeys/register/options', token, { user_name: 'x' });
    assert.equal(o.json().options.rp.id, 'cloister.test');
    const v = await call('POST', '/auth/passkeys/register/verify', token, {
      response: device.create(o.json().options),
    });
    assert.equal(v.statusCode, 201, v.body);
  });
  after(async () => ts?.stop());

  it('an assertion made on https://evil.cloister.test for RP id cloister.test is refused', async () => {
    const sibling = await call('POST', '/auth/passkeys/login/verify', undefined, {
      response: device.get(await loginOptions(), { origin: 'https://evil.cloister.test' }),
    });
    assert.equal(sibling.statusCode, 401, sibling.body);
    assert.equal(sibling.json().error.code, 'AUTH_PASSKEY_INVALID');
    const own = await call('POST', '/auth/passkeys/login/verify', undefined, {
      response: device.get(await loginOptions()),
    });
    assert.equal(own.statusCode, 200, own.body);
  });
});
