/**
 * The real host (`npm start`'s entry point, spawned as its own process): its data folder is
 * private to its account, one process at a time owns an embedded database, and a start-up
 * failure is one line naming the variable to change, with exit code 78 (EX_CONFIG) or 69
 * (EX_UNAVAILABLE), no stack trace, and no enclave child left behind.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:net';
import { freePort } from '../helpers/ports.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ensureEnclaveBundle, seededDataDir } from '../helpers/service.js';

interface Run {
  proc: ChildProcess;
  stdout: string[];
  stderr: string[];
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const temp: string[] = [];
const runs: Run[] = [];
after(async () => {
  // Whatever a failed assertion left running (host and enclave: the groups this file started).
  for (const r of runs) await killGroup(r);
  for (const d of temp) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'cloister-startup-'));
  temp.push(d);
  return d;
}

/**
 * A DATA_DIR with a database already made (the initdb'd template), for the tests whose subject
 * is not the first start's creation of it (that one is the first test's).
 */
async function dataDirWithDatabase(): Promise<string> {
  const d = await seededDataDir('cloister-startup-');
  temp.push(d);
  return d;
}

/** A port nobody listens on now: bound, noted, closed. */
/** Spawns `entry` (a host entry point) in its own process group, so a test can kill -9 all of it. */
function run(entry: string, env: Record<string, string>, args: string[] = []): Run {
  const proc = spawn(process.execPath, ['--import', 'tsx', entry, ...args], {
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  proc.stdout!.on('data', (b: Buffer) => stdout.push(b.toString('utf8')));
  proc.stderr!.on('data', (b: Buffer) => stderr.push(b.toString('utf8')));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    proc.once('exit', (code, signal) => r({ code, signal })),
  );
  const handle = { proc, stdout, stderr, exit };
  runs.push(handle);
  return handle;
}

const startHost = async (env: Record<string, string>) =>
  run('src/host/main.ts', { ENCLAVE_PORT: String(await freePort()), ...env });

/** Resolves when the host logs that it listens; rejects if it exits first. */
async function listening(r: Run): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const check = () => {
      if (r.stdout.join('').includes('cloister listening on')) resolve();
    };
    r.proc.stdout!.on('data', check);
    check();
    void r.exit.then(({ code }) =>
      reject(new Error(`host exited (${code}) before listening: ${r.stderr.join('')}`)),
    );
  });
}

/** The pids of the enclave children the host reported (its `enclave.listening` line). */
function enclavePids(r: Run): number[] {
  return [
    ...r.stdout.join('').matchAll(/\\"event\\":\\"enclave\.listening\\"[^\n]*?\\"pid\\":(\d+)/g),
  ].map((m) => Number(m[1]));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Kills the host and its enclave child (the process group this test started), if any is left. */
async function killGroup(r: Run, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  try {
    // Also when the host has exited: a crashed host may have left its enclave in the group.
    process.kill(-r.proc.pid!, signal);
  } catch {
    // the whole group is gone
  }
  if (r.proc.exitCode === null && r.proc.signalCode === null) await r.exit;
}

async function stopHost(r: Run): Promise<void> {
  r.proc.kill('SIGTERM');
  const { code } = await r.exit;
  assert.equal(code, 0, r.stderr.join(''));
}

/** The failure contract: exit code, exactly one line on stderr naming `variable`, no stack. */
async function assertStartupFailure(r: Run, exitCode: number, variable: string): Promise<string> {
  // A host that starts instead of failing is a failure at once (not a hang until the timeout).
  const started = listening(r).then(
    () => true,
    () => false,
  );
  if (await Promise.race([started, r.exit.then(() => false)])) {
    await killGroup(r);
    assert.fail(`the host started instead of failing with ${exitCode}`);
  }
  const { code } = await r.exit;
  const err = r.stderr.join('');
  assert.equal(code, exitCode, err);
  const lines = err.split('\n').filter(Boolean);
  assert.equal(lines.length, 1, `one line expected on stderr, got:\n${err}`);
  assert.ok(lines[0]!.includes(variable), `names ${variable}: ${lines[0]}`);
  assert.doesNotMatch(err, /\n\s+at /, 'no stack trace');
  // No enclave child outlives a failed start.
  for (const pid of enclavePids(r)) assert.equal(alive(pid), false, `enclave ${pid} left running`);
  return lines[0]!;
}

function filesUnder(dir: string): { path: string; mode: number }[] {
  const out: { path: string; mode: number }[] = [];
  const walk = (p: string) => {
    const st = lstatSync(p);
    if (st.isSymbolicLink()) return;
    out.push({ path: p, mode: st.mode & 0o777 });
    if (st.isDirectory()) for (const n of readdirSync(p)) walk(join(p, n));
  };
  walk(dir);
  return out;
}

describe('host start-up (spawned)', { timeout: 400_000 }, () => {
  ensureEnclaveBundle();

  it('keeps DATA_DIR private: created 0700, nothing under it readable or writable by others, an existing folder tightened', async () => {
    const root = tempDir();
    // An existing folder left loose by an earlier run or a careless copy.
    const dataDir = join(root, 'data');
    mkdirSync(join(dataDir, 'old'), { recursive: true });
    chmodSync(dataDir, 0o755);
    writeFileSync(join(dataDir, 'old', 'leftover'), 'x');
    chmodSync(join(dataDir, 'old', 'leftover'), 0o666);
    const host = await startHost({ DATA_DIR: dataDir });
    try {
      await listening(host);
      const loose = filesUnder(dataDir).filter((f) => (f.mode & 0o077) !== 0);
      assert.deepEqual(loose, [], 'every file and folder is private to the account');
      assert.ok(filesUnder(join(dataDir, 'pglite')).length > 100, 'the PGlite files were checked');
    } finally {
      await stopHost(host).finally(() => killGroup(host));
    }
    assert.deepEqual(
      filesUnder(dataDir).filter((f) => (f.mode & 0o077) !== 0),
      [],
      'still private after stop',
    );

    const fresh = join(root, 'fresh', 'data');
    const second = await startHost({ DATA_DIR: fresh });
    try {
      await listening(second);
      assert.equal(lstatSync(fresh).mode & 0o777, 0o700);
    } finally {
      await stopHost(second).finally(() => killGroup(second));
    }
  });

  it('refuses a DATA_DIR other accounts can write to (78, names DATA_DIR)', async () => {
    const dataDir = join(tempDir(), 'data');
    mkdirSync(dataDir);
    chmodSync(dataDir, 0o777);
    await assertStartupFailure(await startHost({ DATA_DIR: dataDir }), 78, 'DATA_DIR');
  });

  it('one process per embedded database: a second start and the operator CLI are refused naming the pid; a kill -9 leaves no blocking lock', async () => {
    const dataDir = await dataDirWithDatabase();
    const first = await startHost({ DATA_DIR: dataDir });
    try {
      await listening(first);
      const pid = first.proc.pid!;

      const line = await assertStartupFailure(
        await startHost({ DATA_DIR: dataDir }),
        69,
        'DATA_DIR',
      );
      assert.ok(line.includes(`process ${pid}`), line);

      const op = run('src/host/auth/operator-cli.ts', { DATA_DIR: dataDir }, [
        'grant',
        'someone@example.com',
      ]);
      const opLine = await assertStartupFailure(op, 69, 'DATA_DIR');
      assert.ok(opLine.includes(`process ${pid}`), opLine);

      const mig = run('src/host/db/migrate-cli.ts', { DATA_DIR: dataDir });
      assert.ok((await assertStartupFailure(mig, 69, 'DATA_DIR')).includes(`process ${pid}`));
    } finally {
      // kill -9 of the host and its enclave: the lock file stays behind, naming a dead pid.
      await killGroup(first);
    }
    assert.ok(readdirSync(dataDir).includes('cloister.lock'), 'the stale lock is there');

    const next = await startHost({ DATA_DIR: dataDir });
    try {
      await listening(next);
    } finally {
      await stopHost(next).finally(() => killGroup(next));
    }
    assert.ok(!readdirSync(dataDir).includes('cloister.lock'), 'a clean stop removes the lock');
  });

  it('a taken port: 69, names ENCLAVE_PORT, and the enclave child it had started is stopped', async () => {
    const server: Server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const r = await startHost({
        DATA_DIR: await dataDirWithDatabase(),
        ENCLAVE_PORT: String(port),
      });
      await assertStartupFailure(r, 69, 'ENCLAVE_PORT');
      assert.equal(enclavePids(r).length, 1, 'the enclave had started before listen failed');
    } finally {
      server.close();
    }
  });

  it('an unreachable database: 69, names DATABASE_URL, never echoes it', async () => {
    const port = await freePort();
    const r = await startHost({
      DATA_DIR: join(tempDir(), 'data'),
      DATABASE_URL: `postgres://cloister:hunter2secret@127.0.0.1:${port}/cloister`,
    });
    const line = await assertStartupFailure(r, 69, 'DATABASE_URL');
    assert.ok(!line.includes('hunter2secret'));
  });

  it('a DATA_DIR locked by a live process: 69, names the pid and DATA_DIR', async () => {
    const dataDir = join(tempDir(), 'data');
    mkdirSync(dataDir, { mode: 0o700 });
    writeFileSync(join(dataDir, 'cloister.lock'), `${process.pid}\n`);
    const line = await assertStartupFailure(await startHost({ DATA_DIR: dataDir }), 69, 'DATA_DIR');
    assert.ok(line.includes(`process ${process.pid}`), line);
  });

  for (const [variable, env] of [
    ['ENCLAVE_PORT', { ENCLAVE_PORT: '70000' }],
    [
      'AUTH_DISABLED_FOR_DEVELOPMENT',
      {
        CLOISTER_ENV: 'production',
        ALLOW_SIMULATED_IN_PRODUCTION: 'true',
        AUTH_DISABLED_FOR_DEVELOPMENT: 'true',
      },
    ],
  ] as const) {
    it(`bad configuration (${variable}): 78, one line naming it`, async () => {
      await assertStartupFailure(
        await startHost({ DATA_DIR: join(tempDir(), 'data'), ...env }),
        78,
        variable,
      );
    });
  }
});
