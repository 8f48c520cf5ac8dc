/**
 * `cloister auth siwe|methods` against a listening service: the CLI gets a nonce, builds and
 * signs the EIP-4361 message with a key file, logs in; `--print` gives the message for an
 * external wallet; `auth methods` lists the account's methods with the token it got.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { startTestService, type TestService } from '../helpers/service.js';
import { cliCommand } from './run.js';

const run = promisify(execFile);

describe('cloister auth siwe|methods', () => {
  let ts: TestService;
  let url = '';
  before(async () => {
    ts = await startTestService('pglite', {
      AUTH_SIWE_DOMAIN: 'cloister.test',
      AUTH_LOGIN_MAX_PER_IP: '100000',
    });
    await ts.service.app.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(ts.service.app.server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await ts?.stop();
  });

  const cli = (args: string[], env: Record<string, string> = {}) =>
    run(process.execPath, [...cliCommand(), ...args, '--url', url, '--json'], {
      encoding: 'utf8',
      env: { ...process.env, ...env },
    });

  it('signs in with a key file, prints a message for a wallet, lists methods', async () => {
    const key = generatePrivateKey();
    const file = join(mkdtempSync(join(tmpdir(), 'cloister-key-')), 'key');
    writeFileSync(file, key, { mode: 0o600 });
    const out = await cli(['auth', 'siwe', '--key-file', file, '--domain', 'cloister.test']);
    const tokens = JSON.parse(out.stdout);
    assert.equal(tokens.created, true);
    const printed = await cli([
      'auth',
      'siwe',
      '--print',
      '--address',
      privateKeyToAccount(key).address,
      '--domain',
      'cloister.test',
    ]);
    assert.match(JSON.parse(printed.stdout).message, /^cloister\.test wants you to sign in/);
    const methods = await cli(['auth', 'methods'], { CLOISTER_ACCESS_TOKEN: tokens.access_token });
    const list = JSON.parse(methods.stdout).methods;
    assert.deepEqual(
      list.map((m: { kind: string; identifier: string }) => [m.kind, m.identifier]),
      [['siwe', privateKeyToAccount(key).address.toLowerCase()]],
    );
  });
});
