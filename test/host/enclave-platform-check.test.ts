/**
 * The host checks the platform its enclave reports against TEE_PLATFORM. In connect mode
 * (ENCLAVE_SOCKET, the only mode on TDX and SEV-SNP) the enclave is launched with settings of
 * its own, and one launched without TEE_PLATFORM runs simulated: the host's production check,
 * logs, ops events and metrics all named the configured hardware platform while clients were
 * handed simulated evidence. Now the enclave is refused (no keyring) with `enclave.platform_mismatch`;
 * a simulated enclave is announced at warn level on every start.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/host/config.js';
import type { Db } from '../../src/host/db/database.js';
import { createEnclaveSupervisor } from '../../src/host/enclave-client/supervisor.js';
import { createLogger } from '../../src/host/logging.js';
import { createOpsLog } from '../../src/host/ops-events.js';
import { ensureEnclaveBundle, openTestPglite, startExternalEnclave } from '../helpers/service.js';

/** A supervisor connecting to `socket` under `env`; resolves with what happened first. */
async function connect(db: Db, dataDir: string, env: Record<string, string>) {
  const lines: Record<string, unknown>[] = [];
  let seen: (what: string) => void = () => undefined;
  const outcome = new Promise<string>((r) => (seen = r));
  const logger = createLogger('info', {
    write(line: string) {
      const entry = JSON.parse(line) as Record<string, unknown>;
      lines.push(entry);
      if (entry.event === 'enclave.platform_mismatch') seen('refused');
    },
  });
  const supervisor = createEnclaveSupervisor({
    config: loadConfig({ DATA_DIR: dataDir, ...env }),
    db,
    ops: createOpsLog(logger),
    logger,
  });
  let keyringOffered = false;
  supervisor.onReady(() => {
    keyringOffered = true;
    return Promise.resolve();
  });
  const started = supervisor.start().then(() => seen('ready'));
  const first = await outcome;
  await supervisor.stop();
  await started;
  return { first, lines, keyringOffered };
}

describe('the enclave platform against TEE_PLATFORM', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cloister-platform-'));
  const socket = join(dir, 'enclave.sock');
  let enclave: ChildProcess;
  let db: Db;

  before(async () => {
    ensureEnclaveBundle();
    enclave = await startExternalEnclave(socket, join(dir, 'platform'));
    db = await openTestPglite({ migrated: true });
  });
  after(async () => {
    enclave?.kill('SIGKILL');
    await db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a production host configured for TDX refuses an enclave that runs simulated', async () => {
    const r = await connect(db, join(dir, 'tdx-host'), {
      TEE_PLATFORM: 'tdx',
      ENCLAVE_SOCKET: socket,
      CLOISTER_ENV: 'production',
    });
    assert.equal(r.first, 'refused');
    assert.equal(r.keyringOffered, false, 'the keyring must not go to the wrong enclave');
    const line = r.lines.find((l) => l.event === 'enclave.platform_mismatch');
    assert.equal(line?.level, 50);
    assert.equal(line?.configured, 'tdx');
    assert.equal(line?.reported, 'simulated');
  });

  it('a simulated enclave is announced at warn level, and louder under production', async () => {
    for (const production of [false, true]) {
      const r = await connect(db, join(dir, `sim-host-${production}`), {
        ENCLAVE_SOCKET: socket,
        ...(production
          ? { CLOISTER_ENV: 'production', ALLOW_SIMULATED_IN_PRODUCTION: 'true' }
          : {}),
      });
      assert.equal(r.first, 'ready');
      const line = r.lines.find((l) => l.event === 'enclave.simulated_platform');
      assert.equal(line?.level, 40);
      assert.equal(line?.production, production);
      assert.match(String(line?.msg), production ? /CLOISTER_ENV=production/ : /development/);
    }
  });
});
