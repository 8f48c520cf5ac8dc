/**
 * Attack review (issue 12): another account that could write into DATA_DIR before this start
 * (a group-writable folder, which the start only tightens) plants a `pglite` symbolic link to a
 * folder it controls, or a file of its own. The start must refuse: tightening modes does not
 * undo what is already there, and the database would be opened in that account's folder.
 * Needs root (to make files owned by another uid); skipped otherwise.
 */
import assert from 'node:assert/strict';
import {
  chmodSync,
  lchownSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { secureDataDir } from '../../src/host/db/data-dir.js';
import { StartupError } from '../../src/host/startup-error.js';

const ATTACKER = 65534;
const root = process.getuid?.() === 0;

describe('DATA_DIR: entries planted by another account', { skip: !root && 'needs root' }, () => {
  const made: string[] = [];
  const dataDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'cloister-planted-'));
    chmodSync(d, 0o770); // group-writable: what let the other account in
    made.push(d);
    return d;
  };
  after(() => {
    for (const d of made) rmSync(d, { recursive: true, force: true });
  });

  it('refuses a pglite symbolic link owned by another account', () => {
    const elsewhere = mkdtempSync(join(tmpdir(), 'cloister-attacker-db-'));
    made.push(elsewhere);
    const dir = dataDir();
    symlinkSync(elsewhere, join(dir, 'pglite'));
    lchownSync(join(dir, 'pglite'), ATTACKER, ATTACKER);
    assert.throws(() => secureDataDir(dir), StartupError);
  });

  it('refuses a private file owned by another account, also deeper down', () => {
    const dir = dataDir();
    mkdirSync(join(dir, 'pglite'));
    const planted = join(dir, 'pglite', 'postgresql.auto.conf');
    writeFileSync(planted, '', { mode: 0o600 });
    lchownSync(planted, ATTACKER, ATTACKER);
    assert.throws(() => secureDataDir(dir), StartupError);
  });
});
