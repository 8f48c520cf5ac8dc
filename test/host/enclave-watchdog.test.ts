/**
 * The supervisor's watchdog, on a real enclave: an enclave whose event loop is blocked (the
 * test-only method), and one stopped with SIGSTOP, miss their heartbeats; the supervisor kills
 * it, /readyz answers 503 meanwhile, an `enclave.unresponsive` event says why, and the enclave
 * comes back from the same sealed keyring. The test method exists only with the test flag, and
 * only on the simulated platform.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { parseEnclaveConfig } from '../../src/enclave/config.js';
import { blockEventLoop } from '../../src/enclave/methods/test-hooks.js';
import { loadConfig } from '../../src/host/config.js';
import { createService, type Service } from '../../src/host/service.js';
import { ensureEnclaveBundle, seededDataDir } from '../helpers/service.js';

/** Generous liveness bound: it bounds the test, it asserts nothing about speed. */
const BOUND_MS = 60_000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A real service whose enclave answers the test methods; `pids` are killed after the suite. */
function watchdogService(env: Record<string, string>) {
  const ctx = { service: undefined as unknown as Service, pids: [] as number[], dataDir: '' };
  before(async () => {
    ensureEnclaveBundle();
    // The database's creation is not the subject: start from the initdb'd template.
    ctx.dataDir = await seededDataDir('cloister-watchdog-');
    const config = loadConfig({
      DATA_DIR: ctx.dataDir,
      LOG_LEVEL: 'silent',
      KEY_ROTATION_INTERVAL_SECONDS: '0',
      AUTH_DISABLED_FOR_DEVELOPMENT: 'true',
      ...env,
    });
    ctx.service = await createService(config, { enclaveTestHooks: true });
  });
  after(async () => {
    for (const pid of ctx.pids) {
      if (!alive(pid)) continue;
      process.kill(pid, 'SIGCONT');
      process.kill(pid, 'SIGKILL');
    }
    await ctx.service?.stop();
    rmSync(ctx.dataDir, { recursive: true, force: true });
  });
  return ctx;
}

async function readyz(service: Service): Promise<number> {
  return (await service.app.inject({ method: 'GET', url: '/readyz' })).statusCode;
}

/** Hangs the enclave with `hang`, then waits for a new process and checks what was seen. */
async function hangAndRecover(
  ctx: { service: Service; pids: number[] },
  hang: (pid: number) => void,
): Promise<void> {
  const { service } = ctx;
  const before = await service.enclave.call('enclave.status', {});
  const pid = service.enclave.pid()!;
  ctx.pids.push(pid);
  assert.equal(await readyz(service), 200);
  hang(pid);
  let sawUnready = false;
  const until = Date.now() + BOUND_MS;
  while (!(service.enclave.isReady() && service.enclave.pid() !== pid)) {
    assert.ok(Date.now() < until, 'the hung enclave was not replaced');
    if ((await readyz(service)) === 503) sawUnready = true;
    await sleep(20);
  }
  while ((await readyz(service)) !== 200) {
    assert.ok(Date.now() < until, '/readyz did not come back');
    await sleep(20);
  }
  const afterRestart = await service.enclave.call('enclave.status', {});
  assert.equal(afterRestart.phase, 'ready');
  assert.equal(afterRestart.generation, before.generation, 'not restarted from the same keyring');
  assert.ok(sawUnready, '/readyz stayed ready while the enclave hung');
  assert.equal(alive(pid), false, 'the hung enclave process was left running');
}

async function events(service: Service, type: string) {
  const { rows } = await service.db.query<{ details: Record<string, unknown> }>(
    'SELECT details FROM ops_logs WHERE event_type = $1 ORDER BY id',
    [type],
  );
  return rows.map((r) => r.details);
}

const blockLoop = (service: Service) => () =>
  void service.enclave.call('test.block_event_loop', { ms: 600_000 }).catch(() => undefined);

describe('enclave watchdog: missed heartbeats', () => {
  const ctx = watchdogService({
    ENCLAVE_HEARTBEAT_INTERVAL_MS: '200',
    ENCLAVE_HEARTBEAT_MISSES: '3',
  });

  it('an enclave with a blocked event loop is killed and restarted', async () => {
    await hangAndRecover(ctx, blockLoop(ctx.service));
    const unresponsive = await events(ctx.service, 'enclave.unresponsive');
    assert.equal(unresponsive.length, 1);
    assert.ok(['heartbeat', 'call_timeouts'].includes(String(unresponsive[0]!.reason)));
    assert.equal((await events(ctx.service, 'enclave.restarted')).length, 1);
  });

  it('a stopped (SIGSTOP) enclave process is killed and replaced', async () => {
    await hangAndRecover(ctx, (pid) => process.kill(pid, 'SIGSTOP'));
    assert.equal((await events(ctx.service, 'enclave.unresponsive')).length, 2);
    assert.equal((await events(ctx.service, 'enclave.restarted')).length, 2);
  });
});

describe('enclave watchdog: consecutive call timeouts', () => {
  // Heartbeats too rare to matter here: only the calls' timeouts can trip the watchdog.
  const ctx = watchdogService({
    ENCLAVE_HEARTBEAT_INTERVAL_MS: '600000',
    ENCLAVE_HEARTBEAT_MISSES: '2',
    ENCLAVE_CALL_TIMEOUT_MS: '2000',
  });

  it('calls timing out in a row get the enclave killed and restarted', async () => {
    await hangAndRecover(ctx, () => {
      blockLoop(ctx.service)();
      void ctx.service.enclave.call('enclave.status', {}).catch(() => undefined);
    });
    assert.deepEqual(await events(ctx.service, 'enclave.unresponsive'), [
      { reason: 'call_timeouts', misses: 2 },
    ]);
  });
});

describe('enclave watchdog: a hung enclave under a flood refused as busy', () => {
  // Calls refused at once (ENCLAVE_BUSY: more than ENCLAVE_MAX_QUEUED_BYTES unread) are the
  // host's own refusal, not an answer: they must not reset the missed heartbeats.
  const ctx = watchdogService({
    ENCLAVE_HEARTBEAT_INTERVAL_MS: '200',
    ENCLAVE_HEARTBEAT_MISSES: '3',
    ENCLAVE_CALL_TIMEOUT_MS: '120000',
    ENCLAVE_MAX_QUEUED_BYTES: String(1024 * 1024),
  });

  it('is still killed and restarted', async () => {
    const { service } = ctx;
    const pid = service.enclave.pid();
    const params = { response: { id: 'x'.repeat(256 * 1024) }, credential: null } as never;
    let busy = 0;
    let flooding = true;
    // Calls sent and never awaited (the hung enclave answers none), until it is replaced.
    const flood = async () => {
      while (flooding && service.enclave.pid() === pid) {
        service.enclave
          .call('auth.passkey_login_verify', params)
          .catch((e: { code?: string }) => void (e.code === 'ENCLAVE_BUSY' && busy++));
        await sleep(5);
      }
    };
    let flooder: Promise<void> = Promise.resolve();
    await hangAndRecover(ctx, () => {
      blockLoop(service)();
      flooder = flood();
    });
    flooding = false;
    await flooder;
    assert.ok(busy > 0, 'no call was refused as busy: the test proves nothing');
    assert.equal((await events(service, 'enclave.unresponsive')).length, 1);
  });
});

describe('enclave watchdog: slow calls on a live enclave', () => {
  // Logins wait in the enclave's Argon2id queue past the call timeout while its loop keeps
  // answering heartbeats: their timeouts, which fire together, are not a hung enclave.
  const ctx = watchdogService({
    ENCLAVE_HEARTBEAT_INTERVAL_MS: '100',
    ENCLAVE_HEARTBEAT_MISSES: '3',
    ENCLAVE_CALL_TIMEOUT_MS: '1000',
    AUTH_ARGON2_CONCURRENCY: '1',
    AUTH_ARGON2_MEMORY_KIB: '65536',
    AUTH_LOGIN_MAX_PER_IP: '1000',
    RATE_LIMIT_MAX: '100000',
  });

  it('a burst of logins queued past the call timeout does not get the enclave killed', async () => {
    const pid = ctx.service.enclave.pid();
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        ctx.service.app.inject({
          method: 'POST',
          url: '/auth/login',
          payload: { email: `nobody-${i}@example.com`, password: 'not-the-password-0' },
        }),
      ),
    );
    // Without timed-out calls this test would prove nothing.
    assert.ok(
      answers.some((a) => a.statusCode === 503),
      `no login timed out: ${answers.map((a) => a.statusCode).join(',')}`,
    );
    await sleep(1000);
    assert.deepEqual(await events(ctx.service, 'enclave.unresponsive'), []);
    assert.equal(ctx.service.enclave.pid(), pid, 'the live enclave was restarted');
  });
});

describe('the test-only enclave method', () => {
  const base = { TEE_PLATFORM: 'simulated', SIMULATED_PLATFORM_DIR: '/nonexistent' };

  it('answers METHOD_UNKNOWN unless the enclave was started with ENCLAVE_TEST_HOOKS=1', () => {
    const state = { config: parseEnclaveConfig(base) } as never;
    assert.throws(
      () => blockEventLoop(state, { ms: 1 }),
      (err: { code?: string }) => err.code === 'METHOD_UNKNOWN',
    );
    const enabled = { config: parseEnclaveConfig({ ...base, ENCLAVE_TEST_HOOKS: '1' }) } as never;
    assert.deepEqual(blockEventLoop(enabled, { ms: 1 }), {});
  });

  it('the enclave refuses ENCLAVE_TEST_HOOKS=1 on any platform but simulated', () => {
    assert.throws(
      () =>
        parseEnclaveConfig({
          TEE_PLATFORM: 'sgx-gramine',
          ENCLAVE_TEST_HOOKS: '1',
        }),
      /ENCLAVE_TEST_HOOKS/,
    );
  });
});
