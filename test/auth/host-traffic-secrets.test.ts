/**
 * The outside check of issue 15: search the database, the logs and the host's traffic for the
 * mailed codes and the TOTP secret. The service runs with EGRESS_MODE=tunnel, so the enclave's
 * SMTP connection goes through the host's CONNECT proxy; the SMTP server (smtp-server, in this
 * process) speaks implicit TLS (smtps://) with a throwaway CA the enclave trusts
 * (EGRESS_CA_FILE). Between the host's proxy and the server sits a relay that records every
 * byte both ways: the bytes the host relays for the tunnel, unchanged. The host<->enclave RPC
 * is tapped at the host's enclave client (every call's params and result, as the host holds
 * them). Flows: email-code login, registration confirmed by mail, TOTP enrol + confirm + login,
 * account recovery start and confirm.
 *
 * What must hold: no code, completion code or TOTP secret in the relayed egress bytes, the
 * database dump or the host's log lines; no mailed code in anything the enclave hands the host.
 * Positive controls: every code is in the mail the server received (so the search would find
 * it in clear), the relay saw the mails' bytes, and the tunnel was used.
 *
 * Known limit, asserted as such (docs/protocol/auth.md; SECURITY.md residuals): TLS from the
 * user ends at the host, so a code the user submits crosses the host and is in the RPC params
 * at verify time, and the TOTP secret is in the enrolment result the host relays to the user.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TOTP, URI } from 'otpauth';
import { SMTPServer } from 'smtp-server';
import { createThrowawayPki } from '../../devtools/fake-exchange/tls.js';
import { dumpPublicSchema } from '../helpers/security-util.js';
import { startTestService, type TestService } from '../helpers/service.js';

interface Received {
  to: string;
  raw: string;
}

/** A TCP relay to `port` that keeps every byte both ways. */
function startRelay(port: number): Promise<{ server: Server; port: number; bytes: Buffer[] }> {
  const bytes: Buffer[] = [];
  const server = createServer((down) => {
    const up = connect(port, '127.0.0.1');
    down.on('data', (d: Buffer) => bytes.push(Buffer.from(d)));
    up.on('data', (d: Buffer) => bytes.push(Buffer.from(d)));
    down.pipe(up).pipe(down);
    down.on('error', () => up.destroy());
    up.on('error', () => down.destroy());
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, port: (server.address() as AddressInfo).port, bytes }),
    ),
  );
}

describe("planted-secret search of the host's stores and relayed traffic", () => {
  let ts: TestService;
  let smtp: SMTPServer;
  let relay: Awaited<ReturnType<typeof startRelay>>;
  let caDir: string;
  const inbox: Received[] = [];
  const rpc: { method: string; params: string; result: string }[] = [];
  const mailed: string[] = []; // codes the enclave mailed
  const secrets: string[] = []; // TOTP secrets and completion codes
  const post = (url: string, payload: Record<string, unknown>, token?: string) =>
    ts.service.app.inject({
      method: 'POST',
      url,
      payload,
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
  /** The code in the next mail to `to` (the routes answer before the mail is sent). */
  async function nextCode(to: string, what: RegExp): Promise<string> {
    for (let i = 0; i < 1500; i++) {
      const m = inbox.findIndex((x) => x.to === to && what.test(x.raw));
      if (m >= 0) {
        const raw = inbox.splice(m, 1)[0]!.raw;
        const code = /is (\d{6})/.exec(raw)![1]!;
        mailed.push(code);
        return code;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`no mail to ${to} matching ${what}`);
  }
  const received: string[] = [];

  before(async () => {
    const pki = await createThrowawayPki(['localhost']);
    caDir = mkdtempSync(join(tmpdir(), 'cloister-smtp-ca-'));
    writeFileSync(join(caDir, 'ca.pem'), pki.caPem);
    smtp = new SMTPServer({
      secure: true,
      key: pki.keyPem,
      cert: pki.certPem,
      authOptional: true,
      logger: false,
      onData(stream, session, cb) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          const raw = Buffer.concat(chunks).toString('utf8');
          received.push(raw);
          inbox.push({ to: session.envelope.rcptTo.map((r) => r.address).join(','), raw });
          cb();
        });
      },
    });
    const smtpPort = await new Promise<number>((resolve) =>
      smtp.listen(0, '127.0.0.1', () => resolve((smtp.server.address() as AddressInfo).port)),
    );
    relay = await startRelay(smtpPort);
    ts = await startTestService('pglite', {
      EGRESS_MODE: 'tunnel',
      EGRESS_CA_FILE: join(caDir, 'ca.pem'),
      SMTP_URL: `smtps://127.0.0.1:${relay.port}`,
      MAIL_FROM: 'login@cloister.test',
      AUTH_LOGIN_MAX_PER_IP: '100000',
      AUTH_REGISTER_MAX_PER_IP: '100000',
    });
    // The host<->enclave channel as the host holds it: every call's params and result.
    const enclave = ts.service.enclave as unknown as {
      call: (m: string, p: unknown) => Promise<unknown>;
    };
    const original = enclave.call;
    enclave.call = async function (this: unknown, method: string, params: unknown) {
      const result = await original.call(this, method, params);
      rpc.push({ method, params: JSON.stringify(params), result: JSON.stringify(result) });
      return result;
    };
  });
  after(async () => {
    await ts?.stop();
    await new Promise<void>((r) => (smtp ? smtp.close(() => r()) : r()));
    relay?.server.close();
    if (caDir) rmSync(caDir, { recursive: true, force: true });
  });

  it('email-code login: the code comes by mail through the tunnel', async () => {
    const email = 'traffic-otp@example.com';
    assert.equal((await post('/auth/otp/start', { email })).statusCode, 202);
    const code = await nextCode(email, /sign-in code/);
    const r = await post('/auth/otp/verify', { email, code });
    assert.equal(r.statusCode, 200, r.body);
  });

  it('registration by mail, TOTP enrol + confirm + login', async () => {
    const creds = { email: 'traffic-totp@example.com', password: 'a long enough password' };
    assert.equal((await post('/auth/register', creds)).statusCode, 202);
    const confirm = await post('/auth/register/confirm', {
      email: creds.email,
      code: await nextCode(creds.email, /confirmation code/),
      password: creds.password,
    });
    assert.equal(confirm.statusCode, 200, confirm.body);
    const token = (await post('/auth/login', creds)).json().access_token as string;
    const enrol = await post('/auth/totp/enroll', {}, token);
    assert.equal(enrol.statusCode, 201, enrol.body);
    const totp = URI.parse(enrol.json().otpauth_uri) as TOTP;
    secrets.push(
      totp.secret.base32,
      totp.secret.hex,
      Buffer.from(totp.secret.bytes).toString('base64'),
    );
    const ok = await post('/auth/totp/confirm', { code: totp.generate() }, token);
    assert.equal(ok.statusCode, 200, ok.body);
    const login = await post('/auth/login', {
      ...creds,
      totp_code: totp.generate({ timestamp: Date.now() + 30_000 }),
    });
    assert.equal(login.statusCode, 200, login.body);
  });

  it('account recovery start and confirm (pending: the account has TOTP)', async () => {
    const email = 'traffic-totp@example.com';
    assert.equal((await post('/auth/recovery/start', { email })).statusCode, 202);
    const r = await post('/auth/recovery/confirm', {
      email,
      code: await nextCode(email, /account recovery code/),
      password: 'recovered passphrase 7Q2x',
    });
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(r.json().status, 'pending');
    secrets.push(r.json().completion_code as string);
  });

  it('no code or secret in the relayed egress bytes, the database or the logs', async () => {
    assert.equal(mailed.length, 3);
    assert.equal(secrets.length, 4);
    // Positive controls: the codes are in the mails as received, the relay carried the mails,
    // and the enclave reached the server through the host's tunnel.
    for (const code of mailed) assert.ok(received.some((m) => m.includes(code)));
    const egress = Buffer.concat(relay.bytes);
    assert.ok(egress.length > 2000, 'the relay saw the SMTP conversations');
    assert.equal(egress[0], 0x16, 'TLS from the first byte (a handshake record)');
    assert.ok(ts.service.egressProxy!.stats().tunnelsOpened >= 3, 'mail went through the tunnel');
    const dump = (await dumpPublicSchema(ts.service.db))
      .flatMap((d) => d.rows.map((r) => `${d.table}: ${r}`))
      .join('\n');
    const logs = ts.logs.join('\n');
    assert.ok(dump.includes('traffic-totp@example.com')); // positive control: rows to search
    for (const s of [...mailed, ...secrets]) {
      const re = new RegExp(`(?<![0-9A-Za-z])${s.replace(/[+/=]/g, '\\$&')}(?![0-9A-Za-z])`);
      assert.ok(!egress.includes(Buffer.from(s, 'latin1')), `${s} in the relayed egress bytes`);
      assert.ok(!re.test(dump), `${s} in the database`);
      assert.ok(!re.test(logs), `${s} in the logs`);
    }
  });

  it('the enclave hands the host no mailed code; what the user sends crosses the host (known limit)', () => {
    const starts = rpc.filter((c) => c.method === 'auth.otp_start');
    assert.equal(starts.length, 3);
    for (const code of mailed) {
      for (const c of rpc) assert.ok(!c.result.includes(code), `${code} in ${c.method}'s result`);
      for (const c of starts) assert.ok(!c.params.includes(code));
    }
    // The known limit: TLS from the user ends at the host, so the submitted code is in the
    // params of the call that checks it, and the TOTP secret in the enrolment's result.
    const verify = rpc.find((c) => c.method === 'auth.otp_verify')!;
    assert.ok(verify.params.includes(mailed[0]!));
    const enrol = rpc.find((c) => c.method === 'auth.totp_enroll')!;
    assert.ok(enrol.result.includes(secrets[0]!));
  });
});
