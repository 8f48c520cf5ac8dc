/**
 * The enclave's isolation from the host process where the hardware gives none: on TDX and
 * SEV-SNP both run in one confidential VM, and only the kernel keeps a compromised host process
 * out of the enclave's memory and `SEALING_KEY_FILE`, and only if the deployment lets it
 * (docs/platforms/tdx.md, "Deployment"). So at start the enclave refuses to run unless:
 *
 *   - the host did not spawn it (`ENCLAVE_PARENT_PID` unset: the host connects with
 *     ENCLAVE_SOCKET), and its parent, unless that is root (a service manager), has none of its
 *     uids: a process of the enclave's user can trace it, read its key file, replace its code;
 *   - its real, effective, saved and file-system uids are one uid (returned: the owner
 *     `SEALING_KEY_FILE` must have, released-key.ts);
 *   - Yama's `kernel.yama.ptrace_scope` is 2 (only CAP_SYS_PTRACE attaches) or 3 (nobody):
 *     that covers ptrace and `/proc/<pid>/mem` for every user, the enclave's own included.
 *     Node cannot make the process non-dumpable (no prctl), hence the kernel setting.
 *
 * What it cannot see: which user connects to its socket (Node has no SO_PEERCRED), so that the
 * host runs as another user than the enclave is the deployment's part (SECURITY.md, Known
 * limits). `/proc` is read under TEE_DEVICE_ROOT like the devices (`/` in production, a fake
 * tree in tests); that setting belongs to the enclave's launch configuration, not the host's.
 */
import { PlatformError, devicePath, readDevice } from './device.js';

const HINT = 'is /proc mounted?';
const YAMA_HINT = 'Yama is needed: sysctl kernel.yama.ptrace_scope=2';
const GUIDE: Record<string, string> = {
  tdx: 'docs/platforms/tdx.md',
  'sev-snp': 'docs/platforms/sev-snp.md',
};

export interface IsolationOptions {
  /** TEE_DEVICE_ROOT: `/proc` is read under it. */
  root: string;
  /** TEE_PLATFORM, for the messages. */
  platform: string;
  /** ENCLAVE_PARENT_PID: set only by a host that spawned the enclave. */
  parentPid: number | undefined;
}

async function readProcText(path: string, hint = HINT): Promise<string> {
  return new TextDecoder().decode(await readDevice(path, hint, 64 * 1024));
}

/** The numbers of a `Name:` line of a /proc status file. */
function statusField(status: string, name: string, path: string): number[] {
  const line = status.split('\n').find((l) => l.startsWith(`${name}:`));
  const values =
    line
      ?.slice(name.length + 1)
      .trim()
      .split(/\s+/) ?? [];
  if (values.length === 0 || !values.every((v) => /^\d{1,10}$/.test(v)))
    throw new PlatformError(`${path}: no ${name} line`);
  return values.map(Number);
}

/** Checks the isolation rules above; returns the enclave's uid. */
export async function assertIsolated(opts: IsolationOptions): Promise<number> {
  const guide = GUIDE[opts.platform] ?? 'docs/platforms/';
  if (opts.parentPid !== undefined)
    throw new PlatformError(
      `ENCLAVE_PARENT_PID: set (the host spawned the enclave); on ${opts.platform} run it as its own user and the host with ENCLAVE_SOCKET (${guide})`,
    );

  const selfPath = devicePath(opts.root, '/proc/self/status');
  const self = await readProcText(selfPath);
  const uids = statusField(self, 'Uid', selfPath);
  const uid = uids[0]!;
  if (uids.length !== 4 || uids.some((u) => u !== uid))
    throw new PlatformError(`${selfPath}: Uid: real, effective, saved and fs uids differ`);

  const ppid = statusField(self, 'PPid', selfPath)[0]!;
  if (ppid !== 0) {
    const parentPath = devicePath(opts.root, `/proc/${ppid}/status`);
    const parentUids = statusField(await readProcText(parentPath), 'Uid', parentPath);
    if (parentUids.includes(uid) && !parentUids.every((u) => u === 0))
      throw new PlatformError(
        `isolation: runs as uid ${uid} like its parent (pid ${ppid}); on ${opts.platform} the enclave needs a user of its own, started by root's service manager (${guide})`,
      );
  }

  const scopePath = devicePath(opts.root, '/proc/sys/kernel/yama/ptrace_scope');
  const scope = (await readProcText(scopePath, YAMA_HINT)).trim();
  if (scope !== '2' && scope !== '3')
    throw new PlatformError(
      `${scopePath}: ${scope.slice(0, 8)}, need 2 or 3 (sysctl kernel.yama.ptrace_scope=2)`,
    );
  return uid;
}
