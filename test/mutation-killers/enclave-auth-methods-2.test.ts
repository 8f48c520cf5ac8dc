/**
 * More of src/enclave/methods/auth-otp.ts and auth-totp.ts for the mutation run
 * (docs/mutation-testing.md): the time-locked recovery's MAC recomputed from its definition and
 * its completion, SMTP through the egress tunnel, tokens this enclave signed without `sid` or
 * `amr`, and which second-factor errors count as wrong guesses. Through the real dispatcher on
 * in-process enclaves, as enclave-auth-methods.test.ts.
 */
import assert from 'node:assert/strict';
import {
  createHash,
  createHmac,
  generateKeyPairSync,
  randomUUID,
  type KeyObject,
} from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { URI } from 'otpauth';
import { encryptPassword } from '../../src/client/index.js';
import { readyAuthKeyring } from '../../src/enclave/auth/auth-state.js';
import { signJwt } from '../../src/enclave/auth/jwt.js';
import { derivedKey } from '../../src/enclave/auth/method-binding.js';
import { testEnclave, type TestEnclave } from '../helpers/enclave-state.js';
import { account, claimsOf, registerPasskey } from './auth-account.js';
import { code, ok } from './rpc.js';

const NEW_PASSWORD = 'the recovered password';

async function authReady(env: Record<string, string> = {}) {
  const t = testEnclave({ env });
  const g = await ok(t, 'keyring.generate', { policy: 'signer' });
  await ok(t, 'auth.init', { sealed: null });
  return { t, pub: g.public.credential_keys[0]!.public_key, keyId: g.public.current_key_id };
}

async function mailedCode(t: TestEnclave, email: string, purpose: string): Promise<string> {
  const start = await ok(t, 'auth.otp_start', { email, purpose });
  return /is (\d{6})\n/.exec(start.dev_mail!.text)![1]!;
}

/** A login with NEW_PASSWORD against `password_sealed`: 'ok' or the error code. */
const loginNew = (t: TestEnclave, a: { email: string; userId: string }, password_sealed: string) =>
  code(t, 'auth.login', {
    email: a.email,
    secret: { password: NEW_PASSWORD },
    user: { user_id: a.userId, password_sealed, roles: [] },
  });

/** The recovery MAC as docs/protocol/auth.md defines it (auth-otp.ts recoveryMac). */
function expectedMac(
  t: TestEnclave,
  r: {
    user_id: string;
    recovery_id: string;
    unlock_at: number;
    expires_at: number;
    password_sealed: string;
    password_state: string | null;
    completion_code: string;
  },
): string {
  const key = derivedKey(readyAuthKeyring(t.state), 'cloister/auth/account-recovery/v2');
  const state =
    r.password_state === null
      ? 'none'
      : createHash('sha256').update(r.password_state).digest('hex');
  const text = [
    r.user_id,
    r.recovery_id,
    r.unlock_at,
    r.expires_at,
    r.password_sealed,
    state,
    r.completion_code,
  ].join('\n');
  return createHmac('sha256', key).update(text).digest('base64url');
}

describe('time-locked account recovery', () => {
  async function confirm(
    t: TestEnclave,
    a: Awaited<ReturnType<typeof account>>,
    password_state: string | null,
  ) {
    const c = await mailedCode(t, a.email, 'recovery');
    const out = await ok(t, 'auth.recovery_confirm', {
      email: a.email,
      code: c,
      secret: { password: NEW_PASSWORD },
      user: { user_id: a.userId, binding: a.binding },
      second_factor: true,
      password_state,
    });
    return {
      user_id: a.userId,
      recovery_id: out.recovery_id,
      unlock_at: out.unlock_at!,
      expires_at: out.expires_at!,
      password_sealed: out.password_sealed,
      password_state,
      completion_code: out.completion_code!,
      mac: out.mac!,
    };
  }

  it('the MAC is the HMAC of its documented fields, with and without a password then', async () => {
    const { t } = await authReady();
    const a = await account(t);
    for (const state of [a.passwordSealed, null]) {
      const r = await confirm(t, a, state);
      assert.equal(r.mac, expectedMac(t, r), String(state));
    }
  });

  it('completes after the wait with the new password; a MAC over a password not sealed for the recovery is refused', async () => {
    const { t } = await authReady();
    const a = await account(t);
    const r = await confirm(t, a, null);
    const { mac, ...fields } = r;
    assert.equal(await code(t, 'auth.recovery_complete', r), 'AUTH_RECOVERY_LOCKED');
    t.clock.now = r.unlock_at;
    const done = await ok(t, 'auth.recovery_complete', r);
    assert.equal(await loginNew(t, a, done.password_sealed), 'ok');
    assert.equal(mac, expectedMac(t, fields));
    // A row whose MAC checks (made here with the enclave's key, as only the enclave can) but
    // whose password is the account's own, not one sealed for this recovery: refused.
    const forged = { ...fields, password_sealed: a.passwordSealed };
    assert.equal(
      await code(t, 'auth.recovery_complete', { ...forged, mac: expectedMac(t, forged) }),
      'AUTH_RECOVERY_INVALID',
    );
  });

  it('recovery and reset take an envelope made for `reset`', async () => {
    const { t, pub, keyId } = await authReady();
    const a = await account(t);
    const secret = {
      envelope: encryptPassword({ action: 'reset', email: a.email, password: NEW_PASSWORD }, pub, {
        keyId,
        issuedAt: t.clock.now,
      }),
    };
    const c = await mailedCode(t, a.email, 'reset');
    const out = await ok(t, 'auth.password_reset', {
      email: a.email,
      code: c,
      secret,
      user: { user_id: a.userId, binding: a.binding },
    });
    assert.equal(await loginNew(t, a, out.password_sealed), 'ok');
  });
});

describe('SMTP through the egress tunnel', () => {
  /** A CONNECT proxy on a Unix socket that records each request head and refuses it. */
  async function refusingProxy() {
    const heads: string[] = [];
    const socketPath = join(mkdtempSync(join(tmpdir(), 'cloister-proxy-')), 'proxy.sock');
    const server = createServer((sock) => {
      let buf = '';
      sock.on('error', () => {});
      sock.on('data', (d) => {
        buf += d.toString('latin1');
        if (buf.includes('\r\n\r\n')) {
          heads.push(buf.split('\r\n')[0]!);
          sock.end('HTTP/1.1 403 Forbidden\r\n\r\n');
        }
      });
    });
    await new Promise<void>((r) => server.listen(socketPath, r));
    return { socketPath, heads, close: () => server.close() };
  }

  it('with EGRESS_MODE=tunnel the mail goes through the proxy socket; with direct it does not', async () => {
    const proxy = await refusingProxy();
    try {
      const email = `${randomUUID()}@example.test`;
      const direct = await authReady({
        SMTP_URL: 'smtp://127.0.0.1:1',
        EGRESS_PROXY_SOCKET: proxy.socketPath,
      });
      assert.equal(
        await code(direct.t, 'auth.otp_start', { email, purpose: 'login' }),
        'AUTH_MAIL_UNAVAILABLE',
      );
      assert.deepEqual(proxy.heads, []);
      const tunnel = await authReady({
        SMTP_URL: 'smtp://127.0.0.1:1',
        EGRESS_MODE: 'tunnel',
        EGRESS_PROXY_SOCKET: proxy.socketPath,
      });
      assert.equal(
        await code(tunnel.t, 'auth.otp_start', { email, purpose: 'login' }),
        'AUTH_MAIL_UNAVAILABLE',
      );
      assert.deepEqual(proxy.heads, ['CONNECT 127.0.0.1:1 HTTP/1.1']);
    } finally {
      proxy.close();
    }
  });
});

/** A token this enclave signs with its current key, with the claims given (none added). */
function ownToken(t: TestEnclave, claims: Record<string, unknown>): string {
  const keyring = readyAuthKeyring(t.state);
  return signJwt(keyring.signingKey(t.state.now()), claims as Parameters<typeof signJwt>[1]);
}

async function enrolTotp(t: TestEnclave, token: string) {
  const enrol = await ok(t, 'auth.totp_enroll', { access_token: token, label: 'x' });
  const totp = URI.parse(enrol.otpauth_uri) as import('otpauth').TOTP;
  const at = (now: number) => totp.generate({ timestamp: now * 1000 });
  await ok(t, 'auth.totp_confirm', {
    access_token: token,
    totp_sealed: enrol.totp_sealed,
    code: at(t.clock.now),
  });
  return { sealed: enrol.totp_sealed, at };
}

describe('the caller of TOTP and step-up', () => {
  it('a token without `sid` is refused; one without `amr` steps up to otp and mfa (or otp by mail)', async () => {
    const { t } = await authReady();
    const a = await account(t);
    const { sid: _sid, amr: _amr, ...rest } = claimsOf(a.token);
    assert.equal(
      await code(t, 'auth.totp_enroll', { access_token: ownToken(t, rest), label: 'x' }),
      'AUTH_TOKEN_INVALID',
    );
    const noAmr = ownToken(t, { ...rest, sid: _sid });
    const totp = await enrolTotp(t, noAmr);
    t.clock.now += 60;
    const up = await ok(t, 'auth.step_up', {
      access_token: noAmr,
      totp_sealed: totp.sealed,
      second: { totp_code: totp.at(t.clock.now) },
      roles: [],
      recovery_macs: [],
    });
    assert.deepEqual(claimsOf(up.access_token).amr, ['otp', 'mfa']);
    const c = await mailedCode(t, a.email, 'step_up');
    const mail = await ok(t, 'auth.step_up_email', {
      access_token: noAmr,
      email: a.email,
      binding: a.binding,
      code: c,
      roles: [],
    });
    assert.deepEqual(claimsOf(mail.access_token).amr, ['otp']);
  });

  it('only a wrong code counts toward the lockout: a secret sealed to another account does not', async () => {
    const { t } = await authReady();
    const a = await account(t);
    const b = await account(t);
    const mine = await enrolTotp(t, a.token);
    const theirs = await enrolTotp(t, b.token);
    t.clock.now += 60;
    const stepUp = (totp: { sealed: string; at: (now: number) => string }) =>
      code(t, 'auth.step_up', {
        access_token: a.token,
        totp_sealed: totp.sealed,
        second: { totp_code: totp.at(t.clock.now) },
        roles: [],
        recovery_macs: [],
      });
    for (let i = 0; i < 12; i++) assert.equal(await stepUp(theirs), 'AUTH_METHOD_BINDING_INVALID');
    assert.equal(await stepUp(mine), 'ok');
  });
});

describe('passkey step-up after each other factor', () => {
  const RP = 'cloister.test';
  const ORIGIN = 'https://cloister.test';

  it('a key without user verification is a second factor after otp, swk or user, not after none', async () => {
    const { t } = await authReady({ AUTH_RP_ID: RP, AUTH_ORIGINS: ORIGIN });
    const a = await account(t);
    const { device, reg } = await registerPasskey(t, a, RP, ORIGIN);
    let cred = reg;
    const { amr: _amr, ...rest } = claimsOf(a.token);
    const cases: [string[] | undefined, string[]][] = [
      [['otp'], ['otp', 'hwk', 'mfa']],
      [['swk'], ['swk', 'hwk', 'mfa']],
      [['user'], ['user', 'hwk', 'mfa']],
      [undefined, ['hwk']],
    ];
    for (const [before, after] of cases) {
      const token = ownToken(t, before ? { ...rest, amr: before } : rest);
      const step = await ok(t, 'auth.passkey_step_up_options', {
        access_token: token,
        allow: [device.id],
      });
      const out = await ok(t, 'auth.passkey_step_up', {
        access_token: token,
        roles: [],
        response: device.get(step.options, { uv: false }),
        credential: cred,
      });
      assert.deepEqual(claimsOf(out.access_token).amr, after, String(before));
      cred = { ...cred, counter: out.counter, binding: out.binding };
    }
  });

  it('registers a key that did not verify the user; refuses an assertion signed by another key', async () => {
    const { t } = await authReady({ AUTH_RP_ID: RP, AUTH_ORIGINS: ORIGIN });
    const a = await account(t);
    const { device, reg } = await registerPasskey(t, a, RP, ORIGIN, { uv: false });
    const login = async (signer?: KeyObject) =>
      code(t, 'auth.passkey_login_verify', {
        response: device.get((await ok(t, 'auth.passkey_login_options', {})).options, {
          ...(signer ? { signer } : {}),
        }),
        credential: { ...reg, roles: [] },
      });
    assert.equal(
      await login(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey),
      'AUTH_PASSKEY_INVALID',
    );
    assert.equal(await login(), 'ok');
  });
});

describe('challenges before the auth keyring', () => {
  it('auth.siwe_nonce and auth.passkey_login_options need it', async () => {
    const t = testEnclave();
    await ok(t, 'keyring.generate', { policy: 'signer' });
    for (const m of ['auth.siwe_nonce', 'auth.passkey_login_options'])
      assert.equal(await code(t, m, {}), 'AUTH_NOT_READY', m);
    await ok(t, 'auth.init', { sealed: null });
    for (const m of ['auth.siwe_nonce', 'auth.passkey_login_options'])
      assert.equal(await code(t, m, {}), 'ok', m);
  });
});
