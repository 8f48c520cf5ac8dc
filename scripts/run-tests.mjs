#!/usr/bin/env node
// Runs node's built-in test runner over test files (TypeScript through tsx).
// Usage: node scripts/run-tests.mjs [dir-or-file ...]   (default: test/, except test/security
// which has its own script). Node 20's --test does not expand globs itself, hence this file.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

function collect(path, out) {
  if (statSync(path).isDirectory()) {
    for (const name of readdirSync(path).sort()) collect(join(path, name), out);
  } else if (path.endsWith('.test.ts')) {
    out.push(path);
  }
  return out;
}

const args = process.argv.slice(2);
const roots = args.length > 0 ? args : ['test'];
const files = roots.flatMap((r) => collect(r, []));
const selected =
  args.length > 0 ? files : files.filter((f) => !f.startsWith(join('test', 'security')));
if (selected.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
const res = spawnSync(
  process.execPath,
  // --test-force-exit: a failed hook must fail the run, not leave it waiting on an open handle.
  // --test-timeout: no single test may hang CI; 3 minutes is far above the slowest test.
  [
    '--import',
    'tsx',
    // Lets each test process's last results reach the report before the forced exit.
    '--import',
    pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), 'drain-test-report.mjs')).href,
    '--test',
    '--test-concurrency=1',
    '--test-force-exit',
    '--test-timeout=180000',
    ...selected,
  ],
  { stdio: 'inherit', env: process.env },
);
process.exit(res.status ?? 1);
