/**
 * The README's client example (examples/client-flow.ts) runs as written against a listening
 * service, and so does the CLI's attest/submit/status/revoke round trip.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startTestService, type TestService } from '../helpers/service.js';

const run = promisify(execFile);

describe('README example and CLI against a listening service', () => {
  let ts: TestService;
  let url: string;
  before(async () => {
    ts = await startTestService('pglite');
    await ts.service.app.listen({ port: 0, host: '127.0.0.1' });
    const addr = ts.service.app.server.address();
    url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  });
  after(async () => ts?.stop());

  it('examples/client-flow.ts submits, checks and revokes', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'examples/client-flow.ts'], {
      env: { ...process.env, CLOISTER_URL: url, CLOISTER_DATA_DIR: ts.dataDir },
    });
    assert.match(stdout, /session [0-9a-f-]{36}/);
    assert.match(stdout, /credential: 'ok'/);
    assert.match(stdout, /Session revoked and data purged/);
  });

  it('the CLI refuses untrusted evidence and completes a round trip with trust given', async () => {
    const cli = (args: string[], env: Record<string, string> = {}) =>
      run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args, '--url', url], {
        env: { ...process.env, ...env },
      });
    const trust = ['--expect-measurement', ts.measurement, '--trust-simulated-key', ts.vendorKey];
    await assert.rejects(
      cli(['attest', '--expect-measurement', ts.measurement]),
      (err: { code?: number; stderr?: string }) => {
        return (
          err.code === 1 && /vendor key not in trustedSimulatedVendorKeys/.test(err.stderr ?? '')
        );
      },
    );
    const { stdout: attestOut } = await cli(['attest', ...trust]);
    assert.match(attestOut, /attestation valid: platform simulated \(debug\)/);
    const secret = 'cli-secret-value-9f3a';
    const { stdout } = await cli(
      ['submit', ...trust, '--exchange', 'bybit', '--label', 'cli', '--ttl', '600', '--json'],
      {
        CLOISTER_API_KEY: 'cli-key',
        CLOISTER_API_SECRET: secret,
      },
    );
    const { session_id } = JSON.parse(stdout);
    const { stdout: status } = await cli(['status', '--session', session_id]);
    assert.equal(JSON.parse(status).credential, 'ok');
    const { stdout: revoked } = await cli(['revoke', '--session', session_id]);
    assert.equal(JSON.parse(revoked).success, true);
    assert.ok(!ts.logs.some((l) => l.includes(secret)));
  });
});
