/**
 * `cloister login` against a real service: the token pair is kept in the user's config folder
 * (0700 / 0600), later commands use the access token while it is valid and then trade the
 * refresh token for a new pair and store it, `cloister logout` ends the session at the service
 * and forgets it. CLOISTER_URL replaces --url. Within the step-up window of `cloister login` a
 * step-up-protected command passes on the stored login; past it the refusal says what to run,
 * and `auth totp step-up` on the stored login stores its pair (the step-up spends the old one).
 * And `cloister log monitor` waits out a 429 with Retry-After instead of exiting.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, mock } from 'node:test';
import { URI } from 'otpauth';
import { aggregatesSubject } from '../../src/protocol/aggregates.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { startForSubject } from '../helpers/start-for-subject.js';
import { runCli } from './run.js';

/** The service's step-up window; tests step past it by moving the service's clock. */
const STEP_UP_SECONDS = 300;

/** A proxy in front of the service at `target`; `intercept` answers a request itself (true). */
async function proxyTo(
  target: string,
  intercept: (req: IncomingMessage, res: ServerResponse) => boolean,
): Promise<{ proxy: Server; proxied: string }> {
  const proxy = createServer((req, res) => {
    if (intercept(req, res)) return;
    void fetch(`${target}${req.url}`, { headers: { accept: 'application/json' } }).then(
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
  return { proxy, proxied: `http://127.0.0.1:${(proxy.address() as { port: number }).port}` };
}

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
  type Entry = { refresh_token: string; access_token?: string; access_expires_at?: string };
  const entry = () => (JSON.parse(readFileSync(file(), 'utf8')) as Record<string, Entry>)[url]!;
  const stored = () => entry().refresh_token;
  /** Runs `fn` with the service's clock (this process's Date.now) `seconds` ahead. */
  const later = async <T>(seconds: number, fn: () => Promise<T>): Promise<T> => {
    const realNow = Date.now.bind(Date);
    const shifted = mock.method(Date, 'now', () => realNow() + seconds * 1000);
    try {
      return await fn();
    } finally {
      shifted.mock.restore();
    }
  };

  before(async () => {
    ts = await startTestService('pglite', {
      AUTH_DISABLED_FOR_DEVELOPMENT: 'false',
      AUTH_STEP_UP_SECONDS: String(STEP_UP_SECONDS),
    });
    await ts.service.app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(ts.service.app.server.address() as { port: number }).port}`;
    config = mkdtempSync(join(tmpdir(), 'cloister-xdg-'));
    trust = ['--expect-measurement', ts.measurement, '--trust-simulated-key', ts.vendorKey];
  });
  after(async () => ts?.stop());

  it('login keeps the token pair (0600 in a 0700 folder); later commands use it, then refresh and store the new pair; logout ends it', async () => {
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
    assert.ok(!login.stdout.includes(entry().access_token!), 'the access token is not printed');
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
    // The login's access token is still valid: used as it is, nothing refreshed.
    assert.equal(stored(), first, 'no refresh while the stored access token is valid');

    // An access token about to expire is not used: the command refreshes and stores the new pair.
    const { access_token: loginToken } = entry();
    const store = JSON.parse(readFileSync(file(), 'utf8')) as Record<string, Entry>;
    store[url]!.access_expires_at = new Date(Date.now() + 30_000).toISOString();
    writeFileSync(file(), JSON.stringify(store));
    const status = await cli(['status', '--session', session_id]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^status: active$/m);
    assert.match(status.stdout, /^expires_at: \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC$/m);
    assert.notEqual(stored(), first, 'the rotated refresh token was stored');
    assert.notEqual(entry().access_token, loginToken, 'and the new access token');
    assert.ok(Date.parse(entry().access_expires_at!) > Date.now() + 60_000);
    assert.equal(statSync(file()).mode & 0o777, 0o600);

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

    // A stored access token the service refuses (here one whose signature is not the enclave's)
    // is not silently replaced: the refusal says to log in again.
    const [head, body] = loginToken!.split('.');
    writeFileSync(
      file(),
      JSON.stringify({
        [url]: {
          refresh_token: spent,
          access_token: `${head}.${body}.${'A'.repeat(86)}`,
          access_expires_at: new Date(Date.now() + 600_000).toISOString(),
          saved_at: new Date().toISOString(),
        },
      }),
    );
    const forged = await cli(['status', '--session', session_id]);
    assert.equal(forged.code, 1);
    assert.match(
      forged.stderr,
      /401 AUTH_TOKEN_INVALID.*the stored login was refused: run cloister login again/,
    );
  });

  it('a step-up-protected command passes just after cloister login; past the window the refusal says what to run', async () => {
    const totpEmail = `cli-step-up-${Date.now()}@example.com`;
    const withPassword = { CLOISTER_PASSWORD: password };
    assert.equal(
      (await cli(['auth', 'register', '--email', totpEmail, ...trust], withPassword)).code,
      0,
    );
    const login = await cli(['login', '--email', totpEmail, ...trust], withPassword);
    assert.equal(login.code, 0, login.stderr);
    // Just after the login: its access token carries auth_time, no CLOISTER_ACCESS_TOKEN needed.
    const enrolled = await cli(['auth', 'totp', 'enroll', '--json']);
    assert.equal(enrolled.code, 0, enrolled.stderr);
    const uri = (JSON.parse(enrolled.stdout) as { otpauth_uri: string }).otpauth_uri;
    const confirmed = await cli([
      'auth',
      'totp',
      'confirm',
      '--code',
      URI.parse(uri).generate(),
      '--json',
    ]);
    assert.equal(confirmed.code, 0, confirmed.stderr);
    const codes = (JSON.parse(confirmed.stdout) as { recovery_codes: string[] }).recovery_codes;
    const mfa = await cli(
      ['login', '--email', totpEmail, '--recovery-code', codes[0]!, ...trust],
      withPassword,
    );
    assert.equal(mfa.code, 0, mfa.stderr);

    // Past the window (the service's clock ahead of it, the token still valid): the refusal
    // names the TOTP step-up, which the account has.
    const old = await later(STEP_UP_SECONDS + 1, () => cli(['auth', 'totp', 'remove']));
    assert.equal(old.code, 1);
    assert.match(
      old.stderr,
      /401 STEP_UP_REQUIRED.*older than the step-up window.*cloister auth totp step-up --code C/,
    );
    // The step-up ends the session's earlier refresh tokens, the stored one too: the CLI keeps
    // the new pair, whose access token passes the step-up.
    const stepped = await cli(['auth', 'totp', 'step-up', '--recovery-code', codes[1]!, '--json']);
    assert.equal(stepped.code, 0, stepped.stderr);
    const pair = JSON.parse(stepped.stdout) as { access_token: string; refresh_token: string };
    assert.equal(stored(), pair.refresh_token);
    assert.equal(entry().access_token, pair.access_token);
    const removed = await cli(['auth', 'totp', 'remove']);
    assert.equal(removed.code, 0, removed.stderr);

    // Without a second factor, past the window the refusal names a new login with the email.
    const plain = await later(STEP_UP_SECONDS + 1, () => cli(['auth', 'totp', 'enroll']));
    assert.equal(plain.code, 1);
    assert.match(
      plain.stderr,
      new RegExp(
        `401 STEP_UP_REQUIRED.*run cloister login --email ${totpEmail.replace(/\./g, '\\.')}, then retry`,
      ),
    );
    const after = await cli(['sessions']);
    assert.equal(after.code, 0, after.stderr);
  });

  it('log monitor waits out 429 + Retry-After instead of exiting', async () => {
    // A proxy in front of the service that answers the first checkpoint request with 429.
    let refusedOnce = false;
    const { proxy, proxied } = await proxyTo(url, (req, res) => {
      if (refusedOnce || !req.url?.includes('checkpoint')) return false;
      refusedOnce = true;
      res.writeHead(429, { 'retry-after': '1', 'content-type': 'application/json' });
      res.end('{"error":{"code":"RATE_LIMITED","message":"slow down"}}');
      return true;
    });
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

  it(
    'second review: log monitor gives up on a stalled answer and says so, then checks again',
    {
      timeout: 120_000,
    },
    async () => {
      // A proxy whose first checkpoint answer starts and never ends (a host dripping nothing).
      let stalled: ServerResponse | undefined;
      const { proxy, proxied } = await proxyTo(url, (req, res) => {
        if (stalled || !req.url?.includes('checkpoint')) return false;
        stalled = res;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"');
        return true;
      });
      try {
        const r = await cli(['log', 'monitor', '--once', '--interval', '1', ...trust], {
          CLOISTER_URL: proxied,
        });
        assert.equal(r.code, 0, r.stderr);
        assert.ok(stalled);
        assert.match(r.stderr, /log check failed \([^)]*timeout[^)]*\); next try in 1 s/);
        assert.match(r.stdout, /^ok: size \d+ root /);
      } finally {
        stalled?.destroy();
        proxy.close();
      }
    },
  );
});
