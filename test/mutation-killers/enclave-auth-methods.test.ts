/**
 * The enclave's sign-in methods besides the password (src/enclave/methods/auth-otp.ts,
 * auth-totp.ts, auth-siwe.ts) for the mutation run (docs/mutation-testing.md): only service
 * tests, which spawn the built bundle, reached most of them. Through the real dispatcher on
 * in-process enclaves, with the mailed code read from the simulated platform's `dev_mail`, TOTP
 * codes computed from the enrolment URI, and SIWE messages signed with a test key.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecureContext, TLSSocket } from 'node:tls';
import { describe, it } from 'node:test';
import { addr, eip191Signer } from 'micro-eth-signer';
import { URI } from 'otpauth';
import { createThrowawayPki } from '../../devtools/fake-exchange/tls.js';
import { encryptPassword } from '../../src/client/index.js';
import { formatSiweMessage } from '../../src/protocol/siwe.js';
import { testEnclave, type TestEnclave } from '../helpers/enclave-state.js';
import { SoftAuthenticator } from '../helpers/webauthn.js';
import { account, claimsOf, PASSWORD, registerPasskey } from './auth-account.js';
import { code, ok } from './rpc.js';

async function authReady(env: Record<string, string> = {}) {
  const t = testEnclave({ env });
  await ok(t, 'keyring.generate', { policy: 'signer' });
  await ok(t, 'auth.init', { sealed: null });
  return t;
}

/** Starts a code and reads it from the mail the simulated platform hands back. */
async function mailed(
  t: TestEnclave,
  email: string,
  purpose: string,
  access_token?: string,
): Promise<{ code: string; subject: string; to: string; from: string }> {
  const start = await ok(t, 'auth.otp_start', {
    email,
    purpose,
    ...(access_token ? { access_token } : {}),
  });
  const mail = start.dev_mail!;
  return {
    code: /is (\d{6})\n/.exec(mail.text)![1]!,
    subject: mail.subject,
    to: mail.to,
    from: mail.from,
  };
}

describe('auth.otp_start', () => {
  it('mails each purpose its own subject and text, to the address asked, from MAIL_FROM', async () => {
    const t = await authReady({ MAIL_FROM: 'codes@cloister.test' });
    const a = await account(t);
    const subjects: Record<string, string> = {
      login: 'sign-in code',
      reset: 'password reset code',
      confirm: 'confirmation code',
      recovery: 'account recovery code',
      step_up: 'confirmation code for a sensitive operation',
      link: 'code to link this address to your account',
    };
    for (const [purpose, what] of Object.entries(subjects)) {
      const email = `${purpose}-${randomUUID()}@example.test`;
      const start = await ok(t, 'auth.otp_start', {
        email,
        purpose,
        ...(purpose === 'link' ? { access_token: a.token } : {}),
      });
      const mail = start.dev_mail!;
      assert.equal(mail.subject, `Your Cloister ${what}`);
      assert.equal(mail.to, email);
      assert.equal(mail.from, 'codes@cloister.test');
      assert.match(
        mail.text,
        new RegExp(
          `^Your Cloister ${what} is \\d{6}\\n\\nIt works once, for 10 minutes\\. If you did not ask for it, ignore this mail\\.\\n$`,
        ),
      );
    }
  });

  it('a token with `link` only, and never with another purpose', async () => {
    const t = await authReady();
    const a = await account(t);
    const email = `${randomUUID()}@example.test`;
    assert.equal(await code(t, 'auth.otp_start', { email, purpose: 'link' }), 'AUTH_TOKEN_INVALID');
    assert.equal(
      await code(t, 'auth.otp_start', { email, purpose: 'login', access_token: a.token }),
      'AUTH_TOKEN_INVALID',
    );
    assert.equal(
      await code(t, 'auth.otp_start', { email, purpose: 'link', access_token: `${a.token}x` }),
      'AUTH_TOKEN_INVALID',
    );
  });

  it('off the simulated platform without SMTP: AUTH_MAIL_UNAVAILABLE, and the code is dropped', async () => {
    const t = await authReady();
    const email = `${randomUUID()}@example.test`;
    const simulated = t.state.platform;
    (t.state as { platform: unknown }).platform = Object.create(simulated, {
      name: { value: 'nitro' },
    });
    assert.equal(
      await code(t, 'auth.otp_start', { email, purpose: 'login' }),
      'AUTH_MAIL_UNAVAILABLE',
    );
    // Nothing pending: the next start is a first send, not a resend of the dropped code.
    (t.state as { platform: unknown }).platform = simulated;
    const m = await mailed(t, email, 'login');
    assert.equal(await code(t, 'auth.otp_verify', { email, code: m.code, user: null }), 'ok');
  });

  it('an SMTP server that cannot be reached: AUTH_MAIL_UNAVAILABLE, even on the simulated platform', async () => {
    const t = await authReady({ SMTP_URL: 'smtp://127.0.0.1:1' });
    const otp = t.state.auth.otp as unknown as { pending: Map<string, unknown> };
    for (const [purpose, email] of [
      ['login', 'x@example.test'],
      ['reset', 'y@example.test'],
    ] as const) {
      assert.equal(await code(t, 'auth.otp_start', { email, purpose }), 'AUTH_MAIL_UNAVAILABLE');
      // The code no mail carried is forgotten at once.
      assert.equal(otp.pending.size, 0, purpose);
    }
  });
});

/** A plain SMTP server on 127.0.0.1 (no STARTTLS) that keeps each mail's DATA. */
async function plainSmtp(): Promise<{ url: string; mails: string[]; close: () => void }> {
  const mails: string[] = [];
  const server = createServer((sock) => {
    sock.setEncoding('utf8');
    sock.on('error', () => {});
    sock.write('220 fake ESMTP\r\n');
    let buf = '';
    let data: string[] | null = null;
    sock.on('data', (d: string) => {
      buf += d;
      for (let i = buf.indexOf('\r\n'); i >= 0; i = buf.indexOf('\r\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (data) {
          if (line === '.') {
            mails.push(data.join('\n'));
            data = null;
            sock.write('250 queued\r\n');
          } else data.push(line);
        } else if (/^DATA/i.test(line)) {
          data = [];
          sock.write('354 go on\r\n');
        } else if (/^QUIT/i.test(line)) sock.end('221 bye\r\n');
        else sock.write('250 ok\r\n');
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return { url: `smtp://127.0.0.1:${port}`, mails, close: () => server.close() };
}

/** An SMTP server on localhost that offers STARTTLS with a throwaway CA's certificate. */
async function tlsSmtp(): Promise<{
  url: string;
  caPem: string;
  mails: number;
  close: () => void;
}> {
  const pki = await createThrowawayPki(['localhost']);
  const out = { url: '', caPem: pki.caPem, mails: 0, close: () => {} };
  const speak = (io: TLSSocket) => {
    let buf = '';
    let inData = false;
    io.setEncoding('utf8');
    io.on('error', () => {});
    io.on('data', (d: string) => {
      buf += d;
      for (let i = buf.indexOf('\r\n'); i >= 0; i = buf.indexOf('\r\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (inData) {
          if (line === '.') {
            inData = false;
            out.mails++;
            io.write('250 queued\r\n');
          }
        } else if (/^DATA/i.test(line)) {
          inData = true;
          io.write('354 go on\r\n');
        } else if (/^QUIT/i.test(line)) io.end('221 bye\r\n');
        else io.write('250 ok\r\n');
      }
    });
  };
  const server = createServer((sock) => {
    sock.on('error', () => {});
    sock.write('220 fake ESMTP\r\n');
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString('utf8');
      if (/^EHLO[^\r]*\r\n$/i.test(buf)) {
        buf = '';
        sock.write('250-fake\r\n250 STARTTLS\r\n');
      } else if (/^STARTTLS\r\n$/i.test(buf)) {
        sock.off('data', onData);
        sock.write('220 go ahead\r\n');
        speak(
          new TLSSocket(sock, {
            isServer: true,
            secureContext: createSecureContext({ cert: pki.certPem, key: pki.keyPem }),
          }),
        );
      }
    };
    sock.on('data', onData);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  out.url = `smtp://localhost:${port}`;
  out.close = () => server.close();
  return out;
}

describe('auth.otp_start with SMTP', () => {
  it('mails through SMTP_URL (plain to localhost on the simulated platform) and hands the host nothing', async () => {
    const smtp = await plainSmtp();
    try {
      const t = await authReady({ SMTP_URL: smtp.url, MAIL_FROM: 'codes@cloister.test' });
      const email = `${randomUUID()}@example.test`;
      const start = await ok(t, 'auth.otp_start', { email, purpose: 'login' });
      assert.equal(start.dev_mail, null);
      assert.equal(smtp.mails.length, 1);
      const code6 = /Your Cloister sign-in code is (\d{6})/.exec(smtp.mails[0]!)![1]!;
      assert.equal(await code(t, 'auth.otp_verify', { email, code: code6, user: null }), 'ok');
      // Off the simulated platform, plain SMTP even to localhost is refused.
      (t.state as { platform: unknown }).platform = Object.create(t.state.platform, {
        name: { value: 'nitro' },
      });
      assert.equal(
        await code(t, 'auth.otp_start', {
          email: `${randomUUID()}@example.test`,
          purpose: 'login',
        }),
        'AUTH_MAIL_UNAVAILABLE',
      );
      assert.equal(smtp.mails.length, 1);
    } finally {
      smtp.close();
    }
  });

  it('trusts EGRESS_CA_FILE for the SMTP server’s STARTTLS certificate', async () => {
    const smtp = await tlsSmtp();
    try {
      const ca = join(mkdtempSync(join(tmpdir(), 'cloister-ca-')), 'ca.pem');
      writeFileSync(ca, smtp.caPem);
      const email = `${randomUUID()}@example.test`;
      const without = await authReady({ SMTP_URL: smtp.url });
      assert.equal(
        await code(without, 'auth.otp_start', { email, purpose: 'login' }),
        'AUTH_MAIL_UNAVAILABLE',
      );
      const t = await authReady({ SMTP_URL: smtp.url, EGRESS_CA_FILE: ca });
      assert.deepEqual(await ok(t, 'auth.otp_start', { email, purpose: 'login' }), {
        dev_mail: null,
      });
      assert.equal(smtp.mails, 1);
    } finally {
      smtp.close();
    }
  });
});

describe('auth.otp_verify', () => {
  it('a new address gets a fresh account and its binding; a known one needs its binding', async () => {
    const t = await authReady();
    const email = `${randomUUID()}@example.test`;
    const m = await mailed(t, email, 'login');
    const fresh = await ok(t, 'auth.otp_verify', { email, code: m.code, user: null });
    assert.ok(fresh.binding);
    assert.equal(fresh.recovery_mac, null);
    const c = claimsOf(fresh.access_token);
    assert.equal(c.sub, fresh.user_id);
    assert.deepEqual(c.amr, ['otp']);
    assert.deepEqual(c.roles, []);
    // The binding it returned logs the same account in next time.
    const again = await mailed(t, email, 'login');
    const known = await ok(t, 'auth.otp_verify', {
      email,
      code: again.code,
      user: { user_id: fresh.user_id, binding: fresh.binding, roles: ['operator'] },
    });
    assert.equal(known.user_id, fresh.user_id);
    assert.equal(known.binding, null);
    assert.deepEqual(claimsOf(known.access_token).roles, ['operator']);
    // Another account's binding: refused.
    const other = await account(t);
    const third = await mailed(t, email, 'login');
    assert.equal(
      await code(t, 'auth.otp_verify', {
        email,
        code: third.code,
        user: { user_id: fresh.user_id, binding: other.binding, roles: [] },
      }),
      'AUTH_METHOD_BINDING_INVALID',
    );
  });

  it('with TOTP due, the right mailed code stays usable until the second factor passes', async () => {
    const t = await authReady();
    const a = await account(t);
    const totp = await enrolTotp(t, a);
    const m = await mailed(t, a.email, 'login');
    const user = { user_id: a.userId, binding: a.binding, roles: [], totp_sealed: totp.sealed };
    assert.equal(
      await code(t, 'auth.otp_verify', { email: a.email, code: m.code, user }),
      'AUTH_MFA_REQUIRED',
    );
    // Recovery codes need their MACs from the host: without them the code is refused.
    assert.equal(
      await code(t, 'auth.otp_verify', {
        email: a.email,
        code: m.code,
        user,
        second: { recovery_code: totp.codes[0]! },
      }),
      'AUTH_MFA_INVALID',
    );
    const good = await ok(t, 'auth.otp_verify', {
      email: a.email,
      code: m.code,
      user: { ...user, recovery_macs: totp.macs },
      second: { recovery_code: totp.codes[1]! },
    });
    assert.deepEqual(claimsOf(good.access_token).amr, ['otp', 'otp', 'mfa']);
    assert.equal(good.recovery_mac, totp.macs[1]);
    // Now the code is spent.
    assert.notEqual(
      await code(t, 'auth.otp_verify', {
        email: a.email,
        code: m.code,
        user: { ...user, recovery_macs: totp.macs },
        second: { recovery_code: totp.codes[2]! },
      }),
      'ok',
    );
  });
});

describe('auth.email_link, auth.confirm_email, auth.password_reset', () => {
  it('a link code binds the address to the account of the token that asked for it', async () => {
    const t = await authReady();
    const a = await account(t);
    const b = await account(t);
    const email = `${randomUUID()}@example.test`;
    const m = await mailed(t, email, 'link', a.token);
    assert.notEqual(
      await code(t, 'auth.email_link', { access_token: b.token, email, code: m.code }),
      'ok',
    );
    const m2 = await mailed(t, email, 'link', a.token);
    const linked = await ok(t, 'auth.email_link', { access_token: a.token, email, code: m2.code });
    assert.equal(linked.user_id, a.userId);
    assert.equal(linked.email, email);
    // The binding is the account's: an email login with it reaches that account.
    const login = await mailed(t, email, 'login');
    const out = await ok(t, 'auth.otp_verify', {
      email,
      code: login.code,
      user: { user_id: a.userId, binding: linked.binding, roles: [] },
    });
    assert.equal(out.user_id, a.userId);
  });

  it('confirm_email needs the code, the binding of that account and its password', async () => {
    const t = await authReady();
    const a = await account(t);
    const b = await account(t);
    const secret = { password: PASSWORD };
    const user = { user_id: a.userId, binding: a.binding, password_sealed: a.passwordSealed };
    const m = await mailed(t, a.email, 'confirm');
    assert.equal(
      await code(t, 'auth.confirm_email', {
        email: a.email,
        code: m.code,
        secret,
        user: { ...user, binding: b.binding },
      }),
      'AUTH_METHOD_BINDING_INVALID',
    );
    // The right code for a registration with another password (a later one of the address).
    const m1 = await mailed(t, a.email, 'confirm');
    assert.equal(
      await code(t, 'auth.confirm_email', {
        email: a.email,
        code: m1.code,
        secret: { password: 'not the registration password' },
        user,
      }),
      'AUTH_INVALID_CREDENTIALS',
    );
    const m2 = await mailed(t, a.email, 'confirm');
    assert.deepEqual(
      await ok(t, 'auth.confirm_email', { email: a.email, code: m2.code, secret, user }),
      { confirmed: true },
    );
  });

  it('password_reset: code, binding, minimum length; the new password logs in', async () => {
    const t = await authReady();
    const a = await account(t);
    const other = await account(t);
    const user = { user_id: a.userId, binding: a.binding };
    const reset = async (password: string, u = user) => {
      const m = await mailed(t, a.email, 'reset');
      return code(t, 'auth.password_reset', {
        email: a.email,
        code: m.code,
        secret: { password },
        user: u,
      });
    };
    assert.equal(await reset('elevenchars'), 'AUTH_PASSWORD_TOO_SHORT');
    // A code that was not mailed: refused before anything else.
    const sent = await mailed(t, a.email, 'reset');
    assert.equal(
      await code(t, 'auth.password_reset', {
        email: a.email,
        code: sent.code === '000000' ? '111111' : '000000',
        secret: { password: 'a long enough new password' },
        user,
      }).then((c) => (c === 'AUTH_OTP_INVALID' || c === 'AUTH_OTP_LOCKED' ? 'refused' : c)),
      'refused',
    );
    assert.equal(
      await reset('a long enough new password', { user_id: a.userId, binding: other.binding }),
      'AUTH_METHOD_BINDING_INVALID',
    );
    const m = await mailed(t, a.email, 'reset');
    const out = await ok(t, 'auth.password_reset', {
      email: a.email,
      code: m.code,
      secret: { password: 'a long enough new password' },
      user,
    });
    assert.equal(
      await code(t, 'auth.login', {
        email: a.email,
        secret: { password: 'a long enough new password' },
        user: { user_id: a.userId, password_sealed: out.password_sealed, roles: [] },
      }),
      'ok',
    );
  });

  it('recovery without a second factor resets at once; with one, the pending password does not log in', async () => {
    const t = await authReady();
    const a = await account(t);
    const user = { user_id: a.userId, binding: a.binding };
    const confirm = async (second_factor: boolean) => {
      const m = await mailed(t, a.email, 'recovery');
      return ok(t, 'auth.recovery_confirm', {
        email: a.email,
        code: m.code,
        secret: { password: 'the recovered password' },
        user,
        second_factor,
        password_state: a.passwordSealed,
      });
    };
    const login = (password_sealed: string) =>
      code(t, 'auth.login', {
        email: a.email,
        secret: { password: 'the recovered password' },
        user: { user_id: a.userId, password_sealed, roles: [] },
      });
    const now = await confirm(false);
    assert.deepEqual(
      [now.unlock_at, now.expires_at, now.mac, now.completion_code],
      [null, null, null, null],
    );
    assert.equal(await login(now.password_sealed), 'ok');
    const later = await confirm(true);
    assert.equal(await login(later.password_sealed), 'AUTH_INVALID_CREDENTIALS');
    assert.notEqual(later.recovery_id, now.recovery_id);
    assert.match(later.completion_code!, /^[A-Za-z0-9_-]{22}$/);
  });
});

async function enrolTotp(t: TestEnclave, a: Awaited<ReturnType<typeof account>>) {
  const enrol = await ok(t, 'auth.totp_enroll', { access_token: a.token, label: a.email });
  assert.equal(enrol.user_id, a.userId);
  const totp = URI.parse(enrol.otpauth_uri) as import('otpauth').TOTP;
  const at = (now: number) => totp.generate({ timestamp: now * 1000 });
  const confirmed = await ok(t, 'auth.totp_confirm', {
    access_token: a.token,
    totp_sealed: enrol.totp_sealed,
    code: at(t.clock.now),
  });
  return {
    sealed: enrol.totp_sealed,
    uri: enrol.otpauth_uri,
    at,
    codes: confirmed.recovery_codes,
    macs: confirmed.recovery_macs,
  };
}

describe('TOTP', () => {
  it('enrolment names the label; confirmation needs a current code, once', async () => {
    const t = await authReady();
    const a = await account(t);
    const enrol = await ok(t, 'auth.totp_enroll', { access_token: a.token, label: 'me@here' });
    assert.match(enrol.otpauth_uri, /^otpauth:\/\/totp\/Cloister:me%40here\?/);
    const totp = URI.parse(enrol.otpauth_uri) as import('otpauth').TOTP;
    const now = t.clock.now;
    const confirm = (c: string) =>
      code(t, 'auth.totp_confirm', {
        access_token: a.token,
        totp_sealed: enrol.totp_sealed,
        code: c,
      });
    assert.equal(
      await confirm(totp.generate({ timestamp: (now - 300) * 1000 })),
      'AUTH_MFA_INVALID',
    );
    const good = totp.generate({ timestamp: now * 1000 });
    const out = await ok(t, 'auth.totp_confirm', {
      access_token: a.token,
      totp_sealed: enrol.totp_sealed,
      code: good,
    });
    assert.equal(out.user_id, a.userId);
    assert.equal(out.recovery_codes.length, 10);
    assert.equal(out.recovery_macs.length, 10);
    assert.equal(await confirm(good), 'AUTH_MFA_INVALID', 'the same code twice');
    // Another account's token cannot open this secret.
    const b = await account(t);
    assert.notEqual(
      await code(t, 'auth.totp_confirm', {
        access_token: b.token,
        totp_sealed: enrol.totp_sealed,
        code: totp.generate({ timestamp: (now + 30) * 1000 }),
      }),
      'ok',
    );
  });

  it('a password login with TOTP due: required, then a code adds otp and mfa', async () => {
    const t = await authReady();
    const a = await account(t);
    const totp = await enrolTotp(t, a);
    t.clock.now += 60;
    const user = {
      user_id: a.userId,
      password_sealed: a.passwordSealed,
      roles: [],
      totp_sealed: totp.sealed,
    };
    const login = (second?: unknown) =>
      code(t, 'auth.login', {
        email: a.email,
        secret: { password: PASSWORD },
        user,
        ...(second ? { second } : {}),
      });
    assert.equal(await login(), 'AUTH_MFA_REQUIRED');
    assert.equal(
      await login({ totp_code: '000000' === totp.at(t.clock.now) ? '111111' : '000000' }),
      'AUTH_MFA_INVALID',
    );
    const out = await ok(t, 'auth.login', {
      email: a.email,
      secret: { password: PASSWORD },
      user,
      second: { totp_code: totp.at(t.clock.now) },
    });
    assert.deepEqual(claimsOf(out.access_token).amr, ['pwd', 'otp', 'mfa']);
    assert.equal(out.recovery_mac, null);
  });

  it('ten wrong codes lock the account out of second factors for the window', async () => {
    const t = await authReady();
    const a = await account(t);
    const totp = await enrolTotp(t, a);
    t.clock.now += 60;
    const stepUp = (c: string) =>
      code(t, 'auth.step_up', {
        access_token: a.token,
        totp_sealed: totp.sealed,
        second: { totp_code: c },
        roles: [],
        recovery_macs: [],
      });
    const wrong = totp.at(t.clock.now) === '000000' ? '111111' : '000000';
    for (let i = 0; i < 10; i++) assert.equal(await stepUp(wrong), 'AUTH_MFA_INVALID');
    assert.equal(await stepUp(totp.at(t.clock.now)), 'AUTH_MFA_INVALID', 'locked out');
    // The window ends: a fresh token (the first one expired with it), and a right code passes.
    t.clock.now += 900;
    const login = await ok(t, 'auth.login', {
      email: a.email,
      secret: { password: PASSWORD },
      user: {
        user_id: a.userId,
        password_sealed: a.passwordSealed,
        roles: [],
        totp_sealed: totp.sealed,
      },
      second: { totp_code: totp.at(t.clock.now) },
    });
    assert.deepEqual(claimsOf(login.access_token).amr, ['pwd', 'otp', 'mfa']);
  });

  it('step-up keeps the session, adds otp and mfa once, and needs a sealed secret', async () => {
    const t = await authReady();
    const a = await account(t, ['operator']);
    const totp = await enrolTotp(t, a);
    t.clock.now += 60;
    const params = {
      access_token: a.token,
      totp_sealed: totp.sealed,
      second: { totp_code: totp.at(t.clock.now) },
      roles: ['operator'],
      recovery_macs: totp.macs,
    };
    assert.equal(
      await code(t, 'auth.step_up', { ...params, totp_sealed: null }),
      'AUTH_MFA_INVALID',
    );
    const out = await ok(t, 'auth.step_up', params);
    assert.equal(out.user_id, a.userId);
    assert.equal(out.session_id, a.sessionId);
    const c = claimsOf(out.access_token);
    assert.deepEqual(c.amr, ['pwd', 'otp', 'mfa']);
    assert.equal(c.sid, a.sessionId);
    assert.deepEqual(c.roles, ['operator']);
    assert.equal(out.recovery_mac, null);
    // Again with the stepped-up token: no duplicates.
    t.clock.now += 60;
    const again = await ok(t, 'auth.step_up', {
      ...params,
      access_token: out.access_token,
      second: { recovery_code: totp.codes[0]!.toLowerCase() },
    });
    assert.deepEqual(claimsOf(again.access_token).amr, ['pwd', 'otp', 'mfa']);
    assert.equal(again.recovery_mac, totp.macs[0]);
  });

  it('step-up by email: the code for the bound address; the token says otp, never an old mfa', async () => {
    const t = await authReady();
    const a = await account(t);
    const b = await account(t);
    const totp = await enrolTotp(t, a);
    t.clock.now += 60;
    const mfa = await ok(t, 'auth.step_up', {
      access_token: a.token,
      totp_sealed: totp.sealed,
      second: { totp_code: totp.at(t.clock.now) },
      roles: [],
      recovery_macs: [],
    });
    const m = await mailed(t, a.email, 'step_up');
    assert.equal(
      await code(t, 'auth.step_up_email', {
        access_token: mfa.access_token,
        email: a.email,
        binding: b.binding,
        code: m.code,
        roles: [],
      }),
      'AUTH_METHOD_BINDING_INVALID',
    );
    const m2 = await mailed(t, a.email, 'step_up');
    const out = await ok(t, 'auth.step_up_email', {
      access_token: mfa.access_token,
      email: a.email,
      binding: a.binding,
      code: m2.code,
      roles: [],
    });
    assert.equal(out.session_id, a.sessionId);
    assert.deepEqual(claimsOf(out.access_token).amr, ['pwd', 'otp']);
  });
});

describe('SIWE', () => {
  const key = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
  const address = addr.fromPrivateKey(key);
  const message = (nonce: string, over: Record<string, unknown> = {}) =>
    formatSiweMessage({
      domain: 'cloister.test',
      address,
      uri: 'https://cloister.test/login',
      version: '1',
      chainId: 1,
      nonce,
      issuedAt: new Date(1_800_000_000_000).toISOString(),
      ...over,
    });
  const sign = (m: string) => eip191Signer.sign(m, key, false);
  const env = { AUTH_ISSUER: 'https://cloister.test' };

  it('a nonce lives AUTH_SIWE_NONCE_TTL_SECONDS and logs in once, a new signer as a new account', async () => {
    const t = await authReady({ ...env, AUTH_SIWE_NONCE_TTL_SECONDS: '120' });
    const n = await ok(t, 'auth.siwe_nonce', {});
    assert.equal(n.expires_at, t.clock.now + 120);
    const m = message(n.nonce);
    const out = await ok(t, 'auth.siwe_login', { message: m, signature: sign(m), user: null });
    assert.equal(out.address, address);
    assert.ok(out.binding);
    const c = claimsOf(out.access_token);
    assert.deepEqual(c.amr, ['swk']);
    assert.equal(c.sub, out.user_id);
    assert.deepEqual(c.roles, []);
    assert.notEqual(
      await code(t, 'auth.siwe_login', { message: m, signature: sign(m), user: null }),
      'ok',
    );
    // The binding (made for the lower-case address) logs the same account in.
    const n2 = await ok(t, 'auth.siwe_nonce', {});
    const m2 = message(n2.nonce);
    const back = await ok(t, 'auth.siwe_login', {
      message: m2,
      signature: sign(m2),
      user: { user_id: out.user_id, binding: out.binding!, roles: ['operator'] },
    });
    assert.equal(back.user_id, out.user_id);
    assert.equal(back.binding, null);
    assert.deepEqual(claimsOf(back.access_token).roles, ['operator']);
    // Another account's binding for this address: refused.
    const n3 = await ok(t, 'auth.siwe_nonce', {});
    const m3 = message(n3.nonce);
    assert.equal(
      await code(t, 'auth.siwe_login', {
        message: m3,
        signature: sign(m3),
        user: { user_id: randomUUID(), binding: out.binding!, roles: [] },
      }),
      'AUTH_METHOD_BINDING_INVALID',
    );
  });

  it('the domain and chains come from the configuration', async () => {
    const t = await authReady({ ...env, AUTH_SIWE_CHAIN_IDS: '1,10' });
    for (const [over, want] of [
      [{ chainId: 10 }, 'ok'],
      [{ chainId: 5 }, 'AUTH_SIWE_INVALID'],
      [{ domain: 'evil.test', uri: 'https://evil.test/' }, 'AUTH_SIWE_INVALID'],
    ] as const) {
      const n = await ok(t, 'auth.siwe_nonce', {});
      const m = message(n.nonce, over);
      assert.equal(
        await code(t, 'auth.siwe_login', { message: m, signature: sign(m), user: null }),
        want,
        JSON.stringify(over),
      );
    }
  });

  it('siwe_link binds the signer to the account of the token', async () => {
    const t = await authReady(env);
    const a = await account(t);
    const n = await ok(t, 'auth.siwe_nonce', {});
    const m = message(n.nonce);
    assert.equal(
      await code(t, 'auth.siwe_link', {
        access_token: `${a.token}x`,
        message: m,
        signature: sign(m),
      }),
      'AUTH_TOKEN_INVALID',
    );
    const linked = await ok(t, 'auth.siwe_link', {
      access_token: a.token,
      message: m,
      signature: sign(m),
    });
    assert.equal(linked.user_id, a.userId);
    assert.equal(linked.address, address);
    const n2 = await ok(t, 'auth.siwe_nonce', {});
    const m2 = message(n2.nonce);
    const login = await ok(t, 'auth.siwe_login', {
      message: m2,
      signature: sign(m2),
      user: { user_id: a.userId, binding: linked.binding, roles: [] },
    });
    assert.equal(login.user_id, a.userId);
  });
});

/** The members of @simplewebauthn's options JSON these tests read. */
interface WebAuthnOptions extends Record<string, unknown> {
  rp: { name: string; id: string };
  user: { name: string; id: string };
  attestation: string;
  timeout: number;
  challenge: string;
  rpId: string;
  userVerification: string;
  excludeCredentials: { id: string }[];
  allowCredentials: { id: string }[];
  authenticatorSelection: { residentKey: string; userVerification: string };
}

describe('passkeys', () => {
  const RP = 'cloister.test';
  const ORIGIN = 'https://cloister.test';
  const env = { AUTH_RP_ID: RP, AUTH_ORIGINS: `https://other.test,${ORIGIN}` };

  async function registered(t: TestEnclave) {
    const a = await account(t);
    return { a, ...(await registerPasskey(t, a, RP, ORIGIN)) };
  }

  it('registration options name the relying party, the account and the rules', async () => {
    const t = await authReady(env);
    const a = await account(t);
    const excluded = Buffer.alloc(16, 7).toString('base64url');
    const { options } = await ok(t, 'auth.passkey_register_options', {
      access_token: a.token,
      user_name: a.email,
      exclude: [excluded],
    });
    const o = options as unknown as WebAuthnOptions;
    assert.deepEqual(o.rp, { name: 'Cloister', id: RP });
    assert.equal(o.user.name, a.email);
    assert.equal(Buffer.from(o.user.id, 'base64url').toString(), a.userId);
    assert.equal(o.attestation, 'none');
    assert.equal(o.timeout, 300_000);
    assert.deepEqual(
      o.excludeCredentials.map((c: { id: string }) => c.id),
      [excluded],
    );
    assert.equal(o.authenticatorSelection.residentKey, 'preferred');
    assert.equal(o.authenticatorSelection.userVerification, 'preferred');
    assert.match(Buffer.from(o.challenge, 'base64url').toString(), /^[0-9a-f]{24}$/);
  });

  it('registers once per challenge, for the account that asked, from an allowed origin', async () => {
    const t = await authReady(env);
    const a = await account(t);
    const b = await account(t);
    const device = new SoftAuthenticator(RP, ORIGIN);
    const opts = async () =>
      (
        await ok(t, 'auth.passkey_register_options', {
          access_token: a.token,
          user_name: a.email,
          exclude: [],
        })
      ).options;
    const verify = (token: string, response: unknown) =>
      code(t, 'auth.passkey_register_verify', { access_token: token, response });
    assert.equal(
      await verify(a.token, device.create(await opts(), 'https://evil.test')),
      'AUTH_PASSKEY_INVALID',
    );
    assert.equal(await verify(b.token, device.create(await opts())), 'AUTH_PASSKEY_INVALID');
    const o = await opts();
    const reg = await ok(t, 'auth.passkey_register_verify', {
      access_token: a.token,
      response: device.create(o),
    });
    assert.equal(reg.user_id, a.userId);
    assert.equal(reg.credential_id, device.id);
    assert.equal(reg.counter, 0);
    assert.equal(await verify(a.token, device.create(o)), 'AUTH_PASSKEY_INVALID', 'spent');
  });

  it('login: a verified user is mfa; a stored key or counter the host changed is refused', async () => {
    const t = await authReady(env);
    const { a, device, reg } = await registered(t);
    const login = async (
      over: Record<string, unknown> = {},
      uv = true,
      extra: Record<string, unknown> = {},
    ) => {
      const { options } = await ok(t, 'auth.passkey_login_options', {});
      return code(t, 'auth.passkey_login_verify', {
        response: device.get(options, { uv }),
        credential: { ...reg, roles: ['operator'], ...over },
        ...extra,
      });
    };
    const { options } = await ok(t, 'auth.passkey_login_options', {});
    const o = options as unknown as WebAuthnOptions;
    assert.equal(o.rpId, RP);
    assert.equal(o.userVerification, 'preferred');
    assert.equal(o.timeout, 300_000);
    const out = await ok(t, 'auth.passkey_login_verify', {
      response: device.get(options),
      credential: { ...reg, roles: ['operator'] },
    });
    assert.equal(out.user_id, a.userId);
    assert.equal(out.counter, 1);
    assert.equal(out.recovery_mac, null);
    const c = claimsOf(out.access_token);
    assert.deepEqual(c.amr, ['hwk', 'user', 'mfa']);
    assert.deepEqual(c.roles, ['operator']);
    // The new binding covers the new counter; the old one no longer matches it.
    const next = { ...reg, counter: out.counter, binding: out.binding };
    assert.equal(await login({ counter: 1 }), 'AUTH_METHOD_BINDING_INVALID');
    assert.equal(
      await login({ public_key: Buffer.alloc(77, 1).toString('base64url') }),
      'AUTH_METHOD_BINDING_INVALID',
    );
    assert.equal(await login({ ...next }, false), 'ok');
    const none = await code(t, 'auth.passkey_login_verify', {
      response: device.get((await ok(t, 'auth.passkey_login_options', {})).options),
      credential: null,
    });
    assert.equal(none, 'AUTH_PASSKEY_INVALID');
  });

  it('login without user verification: hwk only, and TOTP when the account has it', async () => {
    const t = await authReady(env);
    const { a, device, reg } = await registered(t);
    const totp = await enrolTotp(t, a);
    t.clock.now += 60;
    const { options } = await ok(t, 'auth.passkey_login_options', {});
    assert.equal(
      await code(t, 'auth.passkey_login_verify', {
        response: device.get(options, { uv: false }),
        credential: { ...reg, roles: [], totp_sealed: totp.sealed },
      }),
      'AUTH_MFA_REQUIRED',
    );
    const o2 = (await ok(t, 'auth.passkey_login_options', {})).options;
    const out = await ok(t, 'auth.passkey_login_verify', {
      response: device.get(o2, { uv: false }),
      credential: { ...reg, roles: [], totp_sealed: totp.sealed },
      second: { totp_code: totp.at(t.clock.now) },
    });
    assert.deepEqual(claimsOf(out.access_token).amr, ['hwk', 'otp', 'mfa']);
    const o3 = (await ok(t, 'auth.passkey_login_options', {})).options;
    const plain = await ok(t, 'auth.passkey_login_verify', {
      response: device.get(o3, { uv: false }),
      credential: { ...reg, counter: out.counter, binding: out.binding, roles: [] },
    });
    assert.deepEqual(claimsOf(plain.access_token).amr, ['hwk']);
  });

  it('step-up: the account’s own passkey over its own challenge; mfa only with two factors', async () => {
    const t = await authReady(env);
    const { a, device, reg } = await registered(t);
    const other = await account(t);
    const stepOptions = async (token = a.token) =>
      (await ok(t, 'auth.passkey_step_up_options', { access_token: token, allow: [device.id] }))
        .options as unknown as WebAuthnOptions;
    const o = await stepOptions();
    assert.deepEqual(
      o.allowCredentials.map((c: { id: string }) => c.id),
      [device.id],
    );
    assert.equal(o.rpId, RP);
    assert.equal(o.userVerification, 'preferred');
    assert.equal(o.timeout, 300_000);
    // Another account's token with this passkey: refused before any check.
    assert.equal(
      await code(t, 'auth.passkey_step_up', {
        access_token: other.token,
        roles: [],
        response: device.get(await stepOptions(other.token)),
        credential: reg,
      }),
      'AUTH_PASSKEY_INVALID',
    );
    // A login challenge is not a step-up challenge.
    const loginOptions = (await ok(t, 'auth.passkey_login_options', {})).options;
    let counter = reg.counter;
    let binding = reg.binding;
    assert.equal(
      await code(t, 'auth.passkey_step_up', {
        access_token: a.token,
        roles: [],
        response: device.get(loginOptions),
        credential: { ...reg, counter, binding },
      }),
      'AUTH_PASSKEY_INVALID',
    );
    // The password session plus a key without user verification: two factors.
    const out = await ok(t, 'auth.passkey_step_up', {
      access_token: a.token,
      roles: ['operator'],
      response: device.get(await stepOptions(), { uv: false }),
      credential: { ...reg, counter, binding },
    });
    assert.equal(out.session_id, a.sessionId);
    assert.deepEqual(claimsOf(out.access_token).amr, ['pwd', 'hwk', 'mfa']);
    assert.deepEqual(claimsOf(out.access_token).roles, ['operator']);
    counter = out.counter;
    binding = out.binding;
    // A session from this key alone, without user verification: one factor, no mfa.
    const lo = (await ok(t, 'auth.passkey_login_options', {})).options;
    const keyOnly = await ok(t, 'auth.passkey_login_verify', {
      response: device.get(lo, { uv: false }),
      credential: { ...reg, counter, binding, roles: [] },
    });
    counter = keyOnly.counter;
    binding = keyOnly.binding;
    const single = await ok(t, 'auth.passkey_step_up', {
      access_token: keyOnly.access_token,
      roles: [],
      response: device.get(await stepOptions(keyOnly.access_token), { uv: false }),
      credential: { ...reg, counter, binding },
    });
    assert.deepEqual(claimsOf(single.access_token).amr, ['hwk']);
    counter = single.counter;
    binding = single.binding;
    const verified = await ok(t, 'auth.passkey_step_up', {
      access_token: keyOnly.access_token,
      roles: [],
      response: device.get(await stepOptions(keyOnly.access_token)),
      credential: { ...reg, counter, binding },
    });
    assert.deepEqual(claimsOf(verified.access_token).amr, ['hwk', 'user', 'mfa']);
  });
});

describe('auth.password_set', () => {
  it('sets a password for the token’s own account, under its email binding, for the action named', async () => {
    const t = testEnclave();
    const g = await ok(t, 'keyring.generate', { policy: 'signer' });
    await ok(t, 'auth.init', { sealed: null });
    const pub = g.public.credential_keys[0]!.public_key;
    const keyId = g.public.current_key_id;
    const a = await account(t);
    const b = await account(t);
    const set = (over: Record<string, unknown>) =>
      code(t, 'auth.password_set', {
        access_token: a.token,
        action: 'change',
        email: a.email,
        binding: a.binding,
        secret: { password: 'a brand new password' },
        ...over,
      });
    assert.equal(await set({ binding: b.binding }), 'AUTH_METHOD_BINDING_INVALID');
    assert.equal(await set({ access_token: b.token }), 'AUTH_METHOD_BINDING_INVALID');
    assert.equal(await set({ access_token: `${a.token}x` }), 'AUTH_TOKEN_INVALID');
    assert.equal(await set({ secret: { password: 'elevenchars' } }), 'AUTH_PASSWORD_TOO_SHORT');
    const env = (action: 'change' | 'link') =>
      encryptPassword({ action, email: a.email, password: 'a brand new password' }, pub, {
        keyId,
        issuedAt: t.clock.now,
      });
    // An envelope made for linking is not one for changing.
    assert.equal(await set({ secret: { envelope: env('link') } }), 'AUTH_ENVELOPE_MISMATCH');
    const out = await ok(t, 'auth.password_set', {
      access_token: a.token,
      action: 'change',
      email: a.email,
      binding: a.binding,
      secret: { envelope: env('change') },
    });
    assert.equal(out.user_id, a.userId);
    assert.equal(
      await code(t, 'auth.login', {
        email: a.email,
        secret: { password: 'a brand new password' },
        user: { user_id: a.userId, password_sealed: out.password_sealed, roles: [] },
      }),
      'ok',
    );
  });
});
