/**
 * Account recovery v2 attacked by a host that calls auth.recovery_complete itself with rows of
 * its database mixed between accounts and recoveries (SECURITY.md "Sign-in methods: attack
 * review", the recovery v2 rows). These held: the enclave's MAC binds the account, the
 * recovery, the pending password and the completion code together.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TOTP, URI } from 'otpauth';
import { isEnclaveCallError } from '../../src/host/enclave-client/rpc-client.js';
import { mailedCode } from '../helpers/mail.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { SoftAuthenticator } from '../helpers/webauthn.js';

const PASSWORD = 'a long enough password';

/** POST to the service, with a bearer token when given. */
const poster =
  (ts: () => TestService) => (url: string, payload: Record<string, unknown>, token?: string) =>
    ts().service.app.inject({
      method: 'POST',
      url,
      payload,
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });

interface Pending {
  userId: string;
  completion: string;
  row: { id: string; unlock_at: string; expires_at: string; password_sealed: string; mac: string };
  state: string;
}

describe('recovery v2: rows and codes mixed between accounts and recoveries', () => {
  let ts: TestService;
  const used = new Set<string>();
  const call = poster(() => ts);

  async function withTotp(email: string): Promise<void> {
    assert.equal((await call('/auth/register', { email, password: PASSWORD })).statusCode, 201);
    const token = (await call('/auth/login', { email, password: PASSWORD })).json().access_token;
    const enrol = await call('/auth/totp/enroll', {}, token);
    const totp = URI.parse(enrol.json().otpauth_uri) as TOTP;
    assert.equal(
      (await call('/auth/totp/confirm', { code: totp.generate() }, token)).statusCode,
      200,
    );
  }
  async function confirm(email: string, password: string): Promise<Pending> {
    assert.equal((await call('/auth/recovery/start', { email })).statusCode, 202);
    // The mail is written after the 202: wait for this start's code, not the last one.
    let code = await mailedCode(ts.dataDir, /account recovery code is (\d{6})/, email);
    while (used.has(code)) {
      await new Promise((r) => setTimeout(r, 20));
      code = await mailedCode(ts.dataDir, /account recovery code is (\d{6})/, email);
    }
    used.add(code);
    const r = await call('/auth/recovery/confirm', { email, code, password });
    assert.equal(r.statusCode, 200, r.body);
    const { rows } = await ts.service.db.query<Pending['row'] & { user_id: string; state: string }>(
      `SELECT r.user_id, r.id, r.unlock_at, r.expires_at, r.password_sealed, r.mac, p.sealed AS state
         FROM auth_recoveries r JOIN users u ON u.id = r.user_id
         JOIN user_passwords p ON p.user_id = r.user_id WHERE u.email = $1`,
      [email],
    );
    const { user_id: userId, state, ...row } = rows[0]!;
    return { userId, completion: r.json().completion_code, row, state };
  }
  /** auth.recovery_complete as the host may call it, from any mix of rows. */
  const complete = (userId: string, row: Pending['row'], state: string, completion: string) =>
    ts.service.enclave.call('auth.recovery_complete', {
      user_id: userId,
      recovery_id: row.id,
      unlock_at: Number(row.unlock_at),
      expires_at: Number(row.expires_at),
      password_sealed: row.password_sealed,
      mac: row.mac,
      password_state: state,
      completion_code: completion,
    });
  const refused = (p: Promise<unknown>, what: string) =>
    assert.rejects(p, (err) => isEnclaveCallError(err, 'AUTH_RECOVERY_INVALID'), what);

  let a: Pending;
  let aFirst: Pending;
  let b: Pending;
  before(async () => {
    ts = await startTestService('pglite', {
      AUTH_LOGIN_MAX_PER_IP: '100000',
      AUTH_REGISTER_MAX_PER_IP: '100000',
      AUTH_RECOVERY_DELAY_SECONDS: '0',
    });
    await withTotp('a@example.com');
    await withTotp('b@example.com');
    aFirst = await confirm('a@example.com', 'first pending password A');
    // A second recovery while one is pending replaces it (a new id, time-lock and password).
    a = await confirm('a@example.com', 'second pending password A');
    b = await confirm('b@example.com', 'pending password of B');
  });
  after(async () => ts?.stop());

  it("a second confirm replaces the pending row: one per account, the first one's gone", async () => {
    assert.notEqual(a.row.id, aFirst.row.id);
    const { rows } = await ts.service.db.query('SELECT 1 FROM auth_recoveries WHERE user_id = $1', [
      a.userId,
    ]);
    assert.equal(rows.length, 1);
  });

  it("A's row for B, A's code with B's row, B's pending password in A's row: refused", async () => {
    await refused(complete(b.userId, a.row, b.state, a.completion), "A's row completed for B");
    await refused(complete(b.userId, a.row, a.state, a.completion), "A's row, B's id");
    await refused(complete(b.userId, b.row, b.state, a.completion), "A's code on B's row");
    await refused(
      complete(
        a.userId,
        { ...a.row, password_sealed: b.row.password_sealed },
        a.state,
        a.completion,
      ),
      "B's pending password in A's row",
    );
  });

  it("the pending password of A's earlier recovery, or its code, in A's current row: refused", async () => {
    await refused(
      complete(
        a.userId,
        { ...a.row, password_sealed: aFirst.row.password_sealed },
        a.state,
        a.completion,
      ),
      "the earlier recovery's password",
    );
    await refused(complete(a.userId, a.row, a.state, aFirst.completion), 'the earlier code');
    await refused(
      complete(a.userId, { ...aFirst.row, id: a.row.id }, a.state, aFirst.completion),
      'the earlier row under the current id',
    );
  });

  it('a malformed completion code or a short new password is not echoed in answers or logs', async () => {
    const code = 'Z'.repeat(21) + 'q9'; // 23 characters: refused by the schema
    const bad = await call('/auth/recovery/complete', {
      email: 'a@example.com',
      completion_code: code,
    });
    assert.equal(bad.statusCode, 400, bad.body);
    assert.ok(!bad.body.includes(code), 'the completion code echoed in the answer');
    const short = 'shortpw9';
    const r = await call('/auth/recovery/confirm', {
      email: 'a@example.com',
      code: '000000',
      password: short,
    });
    assert.ok(!r.body.includes(short), 'the password echoed in the answer');
    const logs = ts.logs.join('\n');
    for (const secret of [code, short, a.completion, b.completion, 'second pending password A'])
      assert.ok(!logs.includes(secret), `a secret in the logs: ${secret.slice(0, 4)}`);
    assert.ok(logs.length > 0); // positive control: there are log lines to search
  });

  it('the right row and code complete (positive control), and the result is for A only', async () => {
    const r = await complete(a.userId, a.row, a.state, a.completion);
    assert.match(r.password_sealed, /^ph1\./);
    assert.notEqual(r.password_sealed, a.row.password_sealed);
  });
});

/**
 * A mailbox holder against an account whose second factor is a passkey only (SECURITY.md, the
 * **open** row): the recovery time-lock holds back the password and the passkey, but an email
 * code alone signs in (a passkey is a login method there, not a factor due at login). What
 * holds: that session has no `mfa`, so it passes no step-up.
 */
describe('recovery v2: a mailbox holder against a passkey account', () => {
  let ts: TestService;
  const RP = 'localhost';
  const ORIGIN = 'http://localhost:3000';
  const email = 'passkey-owner@example.com';
  const call = poster(() => ts);

  before(async () => {
    ts = await startTestService('pglite', {
      AUTH_LOGIN_MAX_PER_IP: '100000',
      AUTH_REGISTER_MAX_PER_IP: '100000',
      AUTH_RP_ID: RP,
      AUTH_ORIGINS: ORIGIN,
    });
    assert.equal((await call('/auth/register', { email, password: PASSWORD })).statusCode, 201);
    const token = (await call('/auth/login', { email, password: PASSWORD })).json().access_token;
    const device = new SoftAuthenticator(RP, ORIGIN);
    const options = (await call('/auth/passkeys/register/options', {}, token)).json().options;
    const v = await call(
      '/auth/passkeys/register/verify',
      { response: device.create(options) },
      token,
    );
    assert.equal(v.statusCode, 201, v.body);
  });
  after(async () => ts?.stop());

  it('an email code signs in at once, but the session has no mfa and passes no step-up', async () => {
    // The recovery is time-locked (the account has a passkey).
    assert.equal((await call('/auth/recovery/start', { email })).statusCode, 202);
    const rcode = await mailedCode(ts.dataDir, /account recovery code is (\d{6})/, email);
    const r = await call('/auth/recovery/confirm', {
      email,
      code: rcode,
      password: 'mailbox pw 12345',
    });
    assert.equal(r.json().status, 'pending', r.body);
    // The email code: a session (open: SECURITY.md), with `otp` only.
    assert.equal((await call('/auth/otp/start', { email })).statusCode, 202);
    const code = await mailedCode(ts.dataDir, /sign-in code is (\d{6})/, email);
    const login = await call('/auth/otp/verify', { email, code });
    assert.equal(login.statusCode, 200, login.body);
    const token = login.json().access_token as string;
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
    assert.ok(!claims.amr.includes('mfa'), `an email code gave mfa: ${claims.amr}`);
    const sensitive = await call('/auth/passkeys/register/options', {}, token);
    assert.equal(sensitive.statusCode, 401, sensitive.body);
    assert.equal(sensitive.json().error.code, 'STEP_UP_REQUIRED');
    const change = await call('/auth/password/change', { password: 'mailbox pw 67890' }, token);
    assert.equal(change.statusCode, 401, `a mailbox session changed the password: ${change.body}`);
  });
});
