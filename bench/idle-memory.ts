/**
 * Idle memory of the default run (issue 17): the compiled host as `npm start` runs it (PGlite,
 * the start script's node flags), on a fresh DATA_DIR and again after a restart on the same
 * folder. After /readyz answers, waits `BENCH_IDLE_WAIT_S` (default 20, quick 10) seconds and
 * reads VmRSS and VmHWM of the host and of the enclave child from /proc. RSS counts the node
 * binary's shared pages (~50 MiB) in both processes, as the goal does. Compiles the host first
 * (`tsc -p tsconfig.json` + the migrations), since `npm run bench` builds only the enclave.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fmt, pick, printTable } from './lib/measure.js';

export interface IdleMemoryRun {
  start: 'fresh' | 'restart';
  hostRssMiB: number;
  hostPeakMiB: number;
  enclaveRssMiB: number;
  enclavePeakMiB: number;
  totalMiB: number;
}

export interface IdleMemoryResult {
  name: 'idle-memory';
  nodeFlags: string[];
  runs: IdleMemoryRun[];
}

const status = (pid: number, field: string): number => {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The node flags of `npm start` (package.json), so the figure is the default run's. */
function startFlags(): string[] {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: { start: string } };
  const words = pkg.scripts.start.split(/\s+/);
  return words.slice(1, words.indexOf('dist/host/main.js'));
}

async function once(dataDir: string, flags: string[], start: IdleMemoryRun['start']) {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const host = spawn(process.execPath, [...flags, 'dist/host/main.js'], {
    env: { PATH: process.env.PATH ?? '', DATA_DIR: dataDir, PORT: String(port), LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    const deadline = Date.now() + 120_000;
    for (;;) {
      if (Date.now() > deadline) throw new Error('the host did not answer /readyz in 120 s');
      if (host.exitCode !== null) throw new Error(`the host exited (${host.exitCode})`);
      const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      await sleep(250);
    }
    await sleep(Number(process.env.BENCH_IDLE_WAIT_S ?? pick(20, 10)) * 1000);
    const enclave = Number(
      readFileSync(`/proc/${host.pid}/task/${host.pid}/children`, 'utf8').trim().split(/\s+/)[0],
    );
    const run: IdleMemoryRun = {
      start,
      hostRssMiB: status(host.pid!, 'VmRSS'),
      hostPeakMiB: status(host.pid!, 'VmHWM'),
      enclaveRssMiB: status(enclave, 'VmRSS'),
      enclavePeakMiB: status(enclave, 'VmHWM'),
      totalMiB: 0,
    };
    run.totalMiB = run.hostRssMiB + run.enclaveRssMiB;
    return run;
  } finally {
    const exited = new Promise((r) => host.once('exit', r));
    host.kill('SIGTERM');
    await exited;
  }
}

export async function runIdleMemory(): Promise<IdleMemoryResult> {
  execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
  execFileSync(process.execPath, ['scripts/copy-assets.mjs'], { stdio: 'inherit' });
  const flags = startFlags();
  const dataDir = mkdtempSync(join(tmpdir(), 'cloister-bench-idle-'));
  try {
    const runs = [await once(dataDir, flags, 'fresh'), await once(dataDir, flags, 'restart')];
    printTable(
      `idle memory of the default run (node ${flags.join(' ')} dist/host/main.js, PGlite)`,
      [
        ...runs.map((r) => ({
          start: r.start,
          'host RSS MiB (peak)': `${fmt(r.hostRssMiB)} (${fmt(r.hostPeakMiB)})`,
          'enclave RSS MiB (peak)': `${fmt(r.enclaveRssMiB)} (${fmt(r.enclavePeakMiB)})`,
          'total MiB': fmt(r.totalMiB),
        })),
      ],
    );
    return { name: 'idle-memory', nodeFlags: flags, runs };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}
