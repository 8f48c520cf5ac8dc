/**
 * Intel TDX and AMD SEV-SNP confidential VMs (TEE_PLATFORM=tdx | sev-snp) through the Linux
 * configfs-tsm report interface (Documentation/ABI/testing/configfs-tsm, Linux 6.7+):
 *   mkdir /sys/kernel/config/tsm/report/<entry>   the kernel populates its attributes;
 *   provider    "tdx_guest" or "sev_guest": must match TEE_PLATFORM;
 *   inblob      the 64 bytes of report data;
 *   outblob     a TDX DCAP quote (v4/v5), or the raw SNP ATTESTATION_REPORT (1184 bytes);
 *   generation  incremented by the kernel on every write: read after writing inblob and again
 *               after reading outblob; a difference means another writer raced us;
 *   rmdir the entry when done (only if this call created it).
 * The outblob must also carry the report data written. Measurement = MRTD (TDX) or the launch
 * MEASUREMENT (SNP), read from a report taken at start. Sealing uses a released key
 * (released-key.ts): neither platform gives a guest a hardware sealing key.
 */
import { mkdir, rmdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { bytesEqual } from '../../protocol/encoding.js';
import {
  PlatformError,
  assertReportData,
  createQueue,
  devicePath,
  readDevice,
  readDeviceText,
  writeDevice,
} from './device.js';
import { sealIdentity, type Platform } from './platform.js';
import { deriveSealingKey } from './released-key.js';
import { parseSnpReport, parseTdxQuote, type ParsedIdentity } from './reports.js';

const HINT = 'is configfs mounted and the TDX/SNP guest driver loaded?';
const MAX_OUTBLOB_BYTES = 48 * 1024;

const KINDS = {
  tdx: { name: 'tdx', provider: 'tdx_guest', parse: parseTdxQuote },
  'sev-snp': { name: 'sev-snp', provider: 'sev_guest', parse: parseSnpReport },
} as const;

export interface ConfigfsTsmOptions {
  kind: keyof typeof KINDS;
  /** Prepended to /sys/kernel/config/tsm (TEE_DEVICE_ROOT). */
  root: string;
  /** Report entry name under tsm/report/ (TSM_REPORT_ENTRY). */
  entry: string;
  /** The released 32-byte root of the sealing keys (SEALING_KEY_FILE); kept, never copied out. */
  sealingRoot: Uint8Array;
  /**
   * The enclave's uid (isolation.ts). Set: the report folder, the entry and its inblob must be
   * writable by no one but root and this uid, or another user of the VM (the host) could take
   * genuine reports over report data of its own choosing.
   */
  owner?: number;
}

/** Refuses a path that a user other than root and `owner` may write (absent is fine). */
async function assertWritableOnlyBy(path: string, owner: number): Promise<void> {
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new PlatformError(`${path}: ${(err as NodeJS.ErrnoException).code} (${HINT})`);
  }
  if ((st.mode & 0o022) !== 0 || (st.uid !== 0 && st.uid !== owner))
    throw new PlatformError(`${path}: writable by others than root and the enclave's user`);
}

/** One report: create the entry, write inblob, read outblob with the generation check. */
async function takeReport(
  dir: string,
  provider: string,
  reportData: Uint8Array,
): Promise<Uint8Array> {
  let created = false;
  try {
    await mkdir(dir);
    created = true;
  } catch (err) {
    // An entry left by a crashed run of this enclave is reused: the generation check still
    // detects a concurrent writer.
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST')
      throw new PlatformError(`${dir}: ${(err as NodeJS.ErrnoException).code} (${HINT})`);
  }
  try {
    const actual = await readDeviceText(`${dir}/provider`, HINT);
    if (actual !== provider)
      throw new PlatformError(`${dir}/provider: "${actual}", need "${provider}"`);
    await writeDevice(`${dir}/inblob`, reportData, HINT);
    const before = await readDeviceText(`${dir}/generation`, HINT);
    const outblob = await readDevice(`${dir}/outblob`, HINT, MAX_OUTBLOB_BYTES);
    const after = await readDeviceText(`${dir}/generation`, HINT);
    if (before !== after)
      throw new PlatformError(`${dir}/generation: changed while reading (a concurrent writer)`);
    return outblob;
  } finally {
    if (created) await rmdir(dir).catch(() => undefined);
  }
}

export async function createConfigfsTsmPlatform(opts: ConfigfsTsmOptions): Promise<Platform> {
  const kind = KINDS[opts.kind];
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(opts.entry) || opts.entry.startsWith('.'))
    throw new PlatformError('TSM_REPORT_ENTRY: letters, digits, dot, dash, underscore');
  if (opts.sealingRoot.length !== 32) throw new RangeError('sealingRoot must be 32 bytes');
  const dir = devicePath(opts.root, `/sys/kernel/config/tsm/report/${opts.entry}`);
  if (opts.owner !== undefined)
    for (const path of [dirname(dir), dir, `${dir}/inblob`])
      await assertWritableOnlyBy(path, opts.owner);
  const queue = createQueue();
  const parse = (bytes: Uint8Array): ParsedIdentity => {
    try {
      return kind.parse(bytes);
    } catch (err) {
      throw new PlatformError(`${dir}/outblob: ${(err as Error).message}`);
    }
  };
  // Our own identity, from a report over zero report data taken at start.
  const self = parse(await queue(() => takeReport(dir, kind.provider, new Uint8Array(64))));
  const sealingRoot = Buffer.from(opts.sealingRoot);

  const platform: Platform = {
    name: kind.name,
    measurement: self.measurement,
    signer: self.signer,
    // The host runs as another user in the socket's group (isolation.ts).
    socketMode: 0o660,
    evidence(reportData) {
      assertReportData(reportData);
      return queue(async () => {
        const outblob = await takeReport(dir, kind.provider, reportData);
        const parsed = parse(outblob);
        if (!bytesEqual(parsed.reportData, reportData))
          throw new PlatformError(`${dir}/outblob: report does not carry the report data written`);
        if (parsed.measurement !== self.measurement)
          throw new PlatformError(`${dir}/outblob: measurement differs from the one at start`);
        return outblob;
      });
    },
    sealingKey(policy) {
      return deriveSealingKey(sealingRoot, policy, sealIdentity(platform, policy));
    },
  };
  return platform;
}
