/**
 * On tdx and sev-snp the host and the enclave share one confidential VM: the enclave refuses to
 * start unless the kernel keeps the host out (platform/isolation.ts): a parent that is not root
 * shares none of its uids, the host did not spawn it, Yama's ptrace_scope is 2 or 3, and
 * SEALING_KEY_FILE is owned by the enclave's uid. Its socket is then open to its group (0660),
 * so that a host running as another user can connect. Fake /proc trees under TEE_DEVICE_ROOT;
 * simulated is unchanged.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { parseEnclaveConfig } from '../../../src/enclave/config.js';
import { PlatformError } from '../../../src/enclave/platform/device.js';
import { resolvePlatform } from '../../../src/enclave/platform/registry.js';
import {
  FAKE_TSM_ENTRY,
  OWN_UID,
  releasedKeyFile,
  sample,
  tsmTree,
  type FakeProc,
} from '../../fakes/tee-devices.js';

const KEY = new Uint8Array(32).fill(0x42);
const OTHER = OWN_UID + 1000;
const all = (uid: number) => [uid, uid, uid, uid];

const KINDS = [
  { kind: 'tdx', provider: 'tdx_guest', sample: 'tdx_quote_v4.bin' },
  { kind: 'sev-snp', provider: 'sev_guest', sample: 'snp_milan_virtee_report.bin' },
] as const;

for (const k of KINDS) {
  describe(`${k.kind}: the enclave enforces its isolation from the host at start`, () => {
    const tree = (proc: FakeProc = {}) =>
      tsmTree({ provider: k.provider, outblob: sample(k.sample), proc });
    const config = (root: string, extra: Record<string, string> = {}) =>
      parseEnclaveConfig({
        TEE_PLATFORM: k.kind,
        TEE_DEVICE_ROOT: root,
        TSM_REPORT_ENTRY: FAKE_TSM_ENTRY,
        SEALING_KEY_FILE: releasedKeyFile(KEY),
        ...extra,
      });
    const env = (proc: FakeProc = {}, extra: Record<string, string> = {}) =>
      config(tree(proc).root, extra);
    const refuses = (proc: FakeProc, pattern: RegExp, extra: Record<string, string> = {}) =>
      assert.rejects(
        resolvePlatform(env(proc, extra), 'package.json'),
        (e: Error) => e instanceof PlatformError && pattern.test(e.message),
      );

    it('starts in the isolated setup, its socket open to its group', async () => {
      const p = await resolvePlatform(env(), 'package.json');
      assert.equal(p.name, k.kind);
      assert.equal(p.socketMode, 0o660);
    });

    it('refuses to run as a uid of its parent (the host spawned it under its own user)', async () => {
      await refuses(
        { uids: all(OTHER), ppid: 4000, parentUids: all(OTHER) },
        new RegExp(`isolation: runs as uid ${OTHER} like its parent \\(pid 4000\\)`),
      );
      // Any one of the parent's real, effective, saved or file-system uids is enough to trace.
      await refuses(
        { uids: all(OTHER), ppid: 4000, parentUids: [OTHER + 1, OTHER + 1, OTHER, OTHER + 1] },
        /like its parent/,
      );
    });

    it('refuses to be the child of a host that says it spawned it (ENCLAVE_PARENT_PID)', async () => {
      await refuses({}, /ENCLAVE_PARENT_PID: set/, { ENCLAVE_PARENT_PID: '4000' });
    });

    it('refuses mixed uids of its own', async () => {
      await refuses({ uids: [OWN_UID, OWN_UID, OTHER, OWN_UID] }, /proc\/self\/status: Uid/);
    });

    it('refuses a kernel that lets a process of another or the same user attach', async () => {
      for (const scope of ['0', '1'])
        await refuses(
          { ptraceScope: scope },
          new RegExp(`yama/ptrace_scope: ${scope}, need 2 or 3`),
        );
      await refuses({ ptraceScope: null }, /yama\/ptrace_scope: ENOENT/);
      await refuses({ ptraceScope: 'x' }, /yama\/ptrace_scope: x, need 2 or 3/);
    });

    it('refuses a report folder or entry that others may write (they could take quotes)', async () => {
      for (const rel of ['..', '.', 'inblob']) {
        const { root, entryDir } = tree();
        chmodSync(join(entryDir, rel), rel === 'inblob' ? 0o622 : 0o777);
        await assert.rejects(
          resolvePlatform(config(root), 'package.json'),
          /writable by others than root and the enclave's user/,
        );
      }
    });

    it('refuses a SEALING_KEY_FILE that another uid owns', async () => {
      // The key file belongs to the user running this test; the enclave says it runs as OTHER.
      await refuses(
        { uids: all(OTHER) },
        new RegExp(
          `SEALING_KEY_FILE .*: owned by uid ${OWN_UID}, not by the enclave's uid ${OTHER}`,
        ),
      );
    });
  });
}

describe('other platforms are unchanged', () => {
  it('simulated starts without any /proc check and keeps its owner-only socket', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cloister-sim-'));
    const p = await resolvePlatform(
      parseEnclaveConfig({
        TEE_DEVICE_ROOT: join(dir, 'nothing-here'),
        SIMULATED_PLATFORM_DIR: join(dir, 'platform'),
        ENCLAVE_PARENT_PID: String(process.pid),
      }),
      'package.json',
    );
    assert.equal(p.name, 'simulated');
    assert.equal(p.socketMode, undefined);
  });
});

describe('the enclave process on tdx (a bundle built from this checkout)', () => {
  mkdirSync('.tmp', { recursive: true });
  const out = mkdtempSync(join('.tmp', 'bundle-'));
  const bundle = join(out, 'enclave.mjs');
  execFileSync(process.execPath, ['scripts/build-enclave.mjs', '--outdir', out]);
  const envOf = (proc: FakeProc, socket: string) => ({
    PATH: process.env.PATH ?? '',
    TEE_PLATFORM: 'tdx',
    TEE_DEVICE_ROOT: tsmTree({ provider: 'tdx_guest', outblob: sample('tdx_quote_v4.bin'), proc })
      .root,
    TSM_REPORT_ENTRY: FAKE_TSM_ENTRY,
    SEALING_KEY_FILE: releasedKeyFile(KEY),
    ENCLAVE_SOCKET_PATH: socket,
  });

  it('not isolated: exits 78 with one line naming what is wrong', () => {
    const r = spawnSync(process.execPath, [bundle], {
      env: envOf({ ptraceScope: '1' }, join(out, 'unused.sock')),
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(r.status, 78, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1);
    assert.equal(JSON.parse(lines[0]!).event, 'enclave.platform_error');
    assert.match(lines[0]!, /ptrace_scope: 1, need 2 or 3/);
  });

  it('isolated: listens on a socket its group may use, others not (0660)', async () => {
    const socket = join(mkdtempSync(join(tmpdir(), 'cloister-iso-')), 'enclave.sock');
    const child = spawn(process.execPath, [bundle], {
      env: envOf({}, socket),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      await new Promise<void>((resolve, reject) => {
        createInterface({ input: child.stdout }).on(
          'line',
          (l) => l.includes('enclave.listening') && resolve(),
        );
        child.once('exit', (code) => reject(new Error(`enclave exited ${code}: ${stderr}`)));
      });
      assert.equal(statSync(socket).mode & 0o777, 0o660);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
