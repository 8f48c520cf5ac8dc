/**
 * `cloister login` against a real service: the refresh token is kept in the user's config
 * folder (0700 / 0600), later commands trade it for an access token and store the rotated one,
 * `cloister logout` ends the session at the service and forgets it. CLOISTER_URL replaces --url.
 * A step-up refusal of the stored login's (refreshed) token says what passes, and `auth totp
 * step-up` on the stored login stores the new refresh token (the step-up spends the old one).
 * And `cloister log monitor` waits out a 429 with Retry-After instead of exiting.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { URI } from 'otpauth';
import { aggregatesSubject } from '../../src/protocol/aggregates.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { startForSubject } from '../helpers/start-for-subject.js';
import { runCli } from './run.js';

describe('cloister login / logout (real service)', { concurrency: false }, () => {
  let ts: TestService;
  let url: string;
  let config: string;
  let trust: string[];
  const email = `cli-login-${Date.now()}@example.com`;
  const password = 'a long enough cli password 42';

  const cli = (args: string[], env: Record<string, string> = {}) =>
    runCli(args, {
      ...process.env,
      CLOISTER_ACCESS_TOKEN: '',
      CLOISTER_URL: url,
      XDG_CONFIG_HOME: config,
      ...env,
    });
  const file = () => join(config, 'cloister', 'credentials.json');
  const stored = () =>
    (JSON.parse(readFileSync(file(), 'utf8')) as Record<string, { refresh_token: string }>)[url]!
      .refresh_token;

  before(async () => {
    ts = await startTestService('pglite', { AUTH_DISABLED_FOR_DEVELOPMENT: 'false' });
    await ts.service.app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(ts.service.app.server.address() as { port: number }).port}`;
    config = mkdtempSync(join(tmpdir(), 'cloister-xdg-'));
    trust = ['--expect-measurement', ts.measurement, '--trust-simulated-key', ts.vendorKey];
  });
  after(async () => ts?.stop());

  it('login keeps a refresh token (0600 in a 0700 folder); later commands use and rotate it; logout ends it', async () => {
    const reg = await cli(['auth', 'register', '--email', email, ...trust], {
      CLOISTER_PASSWORD: password,
    });
    assert.equal(reg.code, 0, reg.stderr);

    // Without a login, a protected route names the way to log in.
    const before = await cli(['status', '--session', '00000000-0000-4000-8000-000000000000']);
    assert.equal(before.code, 1);
    assert.match(before.stderr, /401 AUTH_REQUIRED.*cloister login/);

    const login = await cli(['login', '--email', email, ...trust], { CLOISTER_PASSWORD: password });
    assert.equal(login.code, 0, login.stderr);
    assert.match(login.stdout, /logged in to .* until \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC/);
    assert.ok(!login.stdout.includes(stored()), 'the refresh token is not printed');
    assert.equal(statSync(join(config, 'cloister')).mode & 0o777, 0o700);
    assert.equal(statSync(file()).mode & 0o777, 0o600);
    const first = stored();

    const submit = await cli(
      ['submit', ...trust, '--exchange', 'binance', '--label', 'via-login', '--json'],
      { CLOISTER_API_KEY: 'k-login', CLOISTER_API_SECRET: 's-login-secret' },
    );
    assert.equal(submit.code, 0, submit.stderr);
    const { session_id } = JSON.parse(submit.stdout) as { session_id: string };
    // The CLI sealed the signed-in account as the key's owner: the enclave starts no job that
    // names another subject (what a host that moved the row to another user would ask).
    const user = (
      await ts.service.db.query<{ user_id: string }>('SELECT user_id FROM sessions WHERE id = $1', [
        session_id,
      ])
    ).rows[0]!.user_id;
    const other = aggregatesSubject({ userId: randomUUID() });
    assert.equal(await startForSubject(ts, session_id, other), 'CREDENTIAL_SUBJECT_MISMATCH');
    const own = aggregatesSubject({ userId: user });
    assert.equal(await startForSubject(ts, session_id, own), 'ok', "the owner's subject starts");
    const second = stored();
    assert.notEqual(second, first, 'the rotated refresh token was stored');

    const status = await cli(['status', '--session', session_id]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^status: active$/m);
    assert.match(status.stdout, /^expires_at: \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC$/m);
    assert.notEqual(stored(), second);

    const spent = stored();
    const out = await cli(['logout']);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /logged out of/);
    assert.ok(!(url in JSON.parse(readFileSync(file(), 'utf8'))), 'forgotten locally');
    // The session ended at the service too: the last refresh token no longer works.
    const refused = await fetch(`${url}/auth/refresh`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refresh_token: spent }),
    });
    assert.equal(refused.status, 401);
    const afterLogout = await cli(['status', '--session', session_id]);
    assert.equal(afterLogout.code, 1);
    assert.match(afterLogout.stderr, /cloister login/);
    assert.ok(existsSync(file()));
  });

  it("a step-up refusal of the stored login's token says what passes; auth totp step-up keeps the login", async () => {
    const totpEmail = `cli-step-up-${Date.now()}@example.com`;
    const withPassword = { CLOISTER_PASSWORD: password };
    assert.equal(
      (await cli(['auth', 'register', '--email', totpEmail, ...trust], withPassword)).code,
      0,
    );
    const login = await cli(['login', '--email', totpEmail, ...trust], withPassword);
    assert.equal(login.code, 0, login.stderr);
    // The stored login's tokens come from a refresh: no step-up, even at once, and it says why.
    const refused = await cli(['auth', 'totp', 'enroll']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /STEP_UP_REQUIRED.*never passes a step-up.*CLOISTER_ACCESS_TOKEN/);
    // The documented way: the access token of a fresh login.
    const fresh = await cli(
      ['auth', 'login', '--email', totpEmail, '--json', ...trust],
      withPassword,
    );
    const token = {
      CLOISTER_ACCESS_TOKEN: (JSON.parse(fresh.stdout) as { access_token: string }).access_token,
    };
    const enrolled = await cli(['auth', 'totp', 'enroll', '--json'], token);
    assert.equal(enrolled.code, 0, enrolled.stderr);
    const uri = (JSON.parse(enrolled.stdout) as { otpauth_uri: string }).otpauth_uri;
    const code = URI.parse(uri).generate();
    const confirmed = await cli(['auth', 'totp', 'confirm', '--code', code, '--json'], token);
    assert.equal(confirmed.code, 0, confirmed.stderr);
    const codes = (JSON.parse(confirmed.stdout) as { recovery_codes: string[] }).recovery_codes;
    const second = ['--recovery-code', codes[0]!];
    const mfa = await cli(['login', '--email', totpEmail, ...second, ...trust], withPassword);
    assert.equal(mfa.code, 0, mfa.stderr);
    // The step-up ends the session's earlier refresh tokens, the stored one too: the CLI keeps
    // the new one, so the login goes on.
    const stepped = await cli(['auth', 'totp', 'step-up', '--recovery-code', codes[1]!, '--json']);
    assert.equal(stepped.code, 0, stepped.stderr);
    assert.equal(stored(), (JSON.parse(stepped.stdout) as { refresh_token: string }).refresh_token);
    const after = await cli(['sessions']);
    assert.equal(after.code, 0, after.stderr);
  });

  it('log monitor waits out 429 + Retry-After instead of exiting', async () => {
    // A proxy in front of the service that answers the first checkpoint request with 429.
    let refusedOnce = false;
    const proxy: Server = createServer((req, res) => {
      if (!refusedOnce && req.url?.includes('checkpoint')) {
        refusedOnce = true;
        res.writeHead(429, { 'retry-after': '1', 'content-type': 'application/json' });
        res.end('{"error":{"code":"RATE_LIMITED","message":"slow down"}}');
        return;
      }
      void fetch(`${url}${req.url}`, { headers: { accept: 'application/json' } }).then(
        async (r) => {
          res.writeHead(r.status, {
            'content-type': r.headers.get('content-type') ?? 'text/plain',
          });
          res.end(Buffer.from(await r.arrayBuffer()));
        },
        () => res.destroy(),
      );
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const proxied = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
    try {
      const r = await cli(['log', 'monitor', '--once', ...trust], { CLOISTER_URL: proxied });
      assert.equal(r.code, 0, r.stderr);
      assert.ok(refusedOnce);
      assert.match(r.stderr, /429 from .*checkpoint.*; retrying in 1 s/);
      assert.match(r.stdout, /^ok: size \d+ root /);
    } finally {
      proxy.close();
    }
  });
});
