/**
 * The enclave does not outlive its host. A real host process (`src/host/main.ts`) is started:
 * after `kill -9` of the host its enclave child (spawned with a 2 MiB semi-space) exits by itself
 * (it watches its parent); a host whose `listen` fails (port taken) stops its enclave before it
 * exits non-zero.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { freePort } from '../helpers/ports.js';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { ensureEnclaveBundle, seededDataDir } from '../helpers/service.js';

/** Generous liveness bound: it bounds the test, it asserts nothing about speed. */
const BOUND_MS = 120_000;

/** True while `pid` is a live process (a zombie, dead but not yet reaped, counts as gone). */
function alive(pid: number): boolean {
  const stat = `/proc/${pid}/stat`;
  if (existsSync('/proc/self/stat')) {
    if (!existsSync(stat)) return false;
    try {
      // Field 3 is the state; the command name before it is parenthesised.
      return readFileSync(stat, 'utf8').split(') ')[1]?.[0] !== 'Z';
    } catch {
      return false;
    }
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

interface Host {
  proc: ChildProcess;
  /** Resolves with the enclave child's pid once it listens. */
  enclavePid: Promise<number>;
  listening: Promise<void>;
  exited: Promise<number | null>;
}

function startHost(dataDir: string, port: number): Host {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/host/main.ts'], {
    env: {
      PATH: process.env.PATH ?? '',
      DATA_DIR: dataDir,
      ENCLAVE_PORT: String(port),
      KEY_ROTATION_INTERVAL_SECONDS: '0',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let gotPid: (pid: number) => void;
  let gotListening: () => void;
  const enclavePid = new Promise<number>((r) => (gotPid = r));
  const listening = new Promise<void>((r) => (gotListening = r));
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    // The supervisor forwards the enclave's status line, which names its pid.
    const m = /\\"event\\":\\"enclave.listening\\".*?\\"pid\\":(\d+)/.exec(line);
    if (m) gotPid(Number(m[1]));
    if (line.includes('cloister listening')) gotListening();
  });
  proc.stderr!.resume();
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return { proc, enclavePid, listening, exited };
}

async function within<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`gave up waiting for ${what}`)), BOUND_MS);
  });
  try {
    return await Promise.race([p, bound]);
  } finally {
    clearTimeout(timer);
  }
}

describe('the enclave does not outlive its host', () => {
  ensureEnclaveBundle();
  const dirs: string[] = [];
  const pids: number[] = [];
  // The database's creation is not the subject: each host starts from the initdb'd template.
  const tempDir = async () => {
    const d = await seededDataDir('cloister-lifecycle-');
    dirs.push(d);
    return d;
  };
  after(() => {
    for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('kill -9 of the host: the enclave exits by itself', async () => {
    const host = startHost(await tempDir(), await freePort());
    pids.push(host.proc.pid!);
    const enclavePid = await within(host.enclavePid, 'the enclave to listen');
    pids.push(enclavePid);
    await within(host.listening, 'the host to listen');
    assert.ok(alive(enclavePid));
    // Its young generation is the supervisor's (bench/README.md, "Memory"): small, for idle RSS.
    if (existsSync(`/proc/${enclavePid}/cmdline`)) {
      const argv = readFileSync(`/proc/${enclavePid}/cmdline`, 'utf8').split('\0');
      assert.ok(argv.includes('--max-semi-space-size=2'), argv.join(' '));
    }
    host.proc.kill('SIGKILL');
    await host.exited;
    const until = Date.now() + BOUND_MS;
    while (alive(enclavePid)) {
      assert.ok(Date.now() < until, 'the enclave outlived its host');
      await sleep(50);
    }
  });

  it('a host that cannot listen stops its enclave and exits non-zero', async () => {
    const taken: Server = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    try {
      const host = startHost(await tempDir(), (taken.address() as AddressInfo).port);
      pids.push(host.proc.pid!);
      const enclavePid = await within(host.enclavePid, 'the enclave to listen');
      pids.push(enclavePid);
      const code = await within(host.exited, 'the host to exit');
      assert.notEqual(code, 0);
      // Checked at once: the host itself must have stopped it before exiting.
      assert.equal(alive(enclavePid), false, 'the failed host left its enclave running');
    } finally {
      taken.close();
    }
  });
});
