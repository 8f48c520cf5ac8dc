/**
 * What the real host (`src/host/main.ts`, spawned) prints when it crashes: an uncaught exception
 * or an unhandled rejection after start-up began. Node's own handler prints the error with
 * util.inspect, every own field included: a PGlite or PostgreSQL error carries `detail` ("Key
 * (email)=(…) already exists") and PGlite's also `query` and `params` (the values being
 * written), and a message may quote input (JSON.parse's does). Operator and data at rest,
 * second review: the host prints one line naming what crashed, the error's class and code, and
 * the stack's frames, none of those fields, and exits 70 (EX_SOFTWARE) like a failed start.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { freePort } from '../helpers/ports.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, describe, it } from 'node:test';
import { crashReport } from '../../src/host/crash-report.js';
import { ensureEnclaveBundle, seededDataDir } from '../helpers/service.js';

const SECRET = 'PLANTED-crash-7f3a9c@example.org';

/**
 * Preloaded into the host: once the host holds its data folder's lock (main.ts is running),
 * throws (or rejects with) an error shaped as a database error that quotes SECRET everywhere
 * a database error or a parser's message may.
 */
const preloadFor = (as: 'exception' | 'rejection') => `
import { existsSync } from 'node:fs';
import { join } from 'node:path';
const lock = join(process.env.DATA_DIR, 'cloister.lock');
const timer = setInterval(() => {
  if (!existsSync(lock)) return;
  clearInterval(timer);
  const err = Object.assign(new Error('Unexpected token, "${SECRET}" is not valid JSON'), {
    code: '23505',
    detail: 'Key (email)=(${SECRET}) already exists.',
    query: 'INSERT INTO users (email) VALUES ($1)',
    params: ['${SECRET}'],
  });
  if ('${as}' === 'rejection') void Promise.reject(err);
  else throw err;
}, 2);
`;

const temp: string[] = [];
const pgids: number[] = [];
after(() => {
  for (const pid of pgids) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const d of temp) rmSync(d, { recursive: true, force: true });
});

/** A port nobody listens on now (the host crashes before it listens, but not on another's). */
async function crash(as: 'exception' | 'rejection') {
  ensureEnclaveBundle();
  const dir = mkdtempSync(join(tmpdir(), 'cloister-crash-'));
  temp.push(dir);
  const preload = join(dir, 'preload.mjs');
  writeFileSync(preload, preloadFor(as));
  const dataDir = await seededDataDir('cloister-crash-');
  temp.push(dataDir);
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', '--import', pathToFileURL(preload).href, 'src/host/main.ts'],
    {
      env: {
        PATH: process.env.PATH ?? '',
        DATA_DIR: dataDir,
        PORT: String(await freePort()),
        ENCLAVE_PORT: String(await freePort()),
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    },
  );
  pgids.push(proc.pid!);
  let out = '';
  proc.stdout!.on('data', (b: Buffer) => (out += b.toString('utf8')));
  proc.stderr!.on('data', (b: Buffer) => (out += b.toString('utf8')));
  const code = await new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
  return { code, out };
}

describe('host crash output (spawned)', { timeout: 120_000 }, () => {
  for (const [as, what] of [
    ['exception', 'uncaught exception'],
    ['rejection', 'unhandled rejection'],
  ] as const) {
    it(`an ${what} prints the class, the code and the frames, never the error's fields`, async () => {
      const { code, out } = await crash(as);
      assert.ok(!out.includes(SECRET), `the planted value is in the crash output:\n${out}`);
      assert.ok(!out.includes('INSERT INTO'), 'the query is in the crash output');
      assert.equal(code, 70, out);
      assert.match(out, new RegExp(`cloister: fatal: ${what}: Error \\(23505\\)\\n`));
      assert.match(out, /\n {4}at .*preload\.mjs/, 'the frames are kept');
    });
  }
});

describe('crashReport', () => {
  it('passes no text of the message off as a frame, and names only what reads as a class or code', () => {
    const forged = new Error(`bad input\n    at ${SECRET} (x.js:1:1)`);
    const report = crashReport('uncaught exception', forged);
    assert.ok(!report.includes(SECRET), report);
    assert.match(report, /\n {4}at .*crash-output\.test\.ts/);
    const odd = Object.assign(new Error('x'), { code: `${SECRET} with spaces` });
    assert.equal(crashReport('x', odd).split('\n')[0], 'cloister: fatal: x: Error');
    assert.equal(
      crashReport('unhandled rejection', SECRET),
      'cloister: fatal: unhandled rejection: string\n',
    );
  });
});
