/** `npm run demo` (devtools/demo.ts) runs the whole client flow against the fake exchange and passes its own checks. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ensureEnclaveBundle } from '../helpers/service.js';

describe('npm run demo', () => {
  it('attests, logs in, submits, gets signed aggregates and verifies them', async () => {
    ensureEnclaveBundle();
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'devtools/demo.ts'],
      { env: { ...process.env, DEMO_PORT: '3197' }, timeout: 150_000 },
    );
    assert.match(stdout, /access token issued/);
    assert.match(stdout, /\d+ trades 2026-/);
    assert.match(stdout, /signature: valid/);
    assert.match(stdout, /log: entry \d+ included in checkpoint of size \d+/);
    assert.match(stdout, /Session revoked and data purged/);
  });
});
