/**
 * `npm run operator -- grant|revoke <email> [--by <name>]` (src/host/auth/operator-cli.ts)
 * in-process, for the mutation run (docs/mutation-testing.md): the argument rules, `setOperator`
 * on a fake repository, and the whole command against a fresh PostgreSQL database
 * (exit codes, messages, the role and its ops event with who did it).
 */
import assert from 'node:assert/strict';
import { syncBuiltinESMExports } from 'node:module';
import os from 'node:os';
import { after, before, describe, it, mock } from 'node:test';
import pg from 'pg';
import {
  OPERATOR_USAGE,
  parseOperatorArgs,
  runOperatorCli,
  setOperator,
} from '../../src/host/auth/operator-cli.js';
import { loadConfig } from '../../src/host/config.js';
import { openDatabaseFor } from '../../src/host/db/database.js';
import { createAuthRepository } from '../../src/host/db/repositories/auth.js';
import type { OpsEvent } from '../../src/host/ops-events.js';
import { createTestDatabase } from '../helpers/service.js';

const UID = '33333333-3333-4333-8333-333333333333';

function io() {
  const out = { stdout: '', stderr: '' };
  return {
    out,
    io: {
      stdout: (s: string) => void (out.stdout += s),
      stderr: (s: string) => void (out.stderr += s),
    },
  };
}

describe('operator CLI: arguments', () => {
  it('reads grant|revoke, the email and --by', () => {
    assert.deepEqual(parseOperatorArgs(['grant', 'a@example.test']), {
      action: 'grant',
      email: 'a@example.test',
      by: undefined,
    });
    assert.deepEqual(parseOperatorArgs(['revoke', 'a@example.test', '--by', 'alice']), {
      action: 'revoke',
      email: 'a@example.test',
      by: 'alice',
    });
    assert.equal(parseOperatorArgs(['grant']), null);
    assert.equal(parseOperatorArgs(['promote', 'a@example.test']), null);
    assert.equal(parseOperatorArgs([]), null);
  });

  it('anything else: the usage line and exit 2, without opening a database', async () => {
    for (const args of [
      [],
      ['grant'],
      ['promote', 'a@example.test'],
      ['grant', 'a@example.test', '--bogus'],
    ]) {
      const { out, io: sink } = io();
      // DATA_DIR points nowhere writable: a database opened would fail otherwise.
      const code = await runOperatorCli(args, { DATA_DIR: '/proc/none' }, sink);
      assert.equal(code, 2, JSON.stringify(args));
      assert.equal(out.stderr, OPERATOR_USAGE);
      assert.equal(out.stderr, 'usage: npm run operator -- grant|revoke <email> [--by <name>]\n');
      assert.equal(out.stdout, '');
    }
  });
});

describe('operator CLI: setOperator', () => {
  function fake(answer: string | null) {
    const calls: unknown[][] = [];
    const recorded: { q: unknown; event: OpsEvent }[] = [];
    const TX = { tx: 1 };
    const deps = {
      db: { transaction: async <T>(fn: (tx: never) => Promise<T>) => fn(TX as never) },
      repo: {
        grantRole: async (...a: unknown[]) => (calls.push(['grant', ...a]), answer),
        revokeRole: async (...a: unknown[]) => (calls.push(['revoke', ...a]), answer),
      },
      ops: {
        record: async (q: unknown, event: OpsEvent) => void recorded.push({ q, event }),
        emit: () => undefined,
      },
    };
    return { deps: deps as never, calls, recorded, TX };
  }

  it('grants and revokes the operator role of the normalized email, recording who did it', async () => {
    for (const action of ['grant', 'revoke'] as const) {
      const f = fake(UID);
      assert.equal(await setOperator(f.deps, action, ' A@Example.TEST ', 'alice'), true);
      assert.deepEqual(f.calls, [[action, 'a@example.test', 'operator', f.TX]]);
      assert.deepEqual(f.recorded, [
        {
          q: f.TX,
          event: {
            type: action === 'grant' ? 'auth.role_granted' : 'auth.role_revoked',
            userId: UID,
            role: 'operator',
            by: 'cli:alice',
          },
        },
      ]);
    }
  });

  it('no such account: false and nothing recorded; a malformed email is refused', async () => {
    const f = fake(null);
    assert.equal(await setOperator(f.deps, 'grant', 'a@example.test', 'alice'), false);
    assert.deepEqual(f.recorded, []);
    await assert.rejects(setOperator(fake(UID).deps, 'grant', 'not an email', 'alice'));
  });
});

describe('operator CLI: against a PostgreSQL database', () => {
  // A fresh database per run on the local server (the helpers' TEST_DATABASE_URL, else the
  // development default); PGlite's first start in a new folder costs tens of seconds, too slow
  // to run against every mutant.
  process.env.TEST_DATABASE_URL ??= 'postgres://postgres@127.0.0.1:5432/test';
  const dbs: { url: string; drop: () => Promise<void> }[] = [];
  let url: string;
  before(async () => {
    dbs.push(await createTestDatabase(), await createTestDatabase());
    url = dbs[0]!.url;
    // MIGRATE_ON_START=true migrates the new database (then finds no account).
    const first = io();
    const env = { DATABASE_URL: url, MIGRATE_ON_START: 'true' };
    assert.equal(await runOperatorCli(['grant', 'op@example.test'], env, first.io), 1);
    assert.equal(first.out.stderr, 'no account with that email\n');
    const db = await openDatabaseFor(loadConfig({ DATABASE_URL: url }));
    try {
      const sealed = `ph1.${'A'.repeat(44)}`;
      // The operator CLI reads only the account row: a well-formed binding is enough here.
      const binding = `mb1.${'B'.repeat(43)}`;
      assert.ok(await createAuthRepository(db).insertUser(UID, 'op@example.test', sealed, binding));
    } finally {
      await db.close();
    }
  });
  after(async () => {
    for (const d of dbs) await d.drop();
  });

  async function state() {
    const db = await openDatabaseFor(loadConfig({ DATABASE_URL: url }));
    try {
      const user = await createAuthRepository(db).findUserByEmail('op@example.test');
      const { rows } = await db.query<{ event_type: string; details: unknown }>(
        'SELECT event_type, details FROM ops_logs ORDER BY id',
      );
      return { roles: user!.roles, events: rows };
    } finally {
      await db.close();
    }
  }

  it('grant, then revoke: exit 0, the message, the role, the events with who', async () => {
    const g = io();
    const env = { DATABASE_URL: url };
    assert.equal(await runOperatorCli(['grant', 'OP@example.test', '--by', 'alice'], env, g.io), 0);
    assert.equal(g.out.stdout, 'operator role granted\n');
    assert.equal(g.out.stderr, '');
    assert.deepEqual((await state()).roles, ['operator']);

    const r = io();
    assert.equal(await runOperatorCli(['revoke', 'op@example.test'], env, r.io, () => 'bob'), 0);
    assert.equal(r.out.stdout, 'operator role revoked\n');
    const s = await state();
    assert.deepEqual(s.roles, []);
    const events = s.events.map((e) => [e.event_type, (e.details as { by: string }).by]);
    assert.deepEqual(events, [
      ['auth.role_granted', 'cli:alice'],
      ['auth.role_revoked', 'cli:bob'],
    ]);
  });

  it('without --by, the OS user is recorded; without one, `unknown`', async () => {
    const env = { DATABASE_URL: url };
    assert.equal(await runOperatorCli(['grant', 'op@example.test'], env, io().io), 0);
    const by = async () => ((await state()).events.at(-1)!.details as { by: string }).by;
    assert.equal(await by(), `cli:${os.userInfo().username}`);
    // A uid without a passwd entry (a container's arbitrary user): userInfo() throws.
    mock.method(os, 'userInfo', () => {
      throw Object.assign(new Error('uid not found'), { code: 'ENOENT' });
    });
    syncBuiltinESMExports();
    try {
      assert.equal(await runOperatorCli(['revoke', 'op@example.test'], env, io().io), 0);
    } finally {
      mock.restoreAll();
      syncBuiltinESMExports();
    }
    assert.equal(await by(), 'cli:unknown');
  });

  it('closes its database: a DROP DATABASE right after finds no session left in it', async () => {
    const d = await createTestDatabase();
    dbs.push(d);
    const env = { DATABASE_URL: d.url, MIGRATE_ON_START: 'true' };
    assert.equal(await runOperatorCli(['grant', 'op@example.test'], env, io().io), 1);
    // Without FORCE: refused while any connection to it is open (after a 5 s wait; an idle
    // pool client would hold it for 10 s).
    const admin = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
    await admin.connect();
    try {
      await admin.query(`DROP DATABASE ${new URL(d.url).pathname.slice(1)}`);
    } finally {
      await admin.end();
    }
  });

  it('run as the script: the arguments after it, the process streams and exit code, umask 077', async () => {
    const saved = { argv: process.argv, env: process.env, exitCode: process.exitCode };
    const umask = process.umask();
    const written = { stdout: '', stderr: '' };
    // The command's own lines are kept; anything else (the test runner's report) goes through.
    const ours = /^(operator role (granted|revoked)\n|usage: |no account|operator)/;
    const capture = (name: 'stdout' | 'stderr') => {
      const original = process[name].write.bind(process[name]) as (c: unknown) => boolean;
      return mock.method(process[name], 'write', (chunk: unknown) => {
        if (typeof chunk !== 'string' || !ours.test(chunk)) return original(chunk);
        written[name] += chunk;
        return true;
      });
    };
    let n = 0;
    /** Imports a fresh copy of the module with this argv (its top-level code runs again). */
    async function runAs(argv: string[]) {
      process.argv = [saved.argv[0]!, ...argv];
      process.exitCode = undefined;
      written.stdout = written.stderr = '';
      const out = capture('stdout');
      const err = capture('stderr');
      try {
        await import(`../../src/host/auth/operator-cli.js?main=${++n}`);
        return { exitCode: process.exitCode, ...written, umask: process.umask() };
      } finally {
        out.mock.restore();
        err.mock.restore();
        process.umask(umask);
      }
    }
    try {
      process.env = { DATABASE_URL: url };
      const ts = await runAs(['/x/src/host/auth/operator-cli.ts', 'grant', 'op@example.test']);
      assert.deepEqual(ts, {
        exitCode: 0,
        stdout: 'operator role granted\n',
        stderr: '',
        umask: 0o077,
      });
      const js = await runAs(['/x/dist/operator-cli.js', 'promote']);
      assert.deepEqual(js, { exitCode: 2, stdout: '', stderr: OPERATOR_USAGE, umask: 0o077 });
      // Imported by anything else (a test, the service), or with no script at all: nothing runs.
      for (const argv of [['/x/test/operator-cli.ts.bak', 'grant', 'op@example.test'], []]) {
        const other = await runAs(argv);
        assert.deepEqual(other, { exitCode: undefined, stdout: '', stderr: '', umask });
      }
    } finally {
      process.argv = saved.argv;
      process.env = saved.env;
      process.exitCode = saved.exitCode;
    }
  });

  it('an unknown account: exit 1 and says so', async () => {
    const x = io();
    const code = await runOperatorCli(
      ['grant', 'nobody@example.test'],
      { DATABASE_URL: url },
      x.io,
    );
    assert.equal(code, 1);
    assert.equal(x.out.stderr, 'no account with that email\n');
    assert.equal(x.out.stdout, '');
  });

  it('a malformed email fails without detail: exit 1', async () => {
    const x = io();
    assert.equal(await runOperatorCli(['grant', 'not-an-email'], { DATABASE_URL: url }, x.io), 1);
    assert.equal(x.out.stderr, 'operator command failed\n');
  });

  it('a bad configuration: its exit code (78) and the variable named', async () => {
    const x = io();
    const code = await runOperatorCli(
      ['grant', 'op@example.test'],
      { DATABASE_URL: url, AUTH_LOGIN_MAX_PER_IP: '0' },
      x.io,
    );
    assert.equal(code, 78);
    assert.match(x.out.stderr, /^operator: invalid configuration: AUTH_LOGIN_MAX_PER_IP/);
  });

  it('a database never migrated is refused (a server is migrated by its owner)', async () => {
    const x = io();
    const code = await runOperatorCli(
      ['grant', 'op@example.test'],
      { DATABASE_URL: dbs[1]!.url },
      x.io,
    );
    assert.equal(code, 78);
    assert.match(x.out.stderr, /^operator: /);
  });
});
