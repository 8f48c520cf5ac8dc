/**
 * Starts the whole service in this process for a benchmark, as production composes it
 * (createService: database + migrations, enclave child process, log service, Fastify app):
 * PGlite in a fresh temp folder, or a fresh database on the BENCH_DATABASE_URL server. Logs go
 * to a sink that discards them but counts warnings and errors (a run that logged errors is
 * suspect and says so). `stop()` stops everything and removes the folder and the database.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pg from 'pg';
import { loadConfig } from '../../src/host/config.js';
import { createService, type Service } from '../../src/host/service.js';

/** The log batching the service runs with: the production defaults unless set in the environment. */
export const LOG_BATCH = {
  intervalMs: Number(process.env.LOG_BATCH_INTERVAL_MS ?? 5),
  max: Number(process.env.LOG_BATCH_MAX ?? 512),
};

export interface BenchService {
  service: Service;
  engine: 'pglite' | 'postgres';
  dataDir: string;
  /** The PostgreSQL database's URL (undefined on PGlite). */
  databaseUrl: string | undefined;
  vendorKey: string;
  measurement: string;
  /** Log lines at level warn or above written so far, and the last few of them. */
  problems(): { count: number; last: string[] };
  stop(): Promise<void>;
}

function ensureEnclaveBundle(): void {
  if (!existsSync('dist/enclave/enclave.mjs'))
    execFileSync(process.execPath, ['scripts/build-enclave.mjs'], { stdio: 'inherit' });
}

async function createDatabase(admin: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `cloister_bench_${randomBytes(6).toString('hex')}`;
  const run = async (sql: string) => {
    const c = new pg.Client({ connectionString: admin });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await run(`CREATE DATABASE ${name}`);
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => run(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

export async function startBenchService(
  env: Record<string, string> = {},
  /** bench/cluster.ts: a given machine folder, and another instance's database (not dropped). */
  on: { dataDir?: string; databaseUrl?: string } = {},
): Promise<BenchService> {
  ensureEnclaveBundle();
  const dataDir = on.dataDir ?? mkdtempSync(join(tmpdir(), 'cloister-bench-'));
  const admin = process.env.BENCH_DATABASE_URL;
  let database: { url: string; drop(): Promise<void> } | undefined = on.databaseUrl
    ? { url: on.databaseUrl, drop: async () => undefined }
    : undefined;
  let service: Service | undefined;
  const problems: string[] = [];
  let problemCount = 0;
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      const text = chunk.toString('utf8');
      // pino levels: 40 warn, 50 error, 60 fatal.
      if (/"level":(4|5|6)0/.test(text)) {
        for (const line of text.split('\n')) {
          if (!/"level":(4|5|6)0/.test(line)) continue;
          problemCount++;
          problems.push(line.slice(0, 300));
          if (problems.length > 5) problems.shift();
        }
      }
      cb();
    },
  });
  try {
    if (admin && !database) database = await createDatabase(admin);
    const config = loadConfig({
      DATA_DIR: dataDir,
      // One client address sends everything; the limiter still runs on every request.
      RATE_LIMIT_MAX: '10000000',
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
      KEY_ROTATION_INTERVAL_SECONDS: '0',
      // submit-key, rpc and log-append measure the credential path without tokens, explicitly
      // (bench/auth.ts measures logins and token verification).
      AUTH_DISABLED_FOR_DEVELOPMENT: 'true',
      LOG_BATCH_INTERVAL_MS: String(LOG_BATCH.intervalMs),
      LOG_BATCH_MAX: String(LOG_BATCH.max),
      ...(database ? { DATABASE_URL: database.url } : {}),
      // A fresh test database is migrated by the service itself (as `npm run migrate` would).
      MIGRATE_ON_START: 'true',
      // Benches send envelopes at once after the start: with 0 skew the enclave's
      // envelope_not_before (boot + skew + 1) is already past when it serves (SECURITY.md
      // "Replay across restarts"); with the default 30 the first 31 s would be refused.
      ENVELOPE_MAX_FUTURE_SECONDS: '0',
      // Another enclave bundle (a before/after comparison) when the environment names one.
      ...(process.env.ENCLAVE_BUNDLE ? { ENCLAVE_BUNDLE: process.env.ENCLAVE_BUNDLE } : {}),
      ...env,
    });
    service = await createService(config, { logDestination: sink });
  } catch (err) {
    await database?.drop().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  const vendorPath = join(dataDir, 'simulated-platform', 'vendor.pub');
  const svc = service;
  let stopped: Promise<void> | null = null;
  return {
    service: svc,
    engine: svc.db.engine,
    dataDir,
    databaseUrl: database?.url,
    vendorKey: existsSync(vendorPath) ? readFileSync(vendorPath, 'utf8').trim() : '',
    measurement: svc.enclave.measurement(),
    problems: () => ({ count: problemCount, last: [...problems] }),
    stop() {
      stopped ??= (async () => {
        try {
          await svc.stop();
        } finally {
          await database?.drop().catch(() => undefined);
          rmSync(dataDir, { recursive: true, force: true });
        }
      })();
      return stopped;
    },
  };
}

/**
 * Runs `fn` with `given` (a service shared by several benchmarks of one run: starting PGlite
 * alone takes seconds) or with a service of its own, started now and stopped afterwards.
 * Either way the warnings and errors the service logged during `fn` are reported.
 */
export async function useService<T>(
  given: BenchService | undefined,
  fn: (s: BenchService) => Promise<T>,
): Promise<T> {
  const s = given ?? (await startBenchService());
  const since = s.problems().count;
  try {
    return await fn(s);
  } finally {
    reportProblems(s, since);
    if (!given) await s.stop();
  }
}

/** Reports the warnings and errors the service logged since `since`, if any. */
export function reportProblems(s: BenchService, since = 0): number {
  const { count, last } = s.problems();
  const n = count - since;
  if (n > 0) {
    console.warn(`  ! the service logged ${n} warning/error line(s); last ones:`);
    for (const l of last.slice(-Math.min(n, last.length))) console.warn(`    ${l}`);
  }
  return n;
}

const listening = new WeakMap<BenchService, Promise<string>>();

/** The service's HTTP base URL, listening on an ephemeral port of 127.0.0.1 (once). */
export function baseUrl(s: BenchService): Promise<string> {
  let p = listening.get(s);
  if (!p) {
    p = s.service.app
      .listen({ port: 0, host: '127.0.0.1' })
      .then(() => `http://127.0.0.1:${(s.service.app.server.address() as AddressInfo).port}`);
    listening.set(s, p);
  }
  return p;
}
