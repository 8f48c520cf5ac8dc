/**
 * `cloister <command> --help` for every command and subcommand: exit 0, the options, an example
 * and the environment variables it reads. An unknown command or option is named, exit 2.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Command, CommanderError } from 'commander';
import { retryAfterMs, retryDelayMs } from '../../src/cli/http.js';
import { formatDate, human, inCliWords } from '../../src/cli/output.js';
import { buildProgram } from '../../src/cli/program.js';
import { runCli } from './run.js';

const cli = (...args: string[]) => runCli(args);

/** Every command path, e.g. ['wallet', 'recover', 'start'] (commander's own `help` left out). */
function paths(cmd: Command, prefix: string[] = []): string[][] {
  return cmd.commands.flatMap((c) => {
    const p = [...prefix, c.name()];
    return [p, ...paths(c, p)];
  });
}

/** Runs `cloister ...path --help` in process; resolves with the exit code and what it wrote. */
async function help(path: string[]): Promise<{ exitCode: number; out: string }> {
  let out = '';
  const program = buildProgram();
  const capture = (c: Command) => {
    c.configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (out += s) });
    c.commands.forEach(capture);
  };
  capture(program);
  try {
    await program.parseAsync(['node', 'cloister', ...path, '--help']);
    return { exitCode: -1, out };
  } catch (err) {
    assert.ok(err instanceof CommanderError);
    return { exitCode: err.exitCode, out };
  }
}

const ALL = paths(buildProgram());
/** The commands that call protected routes. */
const TOKEN_BEARING = new Set(
  ALL.map((p) => p.join(' ')).filter(
    (p) =>
      /^(submit|status|revoke|log (verify|monitor)|cluster (init|reshare|provide-share))$/.test(
        p,
      ) ||
      (p.startsWith('wallet ') && p !== 'wallet export' && p !== 'wallet recover'),
  ),
);

describe('cloister --help', () => {
  it('knows the commands the README and tests use', () => {
    const names = ALL.map((p) => p.join(' '));
    for (const expected of [
      'attest',
      'attest verify',
      'attest measure',
      'login',
      'logout',
      'submit',
      'status',
      'revoke',
      'log verify',
      'log monitor',
      'verify aggregates',
      'auth verify',
      'auth register',
      'auth login',
      'auth confirm',
      'cluster init',
      'cluster signing-key',
      'cluster approve',
      'cluster reshare',
      'cluster check-share',
      'cluster provide-share',
      'wallet create',
      'wallet list',
      'wallet sign',
      'wallet policy',
      'wallet export',
      'wallet recover start',
      'wallet recover cancel',
      'wallet recover complete',
    ])
      assert.ok(names.includes(expected), `${expected} missing`);
  });

  for (const path of [[], ...ALL]) {
    it(`cloister ${path.join(' ')} --help: exit 0, options, an example, the environment`, async () => {
      const { exitCode, out } = await help(path);
      assert.equal(exitCode, 0, out);
      assert.match(out, /^Usage: cloister/m);
      assert.match(out, /\nExample:\n {2}\$ (\S+=\S+ )*cloister /);
      assert.match(out, /\nEnvironment:\n/);
      // A command that talks to a service says where the URL (and the token) come from.
      if (/--url <url>/.test(out)) {
        assert.match(out, /env:\s+CLOISTER_URL/);
        assert.match(out, /^ {2}CLOISTER_URL /m);
      }
      if (TOKEN_BEARING.has(path.join(' ')))
        assert.match(out, /^ {2}CLOISTER_ACCESS_TOKEN /m, 'a token-bearing command names it');
    });
  }

  it('as a process: help exits 0 for a nested command', async () => {
    const r = await cli('wallet', 'recover', 'complete', '--help');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Usage: cloister wallet recover complete/);
    assert.match(r.stdout, /CLOISTER_RECOVERY_PASSPHRASE/);
  });

  it('an unknown command is named (exit 2)', async () => {
    const r = await cli('frobnicate');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown command 'frobnicate'/);
    const sub = await cli('wallet', 'frobnicate');
    assert.equal(sub.code, 2);
    assert.match(sub.stderr, /unknown command 'frobnicate'/);
  });

  it('an unknown option is named (exit 2), and a near miss is suggested', async () => {
    const r = await cli('submit', '--exchnage', 'binance');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown option '--exchnage'/);
    assert.match(r.stderr, /--exchange/);
  });
});

describe('CLI output helpers', () => {
  it('refusals name CLI flags, not SDK options', () => {
    assert.equal(
      inCliWords('simulated platform refused (vendor key not in trustedSimulatedVendorKeys)'),
      'simulated platform refused (vendor key not in --trust-simulated-key / --trust-simulated-key-file)',
    );
    assert.match(inCliWords('see allowedApiHosts'), /--allow-api-host/);
    assert.match(inCliWords('cluster id is not expectClusterId'), /--expect-cluster/);
  });

  it('times are shown as dates', () => {
    const text = human({
      expires_at: '2026-12-06T04:05:06.000Z',
      exp: 1796529108,
      expires_in: 900,
      label: 'main',
    });
    assert.match(text, /^expires_at: 2026-12-06 04:05:06 UTC$/m);
    assert.match(text, /^exp: 2026-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC$/m);
    assert.match(text, /^expires_in: 900 s$/m);
    assert.match(text, /^label: main$/m);
    assert.equal(formatDate(new Date(0)), '1970-01-01 00:00:00 UTC');
  });

  it('Retry-After in seconds or as a date; backoff doubles and is capped', () => {
    assert.equal(retryAfterMs('7'), 7000);
    assert.equal(retryAfterMs(new Date(10_000).toUTCString(), 4000), 6000);
    assert.equal(retryAfterMs(null), undefined);
    assert.equal(retryAfterMs('soon'), undefined);
    assert.deepEqual([1, 2, 3, 4].map(retryDelayMs), [1000, 2000, 4000, 8000]);
    assert.equal(retryDelayMs(100), 300_000);
  });
});
