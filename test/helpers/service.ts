/**
 * Starts the real service for a test: real enclave child process, real database (PGlite in a
 * temp folder, or a fresh PostgreSQL database when TEST_DATABASE_URL is set), every log line
 * captured so tests can search it for secrets.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import { loadConfig } from '../../src/host/config.js';
import { openPglite, type Db } from '../../src/host/db/database.js';
import { loadMigrations, migrate } from '../../src/host/db/migrate.js';
import { createService, type Service } from '../../src/host/service.js';

export type Engine = 'pglite' | 'postgres';

/** The engines to run database tests against: PGlite always, PostgreSQL when configured. */
export function engines(): Engine[] {
  return process.env.TEST_DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];
}

export function ensureEnclaveBundle(): void {
  if (!existsSync('dist/enclave/enclave.mjs'))
    execFileSync(process.execPath, ['scripts/build-enclave.mjs']);
}

/**
 * A simulated enclave started by hand, not by a host (as ENCLAVE_SOCKET deployments run it):
 * only its socket and platform folder set, so TEE_PLATFORM is its default. Resolves once it
 * listens.
 */
export function startExternalEnclave(socket: string, platformDir: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['dist/enclave/enclave.mjs'], {
    env: { ENCLAVE_SOCKET_PATH: socket, SIMULATED_PLATFORM_DIR: platformDir },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on(
      'line',
      (l) => l.includes('enclave.listening') && resolve(child),
    );
    child.once('exit', () => reject(new Error('enclave exited')));
  });
}

/** Creates an empty PostgreSQL database on the TEST_DATABASE_URL server; returns its URL and a drop function. */
export async function createTestDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const admin = process.env.TEST_DATABASE_URL;
  if (!admin) throw new Error('TEST_DATABASE_URL is not set');
  const name = `cloister_test_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: admin });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/**
 * A PGlite data folder as the service's first start makes it (PGlite's initdb, no migrations),
 * made once per machine and copied into each fresh test folder. initdb runs PGlite's WASM in a
 * child process for 3–4 s on 2 vCPUs, about 70 % of a test service's start, and the suite starts
 * hundreds; the copy takes ~0.1 s. The service then opens the copy and runs every migration, as
 * on a first start. Keyed by PGlite's version and the code that creates the folder, so a change
 * to either makes a new one. `test/host/pglite-init.test.ts` covers initdb itself.
 */
async function pgliteTemplate(): Promise<string> {
  const key = createHash('sha256')
    .update(readFileSync('node_modules/@electric-sql/pglite/package.json'))
    .update(readFileSync('src/host/db/database.ts'))
    .digest('hex')
    .slice(0, 16);
  const dir = join(tmpdir(), `cloister-test-pglite-${key}`);
  if (existsSync(join(dir, 'pglite', 'PG_VERSION'))) return join(dir, 'pglite');
  const building = mkdtempSync(join(tmpdir(), 'cloister-test-pglite-build-'));
  const db = await openPglite(join(building, 'pglite'));
  await db.close();
  try {
    renameSync(building, dir);
  } catch {
    // Another test process made it meanwhile: use theirs.
    rmSync(building, { recursive: true, force: true });
  }
  return join(dir, 'pglite');
}

/**
 * A new temporary DATA_DIR whose `pglite` folder is a copy of the initdb'd template
 * (`pgliteTemplate`): a host started on it skips PGlite's initdb and runs every migration, as on
 * a first start. For tests whose subject is not the creation of the database; the caller
 * removes the folder.
 */
export async function seededDataDir(prefix = 'cloister-test-'): Promise<string> {
  const dataDir = mkdtempSync(join(tmpdir(), prefix));
  cpSync(await pgliteTemplate(), join(dataDir, 'pglite'), { recursive: true });
  return dataDir;
}

/**
 * An in-memory PGlite database, as `openPglite(null)` opens it, but loaded from a dump of
 * `pgliteTemplate`'s folder instead of running PGlite's initdb in the test process (~0.3 s
 * instead of ~3 s on 2 vCPUs). With `migrated`, the dump is of the template after every
 * migration (`migrate` then finds them all applied, as on a later start): for tests whose
 * subject is not the migrations. Each dump is made once per machine next to the template
 * (`dumpPgliteFolder`), the migrated one per set of migrations. Tests that are about initdb
 * open with `openPglite` itself (`test/host/pglite-init.test.ts`).
 */
export async function openTestPglite(opts: { migrated?: boolean } = {}): Promise<Db> {
  const which = opts.migrated ? 'migrated' : 'template';
  // Read once per process into memory: a Blob backed by the file would fail if another process
  // renamed a dump of its own over it meanwhile.
  let dump = dumps.get(which);
  if (!dump) {
    dump = (opts.migrated ? migratedDump() : templateDump()).then(
      (path) => new Blob([new Uint8Array(readFileSync(path))]),
    );
    dumps.set(which, dump);
  }
  return openPglite(null, await dump);
}

const dumps = new Map<'template' | 'migrated', Promise<Blob>>();

// Each dump is complete or absent (renamed into place): another test process may be reading or
// making it too.
async function templateDump(): Promise<string> {
  const template = await pgliteTemplate();
  const path = join(dirname(template), 'pglite.tar');
  if (!existsSync(path)) dumpPgliteFolder(template, path);
  return path;
}

async function migratedDump(): Promise<string> {
  const key = createHash('sha256');
  for (const m of loadMigrations()) key.update(`${m.version}\0${m.checksum}\0`);
  const path = join(
    dirname(await pgliteTemplate()),
    `pglite-migrated-${key.digest('hex').slice(0, 16)}.tar`,
  );
  if (existsSync(path)) return path;
  const dataDir = await seededDataDir('cloister-test-migrated-');
  try {
    const db = await openPglite(join(dataDir, 'pglite'));
    try {
      await migrate(db);
    } finally {
      await db.close();
    }
    dumpPgliteFolder(join(dataDir, 'pglite'), path);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
  return path;
}

/**
 * Writes PGlite's dump of a closed data folder (`dumpDataDir`, an uncompressed tar: what
 * `openPglite(null, dump)` loads) to `out`, renamed into place when complete. A child process
 * opens a copy (opening a folder writes to it), so the test process compiles PGlite's WASM only
 * through `openPglite`, with its flags.
 */
export function dumpPgliteFolder(folder: string, out: string): void {
  const building = mkdtempSync(join(tmpdir(), 'cloister-test-pglite-dump-'));
  try {
    cpSync(folder, join(building, 'pglite'), { recursive: true });
    const script = [
      `const { writeFileSync } = await import('node:fs');`,
      `const { PGlite } = await import(${JSON.stringify(import.meta.resolve('@electric-sql/pglite'))});`,
      `const db = await PGlite.create(process.argv[1]);`,
      `const dump = await db.dumpDataDir('none');`,
      `await db.close();`,
      `writeFileSync(process.argv[2], Buffer.from(await dump.arrayBuffer()));`,
    ].join('\n');
    const tar = join(building, 'pglite.tar');
    execFileSync(process.execPath, [
      '--input-type=module',
      '-e',
      script,
      join(building, 'pglite'),
      tar,
    ]);
    renameSync(tar, out);
  } finally {
    rmSync(building, { recursive: true, force: true });
  }
}

export interface TestService {
  service: Service;
  /** Stops the service but keeps its data folder and database, and starts it again on them. */
  restart(env?: Record<string, string>): Promise<TestService>;
  engine: Engine;
  dataDir: string;
  databaseUrl: string | undefined;
  /** Every log line the host wrote (JSON), plus the enclave's forwarded output. */
  logs: string[];
  vendorKey: string;
  measurement: string;
  stop(): Promise<void>;
}

export async function startTestService(
  engine: Engine,
  env: Record<string, string> = {},
  reuse?: { dataDir: string; database: { url: string; drop: () => Promise<void> } | undefined },
  opts: { webRoot?: string | null } = {},
): Promise<TestService> {
  ensureEnclaveBundle();
  const dataDir =
    reuse?.dataDir ??
    (engine === 'pglite' ? await seededDataDir() : mkdtempSync(join(tmpdir(), 'cloister-test-')));
  const database = reuse
    ? reuse.database
    : engine === 'postgres'
      ? await createTestDatabase()
      : undefined;
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      cb();
    },
  });
  const config = loadConfig({
    DATA_DIR: dataDir,
    RATE_LIMIT_MAX: '1000000',
    LOG_LEVEL: 'trace',
    KEY_ROTATION_INTERVAL_SECONDS: '0',
    // The suites written before authentication use the seed's unauthenticated flow, explicitly;
    // test/auth/ sets this to false and checks the protection itself.
    AUTH_DISABLED_FOR_DEVELOPMENT: 'true',
    ...(database ? { DATABASE_URL: database.url } : {}),
    // A fresh test database is migrated by the service itself (as `npm run migrate` would).
    MIGRATE_ON_START: 'true',
    // The enclave refuses envelopes dated before boot + this skew + 1 (ENVELOPE_BEFORE_START,
    // SECURITY.md "Replay across restarts") and serves only after its boot second. The tests'
    // clock is the enclave's, so with 0 an envelope sealed after start is accepted at once;
    // test/integration/envelope-not-before.test.ts runs a skew (600 s) and the SDK's retry.
    ENVELOPE_MAX_FUTURE_SECONDS: '0',
    ...env,
  });
  const service = await createService(config, { logDestination: sink, ...opts });
  // In connect mode (ENCLAVE_SOCKET) the platform folder is the external enclave's, not ours.
  const vendorPath = join(dataDir, 'simulated-platform', 'vendor.pub');
  const vendorKey = existsSync(vendorPath) ? readFileSync(vendorPath, 'utf8').trim() : '';
  return {
    service,
    engine,
    dataDir,
    databaseUrl: database?.url,
    logs,
    vendorKey,
    measurement: service.enclave.measurement(),
    async restart(nextEnv = env) {
      await service.stop();
      return startTestService(engine, nextEnv, { dataDir, database });
    },
    async stop() {
      await service.stop();
      await database?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The enclave methods the service's host calls while `fn` runs (in order). */
export async function enclaveCallsDuring(
  ts: TestService,
  fn: () => Promise<unknown>,
): Promise<string[]> {
  const enclave = ts.service.enclave as unknown as { call: (m: string, p: unknown) => unknown };
  const original = enclave.call;
  const seen: string[] = [];
  enclave.call = function (this: unknown, m: string, p: unknown) {
    seen.push(m);
    return original.call(this, m, p);
  };
  try {
    await fn();
  } finally {
    enclave.call = original;
  }
  return seen;
}
