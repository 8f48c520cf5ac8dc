/**
 * `npm run demo` (devtools/demo.ts) runs the whole client flow against the fake exchange and
 * passes its own checks; with `--keep`, a Ctrl-C (SIGINT to the whole process group, npm
 * included, which relays it again) stops it and deletes its data folder, as the CLI reference says.
 * The script runs the demo with `node --import tsx`, not the tsx CLI: that wrapper relays a signal
 * and SIGKILLs its child when the child does not acknowledge it within 30 ms, which a busy machine
 * missed, leaving the folder behind.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { ensureEnclaveBundle } from '../helpers/service.js';

/** Whether any process of the group `pgid` is still running. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

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
    // npm may exit before the demo has cleaned up: the folder is judged once the whole group is
    // gone (a guard, not a timing check: a demo killed before its cleanup leaves the folder).
    for (let i = 0; i < 600 && groupAlive(child.pid!); i++) await sleep(100);
    assert.equal(existsSync(dataDir), false, `${dataDir} is left behind`);
  });
});
