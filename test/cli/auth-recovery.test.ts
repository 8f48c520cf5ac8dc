/**
 * `cloister auth recovery start|confirm|status|cancel|complete` and the SDK's recovery calls
 * (src/cli/auth.ts, src/client/auth) against a listening service with the real enclave: the
 * account has TOTP, so a recovery is pending (AUTH_RECOVERY_DELAY_SECONDS=0: completable at
 * once). The CLI's --json output and the SDK's answers are checked at each step: start (always
 * accepted), confirm (pending, with the completion code), status (from a session), cancel,
 * complete (a wrong completion code refused, the right one sets the new password).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TOTP, URI } from 'otpauth';
import { AuthApiError, authClient } from '../../src/client/index.js';
import { mailedCode } from '../helpers/mail.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { runCli } from './run.js';

const PASSWORD = 'a long enough password';
const NEW_PASSWORD = 'recovered by the cli 9Kx';

describe(
  'cloister auth recovery and the SDK against a real service',
  { concurrency: false },
  () => {
    let ts: TestService;
    let url = '';
    let trust: string[] = [];
    let config = '';

    before(async () => {
      ts = await startTestService('pglite', {
        AUTH_LOGIN_MAX_PER_IP: '100000',
        AUTH_REGISTER_MAX_PER_IP: '100000',
        AUTH_RECOVERY_DELAY_SECONDS: '0',
      });
      await ts.service.app.listen({ port: 0, host: '127.0.0.1' });
      url = `http://127.0.0.1:${(ts.service.app.server.address() as AddressInfo).port}`;
      trust = ['--expect-measurement', ts.measurement, '--trust-simulated-key', ts.vendorKey];
      config = mkdtempSync(join(tmpdir(), 'cloister-xdg-'));
    });
    after(async () => ts?.stop());

    /** `cloister auth recovery ... --json`: exit code and the parsed JSON on stdout. */
    async function cli(args: string[], env: Record<string, string> = {}) {
      const r = await runCli(['auth', 'recovery', ...args, '--url', url, '--json'], {
        ...process.env,
        CLOISTER_ACCESS_TOKEN: '',
        XDG_CONFIG_HOME: config,
        ...env,
      });
      return {
        ...r,
        json: r.code === 0 ? (JSON.parse(r.stdout) as Record<string, unknown>) : null,
      };
    }
    /** The newest recovery code mailed to `email`; the mail is removed (a later one is new). */
    async function takeCode(email: string): Promise<string> {
      const code = await mailedCode(ts.dataDir, /account recovery code is (\d{6})/, email);
      rmSync(join(ts.dataDir, 'mail'), { recursive: true, force: true });
      return code;
    }
    /** Register, log in, enrol and confirm TOTP: a session token and the TOTP generator. */
    async function accountWithTotp(email: string) {
      const reg = await fetch(`${url}/auth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email, password: PASSWORD }),
      });
      assert.equal(reg.status, 201);
      const anon = authClient({ baseUrl: url });
      const token = (await anon.login(email, PASSWORD)).access_token;
      const me = authClient({ baseUrl: url, accessToken: token });
      const totp = URI.parse((await me.totpEnroll(email)).otpauth_uri) as TOTP;
      await me.totpConfirm(totp.generate());
      return { token, totp };
    }
    /** A fresh session with password and TOTP (the next 30 s step: once per account). */
    async function session(email: string, password: string, totp: TOTP): Promise<string> {
      const code = totp.generate({ timestamp: Date.now() + 30_000 });
      return (await authClient({ baseUrl: url }).login(email, password, { totp_code: code }))
        .access_token;
    }

    it('CLI: start, confirm, status and cancel; SDK: start, confirm, status; CLI: complete', async () => {
      const email = 'cli-recovery@example.com';
      const { totp } = await accountWithTotp(email);

      const start = await cli(['start', '--email', email]);
      assert.equal(start.code, 0, start.stderr);
      assert.deepEqual(start.json, { accepted: true });
      const confirm = await cli(
        ['confirm', '--email', email, '--code', await takeCode(email), ...trust],
        {
          CLOISTER_PASSWORD: NEW_PASSWORD,
        },
      );
      assert.equal(confirm.code, 0, confirm.stderr);
      assert.equal(confirm.json!.status, 'pending');
      assert.ok(!Number.isNaN(Date.parse(confirm.json!.unlock_at as string)));
      assert.match(confirm.json!.completion_code as string, /^[A-Za-z0-9_-]{22}$/);

      const token = await session(email, PASSWORD, totp);
      const status = await cli(['status'], { CLOISTER_ACCESS_TOKEN: token });
      assert.equal(status.code, 0, status.stderr);
      assert.deepEqual(status.json, {
        pending: { unlock_at: confirm.json!.unlock_at, can_complete: true },
      });
      const cancel = await cli(['cancel'], { CLOISTER_ACCESS_TOKEN: token });
      assert.equal(cancel.code, 0, cancel.stderr);
      assert.deepEqual(cancel.json, { success: true });
      assert.deepEqual((await cli(['status'], { CLOISTER_ACCESS_TOKEN: token })).json, {
        pending: null,
      });
      // The cancelled recovery's completion code no longer completes anything.
      const stale = await cli([
        'complete',
        '--email',
        email,
        '--completion-code',
        confirm.json!.completion_code as string,
      ]);
      assert.equal(stale.code, 1);
      assert.match(stale.stderr, /409 AUTH_RECOVERY_INVALID/);

      // The SDK: start, confirm, status.
      const anon = authClient({ baseUrl: url });
      assert.deepEqual(await anon.recoveryStart(email), { accepted: true });
      const pending = await anon.recoveryConfirm(email, await takeCode(email), {
        password: NEW_PASSWORD,
      });
      assert.equal(pending.status, 'pending');
      assert.match(pending.completion_code!, /^[A-Za-z0-9_-]{22}$/);
      const me = authClient({ baseUrl: url, accessToken: token });
      assert.deepEqual(await me.recoveryStatus(), {
        pending: { unlock_at: pending.unlock_at, can_complete: true },
      });

      // The CLI completes: a made-up code is refused, the right one sets the new password.
      const wrong = await cli(['complete', '--email', email, '--completion-code', 'A'.repeat(22)]);
      assert.equal(wrong.code, 1);
      assert.match(wrong.stderr, /409 AUTH_RECOVERY_INVALID/);
      const missing = await cli(['complete', '--email', email]);
      assert.equal(missing.code, 2, 'a usage error without --completion-code');
      const done = await cli([
        'complete',
        '--email',
        email,
        '--completion-code',
        pending.completion_code!,
      ]);
      assert.equal(done.code, 0, done.stderr);
      assert.deepEqual(done.json, { success: true });
      // TOTP went with the recovery: the new password alone logs in.
      assert.ok((await anon.login(email, NEW_PASSWORD)).access_token);
    });

    it('SDK: cancel, and complete (a wrong code is an AuthApiError)', async () => {
      const email = 'sdk-recovery@example.com';
      const { totp } = await accountWithTotp(email);
      const anon = authClient({ baseUrl: url });
      await anon.recoveryStart(email);
      await anon.recoveryConfirm(email, await takeCode(email), { password: NEW_PASSWORD });
      const me = authClient({ baseUrl: url, accessToken: await session(email, PASSWORD, totp) });
      assert.deepEqual(await me.recoveryCancel(), { success: true });
      assert.deepEqual(await me.recoveryStatus(), { pending: null });
      await assert.rejects(me.recoveryCancel(), (e: unknown) => {
        assert.ok(e instanceof AuthApiError);
        assert.equal(e.code, 'AUTH_RECOVERY_NOT_FOUND');
        return true;
      });

      const start = await cli(['start', '--email', email]);
      assert.equal(start.code, 0, start.stderr);
      const confirm = await cli(
        ['confirm', '--email', email, '--code', await takeCode(email), ...trust],
        {
          CLOISTER_PASSWORD: NEW_PASSWORD,
        },
      );
      assert.equal(confirm.json!.status, 'pending', confirm.stderr);
      await assert.rejects(anon.recoveryComplete(email, 'B'.repeat(22)), (e: unknown) => {
        assert.ok(e instanceof AuthApiError);
        assert.equal(e.code, 'AUTH_RECOVERY_INVALID');
        return true;
      });
      assert.deepEqual(
        await anon.recoveryComplete(email, confirm.json!.completion_code as string),
        { success: true },
      );
      assert.ok((await anon.login(email, NEW_PASSWORD)).access_token);
    });

    it('cloister login takes the TOTP code, and warns of a pending recovery', async () => {
      const email = 'cli-login-totp@example.com';
      const { totp } = await accountWithTotp(email);
      const login = (extra: string[]) =>
        runCli(['login', '--email', email, '--url', url, ...trust, ...extra], {
          ...process.env,
          CLOISTER_ACCESS_TOKEN: '',
          XDG_CONFIG_HOME: config,
          CLOISTER_PASSWORD: PASSWORD,
        });
      // Without the code the enclave asks for it; the CLI names the option.
      const bare = await login([]);
      assert.equal(bare.code, 1);
      assert.match(bare.stderr, /AUTH_MFA_REQUIRED/);
      assert.equal((await login(['--totp-code', '123456', '--recovery-code', 'x'])).code, 2);

      assert.equal((await cli(['start', '--email', email])).code, 0);
      const confirm = await cli(
        ['confirm', '--email', email, '--code', await takeCode(email), ...trust],
        {
          CLOISTER_PASSWORD: NEW_PASSWORD,
        },
      );
      assert.equal(confirm.json!.status, 'pending');

      // The next 30 s step (the current one went to the enrolment's confirmation).
      const ok = await login(['--totp-code', totp.generate({ timestamp: Date.now() + 30_000 })]);
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /^logged in to /);
      assert.match(
        ok.stderr,
        /WARNING: an account recovery is pending: .* run cloister auth recovery cancel/,
      );
    });
  },
);
