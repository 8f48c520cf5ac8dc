#!/usr/bin/env node
// Runs node's built-in test runner over test files (TypeScript through tsx).
// Usage: node scripts/run-tests.mjs [--fast] [dir-or-file ...]   (default: test/, except
// test/security which has its own script). --fast: only the fast tier (scripts/test-tiers.mjs).
// Node 20's --test does not expand globs itself, hence this file.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CONCURRENCY, SERIAL, posix, selectFiles } from './test-tiers.mjs';

const args = process.argv.slice(2);
const fast = args.includes('--fast');
const selected = selectFiles(
  args.filter((a) => a !== '--fast'),
  { fast },
);
if (selected.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
const concurrency = Number(process.env.TEST_CONCURRENCY ?? CONCURRENCY);
if (!Number.isInteger(concurrency) || concurrency < 1) {
  console.error(`TEST_CONCURRENCY must be a whole number of at least 1, not ${concurrency}`);
  process.exit(1);
}

function run(files, filesAtOnce) {
  const res = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      // Lets each test process's last results reach the report before the forced exit.
      '--import',
      pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), 'drain-test-report.mjs')).href,
      '--test',
      `--test-concurrency=${filesAtOnce}`,
      // --test-force-exit: a failed hook must fail the run, not leave it waiting on an open handle.
      '--test-force-exit',
      // --test-timeout: no single test may hang CI; 3 minutes is far above the slowest test.
      '--test-timeout=180000',
      ...files,
    ],
    { stdio: 'inherit', env: process.env },
  );
  return res.status ?? 1;
}

// The files that can share the machine run `concurrency` at once; then SERIAL ones, alone.
const serial = new Set(SERIAL);
const groups = [
  [selected.filter((f) => !serial.has(posix(f))), concurrency],
  [selected.filter((f) => serial.has(posix(f))), 1],
];
let status = 0;
for (const [files, filesAtOnce] of groups) {
  if (files.length > 0) status = run(files, filesAtOnce) || status;
}
process.exit(status);
