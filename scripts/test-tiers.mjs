// Which test files scripts/run-tests.mjs runs, and how. Two tiers, decided from each file's path
// and source text (docs/guides/development.md "Tests" names the same rule; a test keeps the two
// in step):
//
// - the full tier (`npm test`, CI): every file;
// - the fast tier (`npm run test:fast`, for every edit): every file that is not end to end. A file
//   is end to end when it lies under one of END_TO_END_DIRS, or when its source names one of
//   END_TO_END_MARKERS: it starts the service, the host or an enclave process, builds the enclave
//   bundle, creates a PGlite database (initdb), drives a browser, runs the test runner itself, or
//   needs PostgreSQL.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Folders whose files are all end to end. */
export const END_TO_END_DIRS = [
  'test/browser',
  'test/cluster',
  'test/integration',
  'test/security',
];

/** A file whose source contains one of these is end to end. */
export const END_TO_END_MARKERS = [
  'startTestService(',
  'startExternalEnclave(',
  'createService(',
  'createEnclaveSupervisor(',
  'ensureEnclaveBundle(',
  'enclave.mjs',
  'build-enclave.mjs',
  'openPglite(',
  'playwright-core',
  'run-tests.mjs',
  'TEST_DATABASE_URL',
];

/** `npm test` runs test/security after the rest (`npm run test:security`), not in this run. */
export const OWN_SCRIPT_DIRS = ['test/security'];

/**
 * The files that run one at a time, after the others (which run CONCURRENCY at once). Any file
 * can share the machine as far as its data goes: each test service has its own temporary
 * folder, PGlite copy or PostgreSQL database, ports are the system's (port 0; the demo's two
 * fixed ones, 3197 and 3198, are its own), and Redis keys
 * carry a per-run client or account. These share nothing either, but their subject is a timed
 * interleaving that another file's load can stretch:
 * - submit-batch: two instances' batches deadlock in PostgreSQL and retry at once; stretched, the
 *   retries met again three times and the batch failed (LOG_UNAVAILABLE), seen once with two
 *   files at a time (and once in CI before, one at a time: see the test's comment).
 */
export const SERIAL = ['test/host/submit-batch.test.ts'];

/** Test files run at once (node's --test-concurrency); TEST_CONCURRENCY overrides it. */
export const CONCURRENCY = 2;

/** Every *.test.ts under `path` (a folder or a file), sorted. */
export function collect(path, out = []) {
  if (statSync(path).isDirectory()) {
    for (const name of readdirSync(path).sort()) collect(join(path, name), out);
  } else if (path.endsWith('.test.ts')) {
    out.push(path);
  }
  return out;
}

/** `path` with forward slashes (SERIAL and the folders are written so). */
export const posix = (path) => path.split('\\').join('/');

export function isEndToEnd(file, source = readFileSync(file, 'utf8')) {
  const p = posix(file);
  return (
    END_TO_END_DIRS.some((d) => p.startsWith(`${d}/`)) ||
    END_TO_END_MARKERS.some((m) => source.includes(m))
  );
}

/**
 * The files of a run: those under `roots` (default: test/ without OWN_SCRIPT_DIRS), only the fast
 * tier's with `fast`.
 */
export function selectFiles(roots, { fast = false } = {}) {
  const files =
    roots.length > 0
      ? roots.flatMap((r) => collect(r))
      : collect('test').filter((f) => !OWN_SCRIPT_DIRS.some((d) => posix(f).startsWith(`${d}/`)));
  return fast ? files.filter((f) => !isEndToEnd(f)) : files;
}
