/**
 * Email one-time codes end to end: a real SMTP server in this process (smtp-server) receives
 * the mail the enclave sends itself; the test reads the code from the delivered message, logs
 * in with it, and sees: the same 202 for any address, a code used once, brute force locked
 * after 5 wrong tries (even the right code is refused then), 5 sends per address per hour, and
 * no code in any table or log line. Also: the enclave's SMTP client refuses plain SMTP when the
 * server offers no STARTTLS unless it may (simulated platform, localhost).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SMTPServer } from 'smtp-server';
import { sendMail } from '../../src/enclave/egress/smtp.js';
import { dumpPublicSchema } from '../helpers/security-util.js';
import { engines, startTestService, type TestService } from '../helpers/service.js';

interface Received {
  to: string;
  raw: string;
}

function startSmtp(): Promise<{ server: SMTPServer; port: number; inbox: Received[] }> {
  const inbox: Received[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        inbox.push({
          to: session.envelope.rcptTo.map((r) => r.address).join(','),
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        cb();
      });
    },
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, port: (server.server.address() as AddressInfo).port, inbox }),
    );
  });
}

const codeIn = (raw: string): string => {
  const m = /code is (\d{6})/.exec(raw);
  assert.ok(m, 'no code in the mail');
  return m[1]!;
};

for (const engine of engines())
  describe(`email one-time codes (${engine})`, () => {
    let ts: TestService;
    let smtp: Awaited<ReturnType<typeof startSmtp>>;
    const codes: string[] = [];
    const post = (url: string, payload: Record<string, unknown>) =>
      ts.service.app.inject({ method: 'POST', url, payload });
    const lastCodeFor = (email: string): string => {
      const mails = smtp.inbox.filter((m) => m.to === email);
      assert.ok(mails.length > 0, `no mail to ${email}`);
      const code = codeIn(mails.at(-1)!.raw);
      codes.push(code);
      return code;
    };

    /** Registration and reset answer before their mail is sent: wait for it to arrive. */
    const lastMailSays = async (what: RegExp) => {
      for (let i = 0; !what.test(smtp.inbox.at(-1)?.raw ?? '') && i < 500; i++)
        await new Promise((r) => setTimeout(r, 20));
      assert.match(smtp.inbox.at(-1)!.raw, what);
    };

    before(async () => {
      smtp = await startSmtp();
      ts = await startTestService(engine, {
        SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
        MAIL_FROM: 'login@cloister.test',
        AUTH_LOGIN_MAX_PER_IP: '100000',
        AUTH_REGISTER_MAX_PER_IP: '100000',
        AUTH_LOGIN_FAILURES_BEFORE_BACKOFF: '1000',
      });
    });
    after(async () => {
      await ts?.stop();
      await new Promise<void>((r) => smtp?.server.close(() => r()));
    });

    let userId = '';
    it('mails a code from the enclave; the code logs in and creates the account', async () => {
      const start = await post('/auth/otp/start', { email: 'Otto@Example.com' });
      assert.equal(start.statusCode, 202, start.body);
      assert.deepEqual(start.json(), { accepted: true });
      const mail = smtp.inbox.at(-1)!;
      assert.equal(mail.to, 'otto@example.com');
      assert.match(mail.raw, /^From: login@cloister\.test/m);
      const code = lastCodeFor('otto@example.com');
      const r = await post('/auth/otp/verify', { email: 'otto@example.com', code });
      assert.equal(r.statusCode, 200, r.body);
      assert.equal(r.json().created, true);
      userId = r.json().user_id;
      const again = await post('/auth/otp/verify', { email: 'otto@example.com', code });
      assert.equal(again.statusCode, 401);
      assert.equal(again.json().error.code, 'AUTH_OTP_INVALID');
    });

    it('a second code reaches the same account', async () => {
      await post('/auth/otp/start', { email: 'otto@example.com' });
      const r = await post('/auth/otp/verify', {
        email: 'otto@example.com',
        code: lastCodeFor('otto@example.com'),
      });
      assert.equal(r.statusCode, 200, r.body);
      assert.equal(r.json().user_id, userId);
      assert.equal(r.json().created, false);
    });

    it('with SMTP_URL, registration is confirmed by mail and answers alike for any address', async () => {
      const creds = { email: 'pat@example.com', password: 'a long enough password' };
      const reg = await post('/auth/register', creds);
      assert.equal(reg.statusCode, 202, reg.body);
      assert.deepEqual(reg.json(), { accepted: true });
      await lastMailSays(/confirmation code/);
      const code = lastCodeFor('pat@example.com');
      assert.equal((await post('/auth/login', creds)).statusCode, 401, 'pending account logged in');
      // A taken address (otto's) gets the same answer and no mail.
      const mails = smtp.inbox.length;
      const taken = await post('/auth/register', {
        email: 'otto@example.com',
        password: 'a long enough password',
      });
      assert.equal(taken.statusCode, 202);
      assert.deepEqual(taken.json(), reg.json());
      assert.equal(smtp.inbox.length, mails);
      const confirmed = await post('/auth/register/confirm', { ...creds, code });
      assert.equal(confirmed.statusCode, 200, confirmed.body);
      const login = await post('/auth/login', creds);
      assert.equal(login.statusCode, 200, login.body);
      assert.equal(login.json().user_id, confirmed.json().user_id);
      // The account's email is a login method too.
      await post('/auth/otp/start', { email: 'pat@example.com' });
      const r = await post('/auth/otp/verify', {
        email: 'pat@example.com',
        code: lastCodeFor('pat@example.com'),
      });
      assert.equal(r.statusCode, 200, r.body);
      assert.equal(r.json().user_id, confirmed.json().user_id);
    });

    it('a forgotten password is reset with a mailed code; every session ends', async () => {
      const login = await post('/auth/login', {
        email: 'pat@example.com',
        password: 'a long enough password',
      });
      assert.equal(login.statusCode, 200, login.body);
      const strangerMails = smtp.inbox.length;
      assert.equal(
        (await post('/auth/password/reset/start', { email: 'nobody@example.com' })).statusCode,
        202,
      );
      assert.equal(smtp.inbox.length, strangerMails, 'a stranger got a reset mail');
      // A sign-in code is not a reset code.
      await post('/auth/otp/start', { email: 'pat@example.com' });
      const signIn = lastCodeFor('pat@example.com');
      const wrongKind = await post('/auth/password/reset', {
        email: 'pat@example.com',
        code: signIn,
        password: 'another long password',
      });
      assert.equal(wrongKind.json().error.code, 'AUTH_OTP_INVALID');
      const start = await post('/auth/password/reset/start', { email: 'pat@example.com' });
      assert.equal(start.statusCode, 202);
      await lastMailSays(/password reset code/);
      const reset = await post('/auth/password/reset', {
        email: 'pat@example.com',
        code: lastCodeFor('pat@example.com'),
        password: 'another long password',
      });
      assert.equal(reset.statusCode, 200, reset.body);
      const old = await post('/auth/login', {
        email: 'pat@example.com',
        password: 'a long enough password',
      });
      assert.equal(old.statusCode, 401);
      const fresh = await post('/auth/login', {
        email: 'pat@example.com',
        password: 'another long password',
      });
      assert.equal(fresh.statusCode, 200);
      const refresh = await post('/auth/refresh', { refresh_token: login.json().refresh_token });
      assert.equal(refresh.statusCode, 401);
      const ops = await ts.service.db.query<{ event_type: string }>(
        "SELECT event_type FROM ops_logs WHERE event_type = 'auth.password_reset'",
      );
      assert.equal(ops.rows.length, 1);
    });

    it('brute force stops after 5 wrong codes, even the right one is refused then', async () => {
      await post('/auth/otp/start', { email: 'bruce@example.com' });
      const right = lastCodeFor('bruce@example.com');
      const wrong = right === '000000' ? '000001' : '000000';
      const answers: string[] = [];
      for (let i = 0; i < 5; i++)
        answers.push(
          (await post('/auth/otp/verify', { email: 'bruce@example.com', code: wrong })).json().error
            .code,
        );
      // The lock answers as a wrong code (an address that was mailed nothing never locks:
      // test/auth/code-lock-enumeration.test.ts).
      assert.deepEqual(answers, Array(5).fill('AUTH_OTP_INVALID'));
      const r = await post('/auth/otp/verify', { email: 'bruce@example.com', code: right });
      assert.equal(r.statusCode, 401);
      assert.equal(r.json().error.code, 'AUTH_OTP_INVALID');
    });

    it('at most 5 mails per address per hour, and the answer stays 202', async () => {
      const before = smtp.inbox.filter((m) => m.to === 'flood@example.com').length;
      for (let i = 0; i < 7; i++)
        assert.equal(
          (await post('/auth/otp/start', { email: 'flood@example.com' })).statusCode,
          202,
        );
      const sent = smtp.inbox.filter((m) => m.to === 'flood@example.com').length - before;
      assert.equal(sent, 5);
    });

    it('no code appears in any table or log line', async () => {
      assert.ok(codes.length >= 4);
      const dump = (await dumpPublicSchema(ts.service.db))
        .flatMap((d) => d.rows.map((r) => `${d.table}: ${r}`))
        .join('\n');
      const logs = ts.logs.join('\n');
      assert.ok(dump.includes('otto@example.com')); // positive control
      for (const code of codes) {
        const re = new RegExp(`(?<!\\d)${code}(?!\\d)`);
        assert.ok(!re.test(dump), 'a code is in the database');
        assert.ok(!re.test(logs), 'a code is in the logs');
      }
    });
  });

describe('email one-time codes without SMTP_URL (simulated platform)', () => {
  it('the mail is written under DATA_DIR/mail/ and the log says where, not what', async () => {
    const ts = await startTestService('pglite', { AUTH_LOGIN_MAX_PER_IP: '100000' });
    try {
      const start = await ts.service.app.inject({
        method: 'POST',
        url: '/auth/otp/start',
        payload: { email: 'dev@example.com' },
      });
      assert.equal(start.statusCode, 202);
      const dir = join(ts.dataDir, 'mail');
      const files = readdirSync(dir);
      assert.equal(files.length, 1);
      const code = codeIn(readFileSync(join(dir, files[0]!), 'utf8'));
      assert.ok(ts.logs.some((l) => l.includes(files[0]!)));
      assert.ok(!ts.logs.some((l) => l.includes(code)));
      const r = await ts.service.app.inject({
        method: 'POST',
        url: '/auth/otp/verify',
        payload: { email: 'dev@example.com', code },
      });
      assert.equal(r.statusCode, 200, r.body);
    } finally {
      await ts.stop();
    }
  });
});

describe('enclave SMTP client', () => {
  it('refuses plain SMTP without STARTTLS unless plain localhost is allowed', async () => {
    const smtp = await startSmtp();
    try {
      const target = { secure: false, host: '127.0.0.1', port: smtp.port };
      const mail = { from: 'a@b.c', to: 'd@e.f', subject: 's', text: 't' };
      await assert.rejects(sendMail(target, mail, { allowPlainLocal: false }), {
        code: 'EGRESS_REFUSED',
      });
      assert.equal(smtp.inbox.length, 0);
      await sendMail(target, mail, { allowPlainLocal: true });
      assert.equal(smtp.inbox.length, 1);
    } finally {
      await new Promise<void>((r) => smtp.server.close(() => r()));
    }
  });
});
