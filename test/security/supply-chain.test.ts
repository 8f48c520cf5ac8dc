/**
 * The repository's own install and image files. Every package in the lock, and CI's Node
 * runtime, carries an integrity hash checked on install; no install runs the dependencies'
 * lifecycle scripts (ccxt's postinstall calls a code host's API on every install; esbuild's and
 * bufferutil's only optimise what works without them); and every Node image is the line CI pins (.ci/node-version), not Node 20, whose JWK
 * export deadlocks under GC (SECURITY.md, review row 13).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

const dockerfiles = [
  'Dockerfile',
  ...readdirSync('deploy', { recursive: true, encoding: 'utf8' })
    .filter((f) => /(^|\/)Dockerfile[^/]*$/.test(f))
    .map((f) => join('deploy', f)),
];
const installFiles = ['.ci/run', ...dockerfiles];

describe('supply chain in the repository files', () => {
  it('the lock pins an integrity hash for every package it installs', () => {
    const lock = JSON.parse(readFileSync('package-lock.json', 'utf8')) as {
      lockfileVersion: number;
      packages: Record<string, { link?: boolean; integrity?: string }>;
    };
    assert.equal(lock.lockfileVersion, 3);
    const entries = Object.entries(lock.packages).filter(([path, p]) => path !== '' && !p.link);
    assert.ok(entries.length > 100, 'the lock was read');
    const missing = entries.filter(
      ([, p]) => !/^sha512-[A-Za-z0-9+/]{86}==$/.test(p.integrity ?? ''),
    );
    assert.deepEqual(
      missing.map(([path]) => path),
      [],
    );
  });

  it("CI's own Node runtime is checked against an integrity pinned in the repository", () => {
    // It was installed with --no-package-lock: whatever the registry served for that version.
    assert.match(readFileSync('.ci/node-integrity', 'utf8'), /^sha512-[A-Za-z0-9+/]{86}==\n$/);
    const run = readFileSync('.ci/run', 'utf8');
    assert.ok(run.includes('NODE_INTEGRITY="$(cat .ci/node-integrity)"'));
    assert.ok(run.includes('if [ "$got" != "$NODE_INTEGRITY" ]; then'));
    assert.ok(!run.includes('--no-package-lock'));
  });

  it('no install runs dependency lifecycle scripts', () => {
    assert.ok(dockerfiles.length >= 2, 'the Dockerfiles were found');
    const bare: string[] = [];
    for (const file of installFiles)
      for (const line of readFileSync(file, 'utf8').split('\n'))
        if (/\bnpm (ci|install|i)\b/.test(line) && !line.includes('--ignore-scripts'))
          bare.push(`${file}: ${line.trim()}`);
    assert.deepEqual(bare, []);
  });

  it('every Node image is the major line CI pins', () => {
    const major = readFileSync('.ci/node-version', 'utf8').trim().split('.')[0]!;
    const images: string[] = [];
    for (const file of dockerfiles)
      for (const m of readFileSync(file, 'utf8').matchAll(/\bnode:(\d+)[\w.-]*/g))
        images.push(`${file}: ${m[0]}`);
    assert.ok(images.length >= 3, 'the images were found');
    assert.deepEqual(
      images.filter((i) => !i.endsWith(`node:${major}-bookworm-slim`)),
      [],
    );
  });
});
