/**
 * `cloister auth register` and `cloister auth confirm` against a real service with email
 * confirmation on (AUTH_REQUIRE_EMAIL_CONFIRMATION, as every deployment with SMTP_URL): register
 * answers accepted and says what to run next; confirm sends the mailed code with the
 * registration's password sealed to the attested enclave (an envelope: the host never sees it),
 * and then the account logs in. The right code with another password confirms nothing.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { mailedCode } from '../helpers/mail.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { runCli } from './run.js';

const PASSWORD = 'a long enough cli password 7Qz';

describe('cloister auth register + auth confirm (confirmation on)', { concurrency: false }, () => {
  let ts: TestService;
  let url = '';
  let trust: string[] = [];
  let config = '';
  const bodies: string[] = [];

  before(async () => {
    ts = await startTestService('pglite', {
      AUTH_REQUIRE_EMAIL_CONFIRMATION: 'true',
      AUTH_LOGIN_MAX_PER_IP: '100000',
      AUTH_REGISTER_MAX_PER_IP: '100000',
    });
    // What the host receives on the confirmation route: never the plain password.
    ts.service.app.addHook('preHandler', async (req) => {
      if (req.url === '/auth/register/confirm') bodies.push(JSON.stringify(req.body));
    });
    await ts.service.app.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(ts.service.app.server.address() as AddressInfo).port}`;
    trust = ['--expect-measurement', ts.measurement, '--trust-simulated-key', ts.vendorKey];
    config = mkdtempSync(join(tmpdir(), 'cloister-xdg-'));
  });
  after(async () => ts?.stop());

  const cli = (args: string[], password: string) =>
    runCli([...args, '--url', url, ...trust], {
      ...process.env,
      CLOISTER_ACCESS_TOKEN: '',
      XDG_CONFIG_HOME: config,
      CLOISTER_PASSWORD: password,
    });

  it('register says to confirm; confirm (sealed password) activates the account; login works', async () => {
    const email = `cli-confirm-${Date.now()}@example.com`;
    const reg = await cli(['auth', 'register', '--email', email], PASSWORD);
    assert.equal(reg.code, 0, reg.stderr);
    assert.match(reg.stdout, /confirmation code was mailed/);
    assert.match(reg.stdout, new RegExp(`cloister auth confirm --email ${email} --code`));
    const code = await mailedCode(ts.dataDir, /confirmation code is (\d{6})/, email);

    // Pending: no login yet.
    assert.equal((await cli(['auth', 'login', '--email', email], PASSWORD)).code, 1);

    const ok = await cli(['auth', 'confirm', '--email', email, '--code', code, '--json'], PASSWORD);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match((JSON.parse(ok.stdout) as { user_id: string }).user_id, /^[0-9a-f-]{36}$/);

    const login = await cli(['auth', 'login', '--email', email, '--json'], PASSWORD);
    assert.equal(login.code, 0, login.stderr);
    assert.ok((JSON.parse(login.stdout) as { access_token?: string }).access_token);

    // The confirmation carried an envelope, never the password.
    assert.equal(bodies.length, 1);
    assert.ok(!bodies[0]!.includes(PASSWORD));
    assert.deepEqual(Object.keys(JSON.parse(bodies[0]!) as object).sort(), [
      'code',
      'email',
      'envelope',
    ]);
  });

  it('the right code with another password confirms nothing (the enclave checks it)', async () => {
    const email = `cli-confirm-wrong-${Date.now()}@example.com`;
    assert.equal((await cli(['auth', 'register', '--email', email], PASSWORD)).code, 0);
    const code = await mailedCode(ts.dataDir, /confirmation code is (\d{6})/, email);
    const wrong = await cli(
      ['auth', 'confirm', '--email', email, '--code', code],
      'not the registration password',
    );
    assert.equal(wrong.code, 1, wrong.stdout);
    assert.match(wrong.stderr, /AUTH_INVALID_CREDENTIALS/);
    // A public route's refusal is not about a missing login: no hint to log in.
    assert.doesNotMatch(wrong.stderr, /CLOISTER_ACCESS_TOKEN/);
    const login = await cli(['auth', 'login', '--email', email], PASSWORD);
    assert.equal(login.code, 1);
    assert.doesNotMatch(login.stderr, /CLOISTER_ACCESS_TOKEN/);
  });

  it('confirm without --code is a usage error', async () => {
    const r = await cli(['auth', 'confirm', '--email', 'x@example.com'], PASSWORD);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--code/);
  });
});
