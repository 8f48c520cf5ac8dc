/**
 * `cloister wallet` against the real service over TCP: create writes two encrypted share files
 * (mode 0600, no share bytes in them, wrong passphrase refused), sign goes through the
 * attested enclave key, export turns the two files into the mnemonic with no server.
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { recoverMessageAddress } from 'viem';
import { mnemonicToAccount } from 'viem/accounts';
import { readShareFile } from '../../src/cli/share-file.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { newUser } from './service-helpers.js';
import { cliCommand } from '../cli/run.js';

const run = promisify(execFile);

describe('cloister wallet (CLI)', { concurrency: false }, () => {
  let ts: TestService;
  let dir: string;
  let base: string[];
  let env: NodeJS.ProcessEnv;

  const cli = async (...args: string[]) => {
    try {
      const r = await run(
        process.execPath,
        [...cliCommand(), 'wallet', ...args, ...base, ...(args[0] === 'export' ? [] : ['--json'])],
        { env },
      );
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (e) {
      const err = e as { code: number; stdout: string; stderr: string };
      return { code: err.code, stdout: err.stdout, stderr: err.stderr };
    }
  };

  before(async () => {
    ts = await startTestService('pglite', { AUTH_DISABLED_FOR_DEVELOPMENT: 'false' });
    await ts.service.app.listen({ host: '127.0.0.1', port: 0 });
    const addr = ts.service.app.server.address() as { port: number };
    const user = await newUser(ts);
    dir = mkdtempSync(join(tmpdir(), 'cloister-wallet-cli-'));
    base = [
      '--url',
      `http://127.0.0.1:${addr.port}`,
      '--expect-measurement',
      ts.measurement,
      '--trust-simulated-key',
      ts.vendorKey,
      '--device-file',
      join(dir, 'device.json'),
      '--recovery-file',
      join(dir, 'recovery.json'),
    ];
    env = {
      ...process.env,
      CLOISTER_ACCESS_TOKEN: user.token,
      CLOISTER_DEVICE_PASSPHRASE: 'device passphrase 1',
      CLOISTER_RECOVERY_PASSPHRASE: 'recovery passphrase 2',
    };
  });
  after(async () => {
    await ts?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('create, sign, export', async () => {
    const created = await cli('create', '--label', 'cli');
    assert.equal(created.code, 0, created.stderr);
    const { wallet_id, accounts } = JSON.parse(created.stdout);
    const eth = accounts[0].address;

    for (const [name, pass] of [
      ['device.json', 'device passphrase 1'],
      ['recovery.json', 'recovery passphrase 2'],
    ] as const) {
      const path = join(dir, name);
      assert.equal(statSync(path).mode & 0o777, 0o600, name);
      const f = await readShareFile(path, pass);
      assert.equal(f.walletId, wallet_id);
      const text = readFileSync(path, 'utf8');
      assert.ok(!text.includes(Buffer.from(f.share).toString('hex')), `${name}: share in hex`);
      assert.ok(
        !text.includes(Buffer.from(f.share).toString('base64')),
        `${name}: share in base64`,
      );
      await assert.rejects(readShareFile(path, 'wrong passphrase!'), /wrong passphrase/);
    }

    const signed = await cli(
      'sign',
      '--address',
      eth,
      '--request',
      JSON.stringify({ type: 'eth_personal_sign', message: 'from the cli' }),
    );
    assert.equal(signed.code, 0, signed.stderr);
    const { signature } = JSON.parse(signed.stdout);
    assert.equal(await recoverMessageAddress({ message: 'from the cli', signature }), eth);

    const exported = await cli('export');
    assert.equal(exported.code, 0, exported.stderr);
    const mnemonic = exported.stdout.trim();
    assert.equal(mnemonic.split(' ').length, 24);
    assert.equal(mnemonicToAccount(mnemonic).address, eth);

    const listed = await cli('list');
    assert.equal(JSON.parse(listed.stdout)[0].wallet_id, wallet_id);
    const again = await cli('create');
    assert.equal(again.code, 2, 'an existing share file is never overwritten by create');
    assert.equal(JSON.parse((await cli('list')).stdout).length, 1, 'and no wallet was created');
  });
});
