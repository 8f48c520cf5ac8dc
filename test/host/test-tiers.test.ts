/**
 * The test tiers (scripts/test-tiers.mjs, run by scripts/run-tests.mjs): the fast tier holds no
 * end-to-end file, the docs name the rule the script applies, and a run of files side by side
 * still fails when a test fails and still ends when a test leaves a handle open.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  CONCURRENCY,
  END_TO_END_DIRS,
  END_TO_END_MARKERS,
  isEndToEnd,
  SERIAL,
  selectFiles,
} from '../../scripts/test-tiers.mjs';

function withoutTestContext(): NodeJS.ProcessEnv {
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  return env;
}

const runTests = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, ['scripts/run-tests.mjs', ...args], {
    encoding: 'utf8',
    env: { ...withoutTestContext(), ...env },
  });

describe('test tiers', () => {
  it('the fast tier is the full run without its end-to-end files', () => {
    const all = selectFiles([]);
    const fast = selectFiles([], { fast: true });
    assert.ok(fast.length > 0 && fast.length < all.length);
    for (const f of fast) {
      assert.ok(all.includes(f), f);
      assert.ok(!END_TO_END_DIRS.some((d) => f.startsWith(`${d}/`)), f);
      const source = readFileSync(f, 'utf8');
      for (const m of END_TO_END_MARKERS) assert.ok(!source.includes(m), `${f} contains ${m}`);
    }
    assert.ok(!all.some((f) => f.startsWith('test/security/')), 'test/security has its own run');
    // Every file that starts the service is end to end, wherever it lies.
    assert.ok(isEndToEnd('test/host/x.test.ts', 'await startTestService(engine)'));
    assert.ok(!isEndToEnd('test/host/x.test.ts', "import { openTestPglite } from '../helpers'"));
    for (const f of SERIAL) assert.ok(all.includes(f) || f.startsWith('test/security/'), f);
  });

  it('docs/guides/development.md and the README name the rule the script applies', () => {
    const dev = readFileSync('docs/guides/development.md', 'utf8');
    const rule = /A file is end to end([\s\S]*?)`test\/host\/test-tiers\.test\.ts`/.exec(dev);
    assert.ok(rule, 'development.md states when a file is end to end');
    const named = [...rule[1]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!).sort();
    assert.deepEqual(named, [...END_TO_END_DIRS, ...END_TO_END_MARKERS].sort());
    assert.match(dev, new RegExp(`--test-concurrency=${CONCURRENCY}\\b`));
    assert.match(dev, /^npm run test:fast\s+#/m);
    const readme = readFileSync('README.md', 'utf8');
    assert.match(readme, /^npm test\s+#/m, "the README's test command stays npm test");
    assert.match(readme, /^npm run test:fast\s+#/m);
    const { scripts } = JSON.parse(readFileSync('package.json', 'utf8')) as {
      scripts: Record<string, string>;
    };
    assert.equal(scripts['test:fast'], 'node scripts/run-tests.mjs --fast');
    assert.equal(scripts.test, 'node scripts/run-tests.mjs && npm run test:security');
  });

  // `ℹ` from the spec reporter (Node 24), `#` from TAP (Node 22 when stdout is not a terminal).
  it('a failing test fails a run of files side by side', () => {
    const r = runTests(['scripts/fixtures/fails.test.ts', 'scripts/fixtures/open-handle.test.ts']);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^[ℹ#] pass 2$/m);
    assert.match(r.stdout, /^[ℹ#] fail 1$/m);
  });

  it('a test that leaves a handle open does not hold the run (--test-force-exit)', () => {
    const r = runTests(['scripts/fixtures/open-handle.test.ts'], { TEST_CONCURRENCY: '1' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^[ℹ#] pass 1$/m);
    // And no test may hang CI: each has a time limit.
    assert.match(readFileSync('scripts/run-tests.mjs', 'utf8'), /'--test-timeout=180000'/);
  });

  it('refuses a TEST_CONCURRENCY that is not a whole number of at least 1', () => {
    const r = runTests(['scripts/fixtures/open-handle.test.ts'], { TEST_CONCURRENCY: '0' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /TEST_CONCURRENCY/);
  });
});
