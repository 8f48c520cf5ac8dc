/**
 * `cloister auth methods link-email|link-password` and `cloister auth password change` against a
 * listening service, and the SDK's linking, password-change and passkey step-up calls: an
 * email-code account links a second address (mailed link code), a password (CLOISTER_PASSWORD
 * encrypted to the attested enclave), changes it; the SDK sees the same through `authClient`.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { AuthApiError, authClient } from '../../src/client/index.js';
import { mailedCode } from '../helpers/mail.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { cliCommand } from './run.js';

const run = promisify(execFile);

describe('cloister auth methods link-* and auth password change; SDK linking', () => {
  let ts: TestService;
  let url = '';
  let trust: string[] = [];
  before(async () => {
    ts = await startTestService('pglite', {
      AUTH_LOGIN_MAX_PER_IP: '100000',
      AUTH_REGISTER_MAX_PER_IP: '100000',
    });
    await ts.service.app.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(ts.service.app.server.address() as AddressInfo).port}`;
    trust = ['--expect-measurement', ts.measurement, '--trust-simulated-key', ts.vendorKey];
  });
  after(async () => ts?.stop());

  const cli = (args: string[], token: string, password?: string) =>
    run(process.execPath, [...cliCommand(), ...args, '--url', url, '--json'], {
      encoding: 'utf8',
      env: {
        ...process.env,
        CLOISTER_ACCESS_TOKEN: token,
        ...(password ? { CLOISTER_PASSWORD: password } : {}),
      },
    });

  it('links an email and a password with the CLI, then changes the password', async () => {
    const email = 'cli-link@example.com';
    const anon = authClient({ baseUrl: url });
    await anon.otpStart(email);
    const first = await anon.otpVerify(
      email,
      await mailedCode(ts.dataDir, /sign-in code is (\d{6})/, email),
    );
    const token = first.access_token;

    const second = 'cli-second@example.com';
    const started = JSON.parse(
      (await cli(['auth', 'methods', 'link-email', '--email', second], token)).stdout,
    ) as { accepted: boolean };
    assert.equal(started.accepted, true);
    const code = await mailedCode(ts.dataDir, /link this address to your account is (\d{6})/);
    const linked = JSON.parse(
      (await cli(['auth', 'methods', 'link-email', '--email', second, '--code', code], token))
        .stdout,
    ) as { id: string };
    assert.match(linked.id, /^[0-9a-f-]{36}$/);

    const password = 'a password linked by the cli';
    const pw = JSON.parse(
      (await cli(['auth', 'methods', 'link-password', '--email', email, ...trust], token, password))
        .stdout,
    ) as { id: string };
    assert.equal(pw.id, 'password');
    assert.equal((await anon.login(email, password)).user_id, first.user_id);

    const changedTo = 'a password changed by the cli';
    const changed = JSON.parse(
      (await cli(['auth', 'password', 'change', '--email', email, ...trust], token, changedTo))
        .stdout,
    ) as { success: boolean; revoked: number };
    assert.equal(changed.success, true);
    assert.equal(changed.revoked, 1); // the session of the password login above
    assert.equal((await anon.login(email, changedTo)).user_id, first.user_id);
    await assert.rejects(anon.login(email, password), (e: unknown) => {
      assert.ok(e instanceof AuthApiError);
      assert.equal(e.code, 'AUTH_INVALID_CREDENTIALS');
      return true;
    });
    const kinds = (await authClient({ baseUrl: url, accessToken: token }).methods()).methods.map(
      (m) => m.kind,
    );
    assert.deepEqual(kinds.sort(), ['email', 'email', 'password']);
  });

  it('the SDK links an email and changes a password; passkey step-up needs a passkey', async () => {
    const email = 'sdk-link@example.com';
    const anon = authClient({ baseUrl: url });
    await anon.otpStart(email);
    const first = await anon.otpVerify(
      email,
      await mailedCode(ts.dataDir, /sign-in code is (\d{6})/, email),
    );
    const me = authClient({ baseUrl: url, accessToken: first.access_token });
    const other = 'sdk-other@example.com';
    await me.linkEmailStart(other);
    const code = await mailedCode(
      ts.dataDir,
      /link this address to your account is (\d{6})/,
      other,
    );
    assert.ok((await me.linkEmail(other, code)).id);
    assert.equal((await me.linkPassword('an sdk linked password')).id, 'password');
    assert.equal((await me.changePassword('an sdk changed password')).success, true);
    await assert.rejects(me.passkeyStepUpOptions(), (e: unknown) => {
      assert.ok(e instanceof AuthApiError);
      assert.equal(e.code, 'AUTH_METHOD_NOT_FOUND');
      return true;
    });
  });
});
