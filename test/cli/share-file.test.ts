/**
 * Client second attack review: a share file is input like any other. One planted or swapped
 * (a shared folder, a copied backup) names its own KDF parameters and field lengths, so it must
 * not weaken the KDF the passphrase goes through, nor make the CLI allocate gigabytes or grind;
 * a re-split that replaces a share file never writes through a link planted at its path.
 */
import { strict as assert } from 'node:assert';
import { lstatSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readShareFile, writeShareFile } from '../../src/cli/share-file.js';

const PASS = 'a long enough passphrase';
const share = new Uint8Array(33).fill(7);
const content = {
  walletId: '0b0c8a43-1d3e-4b8e-9a55-2a6f3f1c0d11',
  kind: 'device' as const,
  generation: 1,
  share,
};

type ShareFileJson = { kdf: Record<string, unknown>; [field: string]: unknown };

describe('share file: a hostile file (client second attack review)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cloister-share-file-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** A genuine file with some of its fields replaced. */
  async function edited(name: string, edit: (f: ShareFileJson) => void): Promise<string> {
    const path = join(dir, name);
    await writeShareFile(path, PASS, content);
    const f = JSON.parse(readFileSync(path, 'utf8')) as ShareFileJson;
    edit(f);
    rmSync(path);
    writeFileSync(path, JSON.stringify(f), { mode: 0o600 });
    return path;
  }

  it('reads back what it writes', async () => {
    const path = await edited('genuine.json', () => undefined);
    assert.deepEqual((await readShareFile(path, PASS)).share, share);
  });

  it('refuses KDF parameters weaker than it writes, or taking gigabytes or minutes, before deriving', async () => {
    // Before: a weakened KDF ran over the passphrase, a heavy one allocated and ground (4 GiB,
    // 32 passes), and only then came "wrong passphrase".
    for (const [name, kdf] of [
      ['weak-m', { m: 8192 }],
      ['weak-t', { t: 1 }],
      ['heavy-m', { m: 4_194_304 }],
      ['heavy-t', { t: 32 }],
      ['heavy-p', { p: 16 }],
    ] as const) {
      const path = await edited(`${name}.json`, (f) => Object.assign(f.kdf, kdf));
      await assert.rejects(
        readShareFile(path, PASS),
        /not a share file this CLI reads \(fields: kdf/,
      );
    }
  });

  it('refuses a short tag, nonce or salt, and an over-long file', async () => {
    const four = Buffer.alloc(4).toString('base64');
    for (const [name, edit] of [
      ['short-tag', (f: ShareFileJson) => (f.tag = four)],
      ['short-nonce', (f: ShareFileJson) => (f.nonce = four)],
      ['short-salt', (f: ShareFileJson) => (f.kdf.salt = four)],
    ] as const) {
      const path = await edited(`${name}.json`, edit);
      await assert.rejects(readShareFile(path, PASS), /not a share file this CLI reads/);
    }
    const big = await edited('big.json', (f) => (f.padding = 'x'.repeat(1 << 20)));
    await assert.rejects(readShareFile(big, PASS), /not a regular file of at most 4096 bytes/);
  });

  it('a re-split replaces a link planted at the path, and never writes where it points', async () => {
    const victim = join(dir, 'victim.txt');
    writeFileSync(victim, 'the user’s own file\n', { mode: 0o644 });
    const path = join(dir, 'device.share');
    symlinkSync(victim, path);
    await writeShareFile(path, PASS, content, { overwrite: true });
    assert.equal(readFileSync(victim, 'utf8'), 'the user’s own file\n');
    const st = lstatSync(path);
    assert.ok(st.isFile() && !st.isSymbolicLink());
    assert.equal(st.mode & 0o777, 0o600);
    assert.deepEqual((await readShareFile(path, PASS)).share, share);
  });
});
