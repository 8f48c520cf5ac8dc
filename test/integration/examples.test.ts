/**
 * The client example of the README and docs/guides/getting-started.md (examples/client-flow.ts)
 * runs as written against a listening service, and the guide's sample attestation answer has
 * the fields of a real one; so does the CLI's attest/submit/status/revoke round trip and its log
 * verify and log monitor commands (the monitor exits 3 when the log is rolled back under it).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { sessionLogSubject } from '../../src/protocol/log/entry.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { cliCommand } from '../cli/run.js';

const run = promisify(execFile);

describe('README example and CLI against a listening service', () => {
  let ts: TestService;
  let url: string;
  async function listen(): Promise<void> {
    await ts.service.app.listen({ port: 0, host: '127.0.0.1' });
    const addr = ts.service.app.server.address();
    url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  }
  before(async () => {
    ts = await startTestService('pglite');
    await listen();
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

  it("docs/guides/getting-started.md's sample quote has the fields of a real answer", async () => {
    const guide = readFileSync('docs/guides/getting-started.md', 'utf8');
    const sample: unknown = JSON.parse(/```json\n([\s\S]*?)\n```/.exec(guide)![1]!);
    const real: unknown = await fetch(`${url}/attestation/quote`).then((r) => r.json());
    // Field names and kinds, nested: the values are the guide's own example.
    const shape = (v: unknown): unknown =>
      Array.isArray(v)
        ? [...new Set(v.map(shape))]
        : v !== null && typeof v === 'object'
          ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, shape(x)]))
          : typeof v;
    assert.deepEqual(shape(sample), shape(real));
  });

  it('the CLI refuses untrusted evidence and completes a round trip with trust given', async () => {
    const cli = (args: string[], env: Record<string, string> = {}) =>
      run(process.execPath, [...cliCommand(), ...args, '--url', url], {
        env: { ...process.env, ...env },
      });
    const trust = ['--expect-measurement', ts.measurement, '--trust-simulated-key', ts.vendorKey];
    await assert.rejects(
      cli(['attest', '--expect-measurement', ts.measurement]),
      (err: { code?: number; stderr?: string }) => {
        return (
          err.code === 1 &&
          /vendor key not in --trust-simulated-key \/ --trust-simulated-key-file/.test(
            err.stderr ?? '',
          )
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
    const { stdout: status } = await cli(['status', '--session', session_id, '--json']);
    assert.equal(JSON.parse(status).credential, 'ok');
    const { stdout: revoked } = await cli(['revoke', '--session', session_id, '--json']);
    assert.equal(JSON.parse(revoked).success, true);
    assert.ok(!ts.logs.some((l) => l.includes(secret)));
  });

  it("cloister log verify proves a session's entries; log monitor alarms on a rollback", async () => {
    const cli = (args: string[], env: Record<string, string> = {}) =>
      run(process.execPath, [...cliCommand(), ...args, '--url', url], {
        env: { ...process.env, ...env },
      });
    const trust = () => [
      '--expect-measurement',
      ts.measurement,
      '--trust-simulated-key',
      ts.vendorKey,
    ];
    const submitOne = async (label: string) => {
      const { stdout } = await cli(
        ['submit', ...trust(), '--exchange', 'binance', '--label', label, '--json'],
        { CLOISTER_API_KEY: `k-${label}`, CLOISTER_API_SECRET: `s-${label}-${Math.random()}` },
      );
      return JSON.parse(stdout).session_id as string;
    };
    const dir = mkdtempSync(join(tmpdir(), 'cloister-monitor-'));
    const state = join(dir, 'checkpoint.json');
    try {
      const session = await submitOne('log-a');
      const { stdout: verified } = await cli(['log', 'verify', ...trust(), '--session', session]);
      assert.match(verified, /1 entries included in checkpoint \d+:/);
      assert.match(
        verified,
        new RegExp(`"subject":"${sessionLogSubject(session)}".*"type":"credential\\.submitted"`),
      );
      assert.ok(!verified.includes(session.slice(9)), 'the log does not publish the session id');
      const { stdout: cpOut } = await cli(['log', 'verify', ...trust(), '--json']);
      const seen = JSON.parse(cpOut) as { size: number };

      await cli(['log', 'monitor', ...trust(), '--state', state, '--once']);
      await submitOne('log-b');
      const { stdout: grown } = await cli([
        'log',
        'monitor',
        ...trust(),
        '--state',
        state,
        '--once',
      ]);
      assert.match(grown, new RegExp(`^ok: size ${seen.size + 1} `));
      assert.equal(JSON.parse(readFileSync(state, 'utf8')).size, seen.size + 1);

      // The host rolls the log back to `seen` and grows a different history of the same size.
      await ts.service.db.query('DELETE FROM merkle_logs WHERE leaf_index >= $1', [seen.size]);
      await ts.service.db.query('DELETE FROM log_checkpoints WHERE tree_size > $1', [seen.size]);
      ts = await ts.restart();
      await listen();
      await submitOne('log-c');
      await assert.rejects(
        cli(['log', 'monitor', ...trust(), '--state', state, '--once']),
        (err: { code?: number; stderr?: string }) =>
          err.code === 3 && /LOG ALARM/.test(err.stderr ?? ''),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
