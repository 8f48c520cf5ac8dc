/**
 * A PGlite data folder is created by a child process under `pglite.init` and renamed into place
 * when complete (src/host/db/database.ts): a leftover from an interrupted start is removed, the
 * memory settings land in the folder's postgresql.conf, and the host opens the result. An
 * in-memory database loaded from a dump of a folder (what the tests' `openTestPglite` does)
 * starts with that folder's contents and the same memory settings.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openPglite } from '../../src/host/db/database.js';
import { dumpPgliteFolder, seededDataDir } from '../helpers/service.js';

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

  it("an in-memory database loaded from a dump has the dumped folder's contents, no initdb", async () => {
    const dataDir = await seededDataDir();
    try {
      const folder = await openPglite(join(dataDir, 'pglite'));
      try {
        await folder.exec('CREATE TABLE dumped (v text); INSERT INTO dumped VALUES ($$b$$)');
      } finally {
        await folder.close();
      }
      const tar = join(root, 'dump.tar');
      dumpPgliteFolder(join(dataDir, 'pglite'), tar);
      const db = await openPglite(null, new Blob([new Uint8Array(readFileSync(tar))]));
      try {
        const { rows } = await db.query<{ v: string }>('SELECT v FROM dumped');
        assert.deepEqual(rows, [{ v: 'b' }]);
        const shown = await db.query<{ shared_buffers: string }>('SHOW shared_buffers');
        assert.equal(shown.rows[0]!.shared_buffers, '16MB');
      } finally {
        await db.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
