/**
 * The SDK's `authClient` and `cloister auth totp|passkey` against a listening service: enrol TOTP
 * with the SDK, confirm, see the password login ask for the second factor (AuthApiError
 * AUTH_MFA_REQUIRED) and pass with a code; step up with a recovery code through the CLI; the
 * CLI's `auth passkey` explains that passkeys need a browser and prints the login options.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { TOTP, URI } from 'otpauth';
import { AuthApiError, authClient } from '../../src/client/index.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { cliCommand } from './run.js';

const run = promisify(execFile);

describe('SDK authClient and cloister auth totp|passkey', () => {
  let ts: TestService;
  let url = '';
  before(async () => {
    ts = await startTestService('pglite', { AUTH_LOGIN_MAX_PER_IP: '100000' });
    await ts.service.app.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(ts.service.app.server.address() as AddressInfo).port}`;
  });
  after(async () => ts?.stop());

  const cli = (args: string[], token: string) =>
    run(process.execPath, [...cliCommand(), ...args, '--url', url, '--json'], {
      encoding: 'utf8',
      env: { ...process.env, CLOISTER_ACCESS_TOKEN: token },
    });

  it('enrols TOTP with the SDK, logs in with it, steps up with the CLI', async () => {
    const email = 'sdk-totp@example.com';
    const password = 'a long enough password';
    const anon = authClient({ baseUrl: url });
    assert.equal(
      (
        await fetch(`${url}/auth/register`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email, password }),
        })
      ).status,
      201,
    );
    const first = await anon.login(email, password);
    const me = authClient({ baseUrl: url, accessToken: first.access_token });
    const totp = URI.parse((await me.totpEnroll(email)).otpauth_uri) as TOTP;
    const { recovery_codes } = await me.totpConfirm(totp.generate());
    assert.equal(recovery_codes.length, 10);
    await assert.rejects(anon.login(email, password), (e: unknown) => {
      assert.ok(e instanceof AuthApiError);
      assert.equal(e.code, 'AUTH_MFA_REQUIRED');
      return true;
    });
    const second = await anon.login(email, password, {
      totp_code: totp.generate({ timestamp: Date.now() + 30_000 }),
    });
    assert.ok(second.access_token);
    // The CLI steps the first (password-only) session up with a recovery code.
    const { stdout } = await cli(
      ['auth', 'totp', 'step-up', '--recovery-code', recovery_codes[0]!],
      first.access_token,
    );
    const stepped = JSON.parse(stdout) as { access_token: string };
    const amr = JSON.parse(
      Buffer.from(stepped.access_token.split('.')[1]!, 'base64url').toString('utf8'),
    ).amr;
    assert.deepEqual(amr, ['pwd', 'otp', 'mfa']);
    const methods = await authClient({ baseUrl: url, accessToken: stepped.access_token }).methods();
    assert.ok(methods.methods.length >= 1);
  });

  it('auth passkey explains that passkeys need a browser; options prints the login options', async () => {
    const note = JSON.parse((await cli(['auth', 'passkey'], '')).stdout) as { note: string };
    assert.match(note.note, /browser/);
    const options = JSON.parse((await cli(['auth', 'passkey', 'options'], '')).stdout) as {
      options: { challenge: string };
    };
    assert.equal(typeof options.options.challenge, 'string');
  });
});
