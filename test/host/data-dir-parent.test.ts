/**
 * Operator and data at rest: attack review (SECURITY.md). A second local account that may
 * write to a folder above DATA_DIR (a shared checkout holding the default `./data`, a parent
 * made 0777) can rename DATA_DIR away while the service runs and put a folder of its own in
 * its place: the next enclave (re)start then listens on `enclave.sock` in that account's folder
 * (that account gets the host's enclave connection: an unthrottled password oracle, log
 * signatures) and, on the simulated platform, reads its vendor key and platform secret there.
 * The checks on DATA_DIR itself cannot see this, so the start refuses a DATA_DIR under a folder
 * that another account owns, or that others may write without the sticky bit (/tmp is fine).
 */
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { secureDataDir } from '../../src/host/db/data-dir.js';
import { StartupError } from '../../src/host/startup-error.js';

const OTHER = 65534;
const root = process.getuid?.() === 0;

describe('DATA_DIR: the folders above it', () => {
  const made: string[] = [];
  const parent = (mode: number) => {
    const d = mkdtempSync(join(tmpdir(), 'cloister-parent-'));
    chmodSync(d, mode);
    made.push(d);
    return d;
  };
  after(() => {
    for (const d of made) rmSync(d, { recursive: true, force: true });
  });

  it('refuses a DATA_DIR whose parent others may write to (no sticky bit)', () => {
    const dir = join(parent(0o777), 'data');
    assert.throws(
      () => secureDataDir(dir),
      (err: unknown) =>
        err instanceof StartupError && err.exitCode === 78 && /writable by other/.test(err.message),
    );
  });

  it('refuses one two levels down too', () => {
    const mid = join(parent(0o777), 'mid');
    mkdirSync(mid, { mode: 0o755 });
    assert.throws(() => secureDataDir(join(mid, 'data')), StartupError);
  });

  it('refuses a path through a symbolic link that sits in a folder others may write to', () => {
    const shared = parent(0o777);
    const mine = parent(0o755);
    symlinkSync(mine, join(shared, 'link'));
    // The real path (mine/data) is private; the link that leads there can be replaced.
    assert.throws(() => secureDataDir(join(shared, 'link', 'data')), StartupError);
  });

  it('accepts a parent with the sticky bit (such as /tmp), or private to this account', () => {
    secureDataDir(join(parent(0o1777), 'data'));
    secureDataDir(join(parent(0o755), 'data'));
  });

  it('refuses a parent owned by another account', { skip: !root && 'needs root' }, () => {
    const p = parent(0o755);
    chownSync(p, OTHER, OTHER);
    assert.throws(
      () => secureDataDir(join(p, 'data')),
      (err: unknown) => err instanceof StartupError && /owned by another account/.test(err.message),
    );
  });
});
