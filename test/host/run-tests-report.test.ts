/**
 * The test runner's report counts every test that ran (scripts/run-tests.mjs with
 * scripts/drain-test-report.mjs): with --test-force-exit, node exited test processes with their
 * last results still on the way to the parent (nodejs/node#64833), so a run of 2,000 tests
 * printed 1,922 or 1,945 and passed. Two runs of the fixture must both count all 2,000.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';

function withoutTestContext(): NodeJS.ProcessEnv {
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  return env;
}

describe('scripts/run-tests.mjs report', () => {
  it('counts all 2,000 tests of the fixture, run after run', () => {
    for (let run = 0; run < 2; run++) {
      const r = spawnSync(
        process.execPath,
        ['scripts/run-tests.mjs', 'scripts/fixtures/many-tests.test.ts'],
        // Without NODE_TEST_CONTEXT (set in this test process), the nested run reports as a run of its own.
        { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env: withoutTestContext() },
      );
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^ℹ tests 2000$/m, `run ${run}: ${/^ℹ tests \d+$/m.exec(r.stdout)}`);
      assert.match(r.stdout, /^ℹ pass 2000$/m);
    }
  });
});
