/**
 * TOTP (RFC 6238) second factor, end to end through the service and the enclave: enrolment
 * answers the secret once as an otpauth URI; a code from an independent TOTP implementation
 * (`otpauth`, fed only the URI) confirms it and yields 10 recovery codes, shown once; from then
 * on a password login needs a code (AUTH_MFA_REQUIRED without, AUTH_MFA_INVALID for a wrong or
 * reused one) and its token carries `amr` otp + mfa; a token from before enrolment gets
 * STEP_UP_REQUIRED naming the second factor on a sensitive route until POST /auth/step-up; a
 * recovery code works once. Planted-secret check: neither the TOTP secret (base32, raw bytes in
 * hex/base64) nor any recovery code is in any table or log line.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TOTP, URI } from 'otpauth';
import {
  bytesNeedles,
  dumpPublicSchema,
  findNeedles,
  secretNeedles,
} from '../helpers/security-util.js';
import { startTestService, type TestService } from '../helpers/service.js';

const claimsOf = (token: string) =>
  JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as {
    amr?: string[];
    auth_time?: number;
  };

describe('TOTP second factor and step-up', () => {
  let ts: TestService;
  let totp: TOTP;
  let oldToken: string;
  let recoveryCodes: string[];
  const creds = { email: 'totp@example.com', password: 'a long enough password' };
  const call = (method: 'GET' | 'POST' | 'DELETE', url: string, token?: string, payload?: object) =>
    ts.service.app.inject({
      method,
      url,
      ...(payload ? { payload: payload as Record<string, unknown> } : {}),
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
  /** The code of the step `offset` steps from now (the enclave accepts ±1). */
  const code = (offset = 0) => totp.generate({ timestamp: Date.now() + offset * 30_000 });

  before(async () => {
    ts = await startTestService('pglite', { AUTH_LOGIN_MAX_PER_IP: '100000' });
    assert.equal((await call('POST', '/auth/register', undefined, creds)).statusCode, 201);
    oldToken = (await call('POST', '/auth/login', undefined, creds)).json().access_token;
  });
  after(async () => ts?.stop());

  it('enrols: the secret leaves the enclave once, as an otpauth URI; a code confirms it', async () => {
    assert.equal((await call('GET', '/auth/methods', oldToken)).json().totp, false);
    const enrol = await call('POST', '/auth/totp/enroll', oldToken, { label: 'totp@example.com' });
    assert.equal(enrol.statusCode, 201, enrol.body);
    assert.equal(enrol.headers['cache-control'], 'no-store');
    const parsed = URI.parse(enrol.json().otpauth_uri);
    assert.ok(parsed instanceof TOTP);
    totp = parsed;
    assert.equal(totp.period, 30);
    assert.equal(totp.digits, 6);
    const wrong = String((Number(code()) + 1) % 1_000_000).padStart(6, '0');
    const bad = await call('POST', '/auth/totp/confirm', oldToken, { code: wrong });
    assert.equal(bad.statusCode, 401);
    assert.equal(bad.json().error.code, 'AUTH_MFA_INVALID');
    const ok = await call('POST', '/auth/totp/confirm', oldToken, { code: code() });
    assert.equal(ok.statusCode, 200, ok.body);
    recoveryCodes = ok.json().recovery_codes;
    assert.equal(recoveryCodes.length, 10);
    assert.equal(new Set(recoveryCodes).size, 10);
    // GET /auth/methods says an authenticator app is enrolled (the web app's Account page).
    assert.equal((await call('GET', '/auth/methods', oldToken)).json().totp, true);
    // Enrolment is itself sensitive: this token (password only) no longer steps up.
    const again = await call('POST', '/auth/totp/enroll', oldToken, {});
    assert.equal(again.json().error.code, 'STEP_UP_REQUIRED');
  });

  it('a password login then needs a code, once; the token says otp + mfa', async () => {
    const none = await call('POST', '/auth/login', undefined, creds);
    assert.equal(none.statusCode, 401);
    assert.equal(none.json().error.code, 'AUTH_MFA_REQUIRED');
    const wrongPassword = await call('POST', '/auth/login', undefined, {
      ...creds,
      password: 'not the password at all',
    });
    assert.equal(wrongPassword.json().error.code, 'AUTH_INVALID_CREDENTIALS');
    const next = code(1);
    const ok = await call('POST', '/auth/login', undefined, { ...creds, totp_code: next });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.deepEqual(claimsOf(ok.json().access_token).amr, ['pwd', 'otp', 'mfa']);
    const replay = await call('POST', '/auth/login', undefined, { ...creds, totp_code: next });
    assert.equal(replay.statusCode, 401);
    assert.equal(replay.json().error.code, 'AUTH_MFA_INVALID');
  });

  it('a sensitive operation needs the second factor within the window; step-up gives it', async () => {
    const refused = await call('DELETE', '/auth/totp', oldToken);
    assert.equal(refused.statusCode, 401);
    // The same rule on the wallet's sensitive routes (policy, recovery start/cancel/complete,
    // reshare, delete: a token without a recent second factor takes over or destroys nothing).
    const wallet = '00000000-0000-4000-8000-000000000000';
    for (const [method, url] of [
      ['PUT', `/wallets/${wallet}/policy`],
      ['POST', `/wallets/${wallet}/recovery`],
      ['DELETE', `/wallets/${wallet}/recovery`],
      ['POST', `/wallets/${wallet}/recovery/complete`],
      ['POST', `/wallets/${wallet}/reshare`],
      ['DELETE', `/wallets/${wallet}`],
    ] as const) {
      const r = await ts.service.app.inject({
        method,
        url,
        payload: {},
        headers: { authorization: `Bearer ${oldToken}` },
      });
      assert.equal(r.statusCode, 401, `${method} ${url}`);
      assert.equal(r.json().error.code, 'STEP_UP_REQUIRED', `${method} ${url}`);
    }
    assert.equal(refused.json().error.code, 'STEP_UP_REQUIRED');
    assert.match(refused.json().error.details[0].issue, /totp, recovery_code/);
    const stepped = await call('POST', '/auth/step-up', oldToken, {
      recovery_code: recoveryCodes[0]!.toLowerCase(),
    });
    assert.equal(stepped.statusCode, 200, stepped.body);
    const fresh = stepped.json().access_token;
    const claims = claimsOf(fresh);
    assert.deepEqual(claims.amr, ['pwd', 'otp', 'mfa']);
    const spent = await call('POST', '/auth/step-up', oldToken, {
      recovery_code: recoveryCodes[0],
    });
    assert.equal(spent.json().error.code, 'AUTH_MFA_INVALID');
    const { rows } = await ts.service.db.query<{ event_type: string; details: unknown }>(
      "SELECT event_type FROM ops_logs WHERE event_type IN ('auth.step_up', 'auth.recovery_code_used', 'auth.method_linked')",
    );
    const types = rows.map((r) => r.event_type).sort();
    assert.deepEqual(types, ['auth.method_linked', 'auth.recovery_code_used', 'auth.step_up']);
    const logged = await ts.service.db.query<{ event_type: string }>(
      "SELECT event_type FROM merkle_logs WHERE event_type IN ('auth.recovery_code_used', 'auth.method_linked')",
    );
    assert.ok(logged.rows.some((r) => r.event_type === 'auth.recovery_code_used'));
    // Planted-secret check before removal: the sealed secret and the MACs are stored.
    const dump = (await dumpPublicSchema(ts.service.db))
      .flatMap((d) => d.rows.map((r) => `${d.table}: ${r}`))
      .join('\n');
    const logs = ts.logs.join('\n');
    assert.match(dump, /ts1\./); // positive control: the sealed blob is there
    const needles = [
      { name: 'TOTP secret (base32)', value: totp.secret.base32 },
      ...bytesNeedles('TOTP secret', new Uint8Array(totp.secret.bytes)),
      ...recoveryCodes.flatMap((c, i) => [
        ...secretNeedles(`recovery code ${i}`, c),
        { name: `recovery code ${i} (compact)`, value: c.replace('-', '') },
      ]),
    ];
    assert.deepEqual(findNeedles(dump, needles), [], 'a TOTP secret or recovery code is stored');
    assert.deepEqual(findNeedles(logs, needles), [], 'a TOTP secret or recovery code is logged');
    const again = await call('POST', '/auth/totp/enroll', fresh, {});
    assert.equal(again.json().error.code, 'AUTH_TOTP_ENROLLED');
    const removed = await call('DELETE', '/auth/totp', fresh);
    assert.equal(removed.statusCode, 200, removed.body);
    const plain = await call('POST', '/auth/login', undefined, creds);
    assert.equal(plain.statusCode, 200, plain.body);
  });
});
