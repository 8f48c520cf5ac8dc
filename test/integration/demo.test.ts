/**
 * `npm run demo` (devtools/demo.ts) runs the whole client flow against the fake exchange and
 * passes its own checks; with `--keep`, a Ctrl-C (SIGINT to the whole process group, tsx
 * included, which relays it again) stops it and deletes its data folder, as the CLI reference says.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ensureEnclaveBundle } from '../helpers/service.js';

describe('npm run demo', () => {
  it('attests, logs in, submits, gets signed aggregates and verifies them', async () => {
    ensureEnclaveBundle();
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'devtools/demo.ts'],
      { env: { ...process.env, DEMO_PORT: '3197' }, timeout: 150_000 },
    );
    assert.match(stdout, /access token issued/);
    assert.match(stdout, /\d+ trades 2026-/);
    assert.match(stdout, /signature: valid/);
    assert.match(stdout, /log: entry \d+ included in checkpoint of size \d+/);
    assert.match(stdout, /Session revoked and data purged/);
  });

  it('--keep: Ctrl-C to the process group stops it and deletes its data folder', async () => {
    ensureEnclaveBundle();
    // As documented (npm, a shell, tsx, the demo), in a process group of its own, as a terminal
    // runs a command: each of them passes the signal on, so the demo gets it more than once.
    const child = spawn('npm', ['run', '-s', 'demo', '--', '--keep'], {
      env: { ...process.env, DEMO_PORT: '3198' },
      detached: true,
      stdio: 'pipe',
    });
    const exited = once(child, 'exit');
    let stdout = '';
    let dataDir: string | undefined;
    for await (const chunk of child.stdout) {
      stdout += String(chunk);
      dataDir ??= /data (\/\S+)/.exec(stdout)?.[1];
      if (stdout.includes('Kept running')) break;
    }
    assert.ok(dataDir && existsSync(dataDir), stdout);
    child.stdout.resume();
    child.stderr.resume();
    process.kill(-child.pid!, 'SIGINT');
    await exited;
    assert.equal(existsSync(dataDir), false, `${dataDir} is left behind`);
  });
});
