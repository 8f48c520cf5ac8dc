/**
 * Passkeys through the service and the enclave (@simplewebauthn/server inside the enclave), with
 * a software authenticator (test/helpers/webauthn.ts): registration (attestation none, options
 * for AUTH_RP_ID) links the passkey; a login by assertion gives tokens with amr hwk; a replayed
 * assertion (its challenge is spent), another origin, another key's signature are refused; the
 * stored counter advances; a public key swapped in the database by the host is refused by the
 * enclave (binding). Registration options need step-up.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startTestService, type TestService } from '../helpers/service.js';
import { SoftAuthenticator } from '../helpers/webauthn.js';

const RP = 'localhost';
const ORIGIN = 'http://localhost:3000';

describe('passkeys (WebAuthn, verified in the enclave)', () => {
  let ts: TestService;
  let token: string;
  const device = new SoftAuthenticator(RP, ORIGIN);
  const creds = { email: 'passkey@example.com', password: 'a long enough password' };
  const call = (method: 'GET' | 'POST', url: string, tok?: string, payload?: object) =>
    ts.service.app.inject({
      method,
      url,
      ...(payload ? { payload: payload as Record<string, unknown> } : {}),
      headers: tok ? { authorization: `Bearer ${tok}` } : {},
    });
  const loginOptions = async () =>
    (await call('POST', '/auth/passkeys/login/options')).json().options as Record<string, unknown>;

  before(async () => {
    ts = await startTestService('pglite', {
      AUTH_LOGIN_MAX_PER_IP: '100000',
      AUTH_RP_ID: RP,
      AUTH_ORIGINS: ORIGIN,
    });
    assert.equal((await call('POST', '/auth/register', undefined, creds)).statusCode, 201);
    token = (await call('POST', '/auth/login', undefined, creds)).json().access_token;
  });
  after(async () => ts?.stop());

  it('registers a passkey (attestation none) and lists it as a login method', async () => {
    const o = await call('POST', '/auth/passkeys/register/options', token, {
      user_name: creds.email,
    });
    assert.equal(o.statusCode, 200, o.body);
    const options = o.json().options;
    assert.equal(options.attestation, 'none');
    assert.equal(options.rp.id, RP);
    const wrongOrigin = await call('POST', '/auth/passkeys/register/verify', token, {
      response: device.create(options, 'https://evil.example'),
    });
    assert.equal(wrongOrigin.json().error.code, 'AUTH_PASSKEY_INVALID');
    // The challenge was spent by the refused attempt: a new one is needed.
    const again = (
      await call('POST', '/auth/passkeys/register/options', token, { user_name: creds.email })
    ).json().options;
    const v = await call('POST', '/auth/passkeys/register/verify', token, {
      response: device.create(again),
    });
    assert.equal(v.statusCode, 201, v.body);
    const methods = (await call('GET', '/auth/methods', token)).json().methods;
    assert.ok(methods.some((m: { kind: string; identifier: string }) => m.kind === 'passkey'));
  });

  it('logs in with an assertion; replay, another origin and another key are refused', async () => {
    const options = await loginOptions();
    const assertion = device.get(options);
    const ok = await call('POST', '/auth/passkeys/login/verify', undefined, {
      response: assertion,
    });
    assert.equal(ok.statusCode, 200, ok.body);
    const claims = JSON.parse(
      Buffer.from(ok.json().access_token.split('.')[1], 'base64url').toString('utf8'),
    );
    assert.deepEqual(claims.amr, ['hwk', 'user', 'mfa']);
    const replay = await call('POST', '/auth/passkeys/login/verify', undefined, {
      response: assertion,
    });
    assert.equal(replay.statusCode, 401);
    assert.equal(replay.json().error.code, 'AUTH_PASSKEY_INVALID');
    const otherOrigin = await call('POST', '/auth/passkeys/login/verify', undefined, {
      response: device.get(await loginOptions(), { origin: 'https://evil.example' }),
    });
    assert.equal(otherOrigin.json().error.code, 'AUTH_PASSKEY_INVALID');
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const forged = await call('POST', '/auth/passkeys/login/verify', undefined, {
      response: device.get(await loginOptions(), { signer: privateKey }),
    });
    assert.equal(forged.json().error.code, 'AUTH_PASSKEY_INVALID');
    const { rows } = await ts.service.db.query<{ counter: string }>(
      "SELECT counter FROM auth_methods WHERE kind = 'passkey'",
    );
    assert.equal(Number(rows[0]!.counter), 1);
  });

  it('a public key swapped in the database by the host is refused by the enclave', async () => {
    const attacker = new SoftAuthenticator(RP, ORIGIN);
    // The account has a passkey now: registration options need a step-up with it (mfa).
    const stepped = (
      await call('POST', '/auth/passkeys/login/verify', undefined, {
        response: device.get(await loginOptions()),
      })
    ).json().access_token;
    const options = (
      await call('POST', '/auth/passkeys/register/options', stepped, { user_name: 'x' })
    ).json().options;
    const attackerReg = attacker.create(options) as { response: { attestationObject: string } };
    // Take the attacker's COSE key from a registration the host never forwarded.
    const { decodeAttestationObject, parseAuthenticatorData } =
      await import('@simplewebauthn/server/helpers');
    const att = decodeAttestationObject(
      new Uint8Array(Buffer.from(attackerReg.response.attestationObject, 'base64url')),
    );
    const parsed = parseAuthenticatorData(att.get('authData'));
    const attackerKey = Buffer.from(parsed.credentialPublicKey!).toString('base64url');
    await ts.service.db.query("UPDATE auth_methods SET public_key = $1 WHERE kind = 'passkey'", [
      attackerKey,
    ]);
    // The attacker signs with its key under the victim's credential id.
    const forged = device.get(await loginOptions(), {
      signer: (attacker as unknown as { key: import('node:crypto').KeyObject }).key,
    });
    const r = await call('POST', '/auth/passkeys/login/verify', undefined, { response: forged });
    assert.notEqual(r.statusCode, 200, r.body);
    assert.equal(r.statusCode, 500); // AUTH_METHOD_BINDING_INVALID: a host fault, not the client's
  });

  it('registration options need a recent login (step-up)', async () => {
    const refreshed = await call('POST', '/auth/refresh', undefined, {
      refresh_token: (await call('POST', '/auth/login', undefined, creds)).json().refresh_token,
    });
    const stale = refreshed.json().access_token;
    const r = await call('POST', '/auth/passkeys/register/options', stale, {});
    assert.equal(r.json().error.code, 'STEP_UP_REQUIRED');
  });

  it('a passkey is a second factor: a fresh password login alone no longer passes step-up', async () => {
    // The account holds a passkey (registered above). A mailbox or a password alone must not
    // be able to register another passkey or unlink this one: step-up now needs `mfa` (a
    // passkey login with user verification, or TOTP).
    const pwd = (await call('POST', '/auth/login', undefined, creds)).json().access_token;
    const r = await call('POST', '/auth/passkeys/register/options', pwd, {});
    assert.equal(r.json().error.code, 'STEP_UP_REQUIRED', r.body);
    // (A passkey login passes: the swapped-key test above asks for options that way.)
  });
});
