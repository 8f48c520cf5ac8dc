/**
 * Attack review (issue 12): the DATA_DIR lock must never exist without the pid of its holder.
 * The lock used to be created empty (O_EXCL) and the pid written after; a second starter that
 * read it in between saw no pid, took it for a stale lock and removed it, so both processes
 * believed they held the embedded database (two writers: lost writes). Here a second starter
 * (a real child process running the same code) runs exactly in that window, and the lock on
 * disk must still be the first starter's.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs, { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { LOCK_FILE, lockDataDir } from '../../src/host/db/data-dir.js';

describe('DATA_DIR lock: a starter racing the lock creation', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cloister-lock-race-'));
  const originalWrite = fs.writeSync;
  after(() => {
    fs.writeSync = originalWrite;
    syncBuiltinESMExports();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a second starter between lock creation and pid write cannot take the lock away', () => {
    let second: string | undefined;
    // While this process writes its pid, a second starter runs to completion.
    fs.writeSync = ((...args: Parameters<typeof fs.writeSync>) => {
      if (second === undefined) {
        const child = spawnSync(
          process.execPath,
          [
            '--import',
            'tsx',
            '--input-type=module',
            '-e',
            `import { lockDataDir } from ${JSON.stringify(resolve('src/host/db/data-dir.ts'))};
             try { lockDataDir(${JSON.stringify(dir)}); process.stdout.write('locked'); }
             catch { process.stdout.write('refused'); }`,
          ],
          { encoding: 'utf8' },
        );
        second = child.stdout.trim() || `error: ${child.stderr}`;
      }
      return (originalWrite as (...a: unknown[]) => number)(...args);
    }) as typeof fs.writeSync;
    syncBuiltinESMExports();

    let first: ReturnType<typeof lockDataDir> | 'refused';
    try {
      first = lockDataDir(dir);
    } catch {
      first = 'refused';
    }
    fs.writeSync = originalWrite;
    syncBuiltinESMExports();

    assert.ok(second === 'locked' || second === 'refused', `second starter: ${second}`);
    if (first !== 'refused') {
      // The lock this process believes it holds must be on disk, naming it.
      assert.equal(readFileSync(join(dir, LOCK_FILE), 'utf8').trim(), String(process.pid));
      first.release();
    }
  });
});
