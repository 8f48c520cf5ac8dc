/**
 * A PGlite data folder is created by a child process under `pglite.init` and renamed into place
 * when complete (src/host/db/database.ts): a leftover from an interrupted start is removed, the
 * memory settings land in the folder's postgresql.conf, and the host opens the result.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openPglite } from '../../src/host/db/database.js';

describe('PGlite data folder creation', () => {
  const root = mkdtempSync(join(tmpdir(), 'cloister-pglite-init-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  it('replaces a half-made pglite.init and keeps the small memory settings', async () => {
    const dir = join(root, 'pglite');
    mkdirSync(`${dir}.init`);
    writeFileSync(join(`${dir}.init`, 'PG_VERSION'), 'junk from an interrupted start');
    const db = await openPglite(dir);
    try {
      assert.equal(existsSync(`${dir}.init`), false);
      assert.equal(readFileSync(join(dir, 'PG_VERSION'), 'utf8').trim(), '18');
      assert.match(readFileSync(join(dir, 'postgresql.conf'), 'utf8'), /^shared_buffers = 16MB/m);
      const { rows } = await db.query<{ shared_buffers: string }>('SHOW shared_buffers');
      assert.equal(rows[0]!.shared_buffers, '16MB');
      await db.exec('CREATE TABLE kept (v text); INSERT INTO kept VALUES ($$a$$)');
    } finally {
      await db.close();
    }
    const again = await openPglite(dir);
    try {
      const { rows } = await again.query<{ v: string }>('SELECT v FROM kept');
      assert.deepEqual(rows, [{ v: 'a' }]);
    } finally {
      await again.close();
    }
  });
});
