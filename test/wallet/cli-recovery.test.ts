/**
 * `cloister wallet policy` and `cloister wallet recover start|cancel|complete` against the real
 * service over TCP (time-lock 1 s): the policy is enforced on a later `sign`, a share file of
 * another wallet than `--wallet` is refused, the device file alone cancels a recovery, a
 * cancelled recovery cannot be completed, a completed one rewrites both share files at
 * generation 2 with the same accounts, and a copy of the old device file is refused.
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { recoverMessageAddress } from 'viem';
import { mnemonicToAccount } from 'viem/accounts';
import { readShareFile } from '../../src/cli/share-file.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { newUser } from './service-helpers.js';
import { cliCommand } from '../cli/run.js';

const run = promisify(execFile);

/** Waits (wall clock, shared with the enclave) until unlock_at has passed. */
async function untilPast(unlockAt: number) {
  while (Math.floor(Date.now() / 1000) <= unlockAt) await sleep(100);
}

describe('cloister wallet policy / recover (CLI)', { concurrency: false }, () => {
  let ts: TestService;
  let dir: string;
  let server: string[];
  let env: NodeJS.ProcessEnv;

  const files = (device: string) => [
    '--device-file',
    join(dir, device),
    '--recovery-file',
    join(dir, 'recovery.json'),
  ];
  const cliWith = (device: string, ...args: string[]) => cliFiles(files(device), ...args);
  const cliFiles = async (shareFiles: string[], ...args: string[]) => {
    try {
      const r = await run(
        process.execPath,
        [
          ...cliCommand(),
          'wallet',
          ...args,
          ...server,
          ...shareFiles,
          ...(args[0] === 'export' ? [] : ['--json']),
        ],
        { env },
      );
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (e) {
      const err = e as { code: number; stdout: string; stderr: string };
      return { code: err.code, stdout: err.stdout, stderr: err.stderr };
    }
  };
  const cli = (...args: string[]) => cliWith('device.json', ...args);

  before(async () => {
    ts = await startTestService('pglite', {
      AUTH_DISABLED_FOR_DEVELOPMENT: 'false',
      WALLET_RECOVERY_DELAY_SECONDS: '1',
    });
    await ts.service.app.listen({ host: '127.0.0.1', port: 0 });
    const addr = ts.service.app.server.address() as { port: number };
    const user = await newUser(ts);
    dir = mkdtempSync(join(tmpdir(), 'cloister-wallet-cli-recovery-'));
    server = [
      '--url',
      `http://127.0.0.1:${addr.port}`,
      '--expect-measurement',
      ts.measurement,
      '--trust-simulated-key',
      ts.vendorKey,
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

  it('policy, recover start / cancel / start / complete, old device file refused', async () => {
    const created = await cli('create', '--label', 'cli-recovery');
    assert.equal(created.code, 0, created.stderr);
    const { wallet_id, accounts } = JSON.parse(created.stdout);
    const eth = accounts[0].address;

    // policy: printed back, then enforced on sign.
    const rules = [{ type: 'max_value_wei', value: '10' }];
    const policy = await cli('policy', '--rules', JSON.stringify(rules));
    assert.equal(policy.code, 0, policy.stderr);
    assert.deepEqual(JSON.parse(policy.stdout).rules, rules);
    const tx = (value: string) =>
      JSON.stringify({
        type: 'eth_transaction',
        transaction: {
          chainId: 1,
          nonce: 0,
          to: '0x00000000000000000000000000000000000000bb',
          value,
          gas: 21000,
          gasPrice: '1',
        },
      });
    const denied = await cli('sign', '--address', eth, '--request', tx('11'));
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /POLICY_DENIED/);
    const fits = await cli('sign', '--address', eth, '--request', tx('10'));
    assert.equal(fits.code, 0, fits.stderr);
    assert.match(JSON.parse(fits.stdout).signed_transaction, /^0x/);
    // --wallet names the wallet meant; a share file of another one is refused, nothing sent.
    const mine = await cli('policy', '--wallet', wallet_id, '--rules', JSON.stringify(rules));
    assert.equal(mine.code, 0, mine.stderr);
    const other = '00000000-0000-4000-8000-000000000000';
    const wrong = await cli('policy', '--wallet', other, '--rules', '[]');
    assert.equal(wrong.code, 2, wrong.stdout);
    assert.match(
      wrong.stderr,
      new RegExp(`share of wallet ${wallet_id}, not of --wallet ${other}`),
    );
    const badRules = await cli('policy', '--rules', '[{"type":"no_such_rule"}]');
    assert.equal(badRules.code, 1);

    // recover: nothing to complete before a start.
    const early = await cli('recover', 'complete');
    assert.equal(early.code, 1);
    assert.match(early.stderr, /WALLET_RECOVERY_NOT_STARTED/);

    const start = await cli('recover', 'start');
    assert.equal(start.code, 0, start.stderr);
    const first = JSON.parse(start.stdout);
    assert.equal(first.unlock_at - first.started_at, 1);
    const twice = await cli('recover', 'start');
    assert.equal(twice.code, 1);
    assert.match(twice.stderr, /WALLET_RECOVERY_IN_PROGRESS/);
    // The device share alone cancels: the recovery file may be the one that was stolen.
    const cancel = await cliFiles(['--device-file', join(dir, 'device.json')], 'recover', 'cancel');
    assert.equal(cancel.code, 0, cancel.stderr);
    assert.equal(JSON.parse(cancel.stdout).recovery, null);
    await untilPast(first.unlock_at);
    const afterCancel = await cli('recover', 'complete');
    assert.equal(afterCancel.code, 1, 'a cancelled recovery cannot be completed');
    assert.match(afterCancel.stderr, /WALLET_RECOVERY_NOT_STARTED/);
    const stillGen1 = await readShareFile(join(dir, 'device.json'), 'device passphrase 1');
    assert.equal(stillGen1.generation, 1, 'a refused complete leaves the share files alone');

    const restart = await cli('recover', 'start');
    assert.equal(restart.code, 0, restart.stderr);
    copyFileSync(join(dir, 'device.json'), join(dir, 'old-device.json'));
    await untilPast(JSON.parse(restart.stdout).unlock_at);
    const complete = await cli('recover', 'complete');
    assert.equal(complete.code, 0, complete.stderr);
    assert.deepEqual(JSON.parse(complete.stdout), { wallet_id, generation: 2 });

    for (const [name, pass] of [
      ['device.json', 'device passphrase 1'],
      ['recovery.json', 'recovery passphrase 2'],
    ] as const) {
      const path = join(dir, name);
      assert.equal(statSync(path).mode & 0o777, 0o600, name);
      const f = await readShareFile(path, pass);
      assert.equal(f.walletId, wallet_id);
      assert.equal(f.generation, 2, name);
    }

    // The old device file is refused; the new one signs for the same address.
    const old = await cliWith(
      'old-device.json',
      'sign',
      '--address',
      eth,
      '--request',
      JSON.stringify({ type: 'eth_personal_sign', message: 'old' }),
    );
    assert.equal(old.code, 1);
    assert.match(old.stderr, /WALLET_SHARE_INVALID/);
    const fresh = await cli(
      'sign',
      '--address',
      eth,
      '--request',
      JSON.stringify({ type: 'eth_personal_sign', message: 'new' }),
    );
    assert.equal(fresh.code, 0, fresh.stderr);
    const { signature } = JSON.parse(fresh.stdout);
    assert.equal(await recoverMessageAddress({ message: 'new', signature }), eth);

    // The policy survived the re-split, and export of the new files gives the same wallet.
    const stillDenied = await cli('sign', '--address', eth, '--request', tx('11'));
    assert.equal(stillDenied.code, 1);
    assert.match(stillDenied.stderr, /POLICY_DENIED/);
    const exported = await cli('export');
    assert.equal(exported.code, 0, exported.stderr);
    assert.equal(mnemonicToAccount(exported.stdout.trim()).address, eth);
  });
});
