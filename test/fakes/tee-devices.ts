/**
 * Fake TEE device trees for the platform tests: a temporary folder laid out like the real one
 * (`/dev/attestation/…` under Gramine, `/sys/kernel/config/tsm/report/<entry>/…` on a TDX or
 * SNP guest), so a platform pointed at it with TEE_DEVICE_ROOT reads and writes the same paths
 * it would on hardware. Reads return the recorded samples in
 * test/vectors/data/attestation/platform/ (PROVENANCE.md there). The files are static: writing
 * report data does not change the quote, so a test that wants success passes the report data
 * the recorded sample carries.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode } from 'cborg';
import type { NsmTransport } from '../../src/enclave/platform/nsm.js';

export const SAMPLES = join(import.meta.dirname, '../vectors/data/attestation/platform');
export const sample = (name: string) => new Uint8Array(readFileSync(join(SAMPLES, name)));

/** Fixed 16-byte "EGETKEY" keys of the fake Gramine tree. */
export const FAKE_SGX_KEYS = {
  _sgx_mrenclave: new Uint8Array(16).fill(0x11),
  _sgx_mrsigner: new Uint8Array(16).fill(0x22),
};

function put(root: string, path: string, bytes: Uint8Array | string): void {
  const full = join(root, path);
  mkdirSync(join(full, '..'), { recursive: true });
  writeFileSync(full, bytes);
}

/**
 * Gramine's /dev/attestation from the SGX v3 sample: `quote` is the sample; `report` and
 * `my_target_info` are built from the quote's report body (bytes 48..432), as the CPU would
 * have produced them for the same enclave (key id and MAC zero: nothing here checks them).
 */
export function gramineTree(opts: { omit?: string[]; attestationType?: string } = {}): string {
  const root = mkdtempSync(join(tmpdir(), 'cloister-gramine-'));
  const quote = sample('sgx_quote_v3.bin');
  const body = quote.subarray(48, 48 + 384);
  const report = new Uint8Array(432);
  report.set(body);
  const targetInfo = new Uint8Array(512);
  targetInfo.set(body.subarray(64, 96), 0); // MRENCLAVE
  targetInfo.set(body.subarray(48, 64), 32); // ATTRIBUTES
  const files: Record<string, Uint8Array | string> = {
    attestation_type: `${opts.attestationType ?? 'dcap'}\n`,
    my_target_info: targetInfo,
    user_report_data: new Uint8Array(64),
    report,
    quote,
    'keys/_sgx_mrenclave': FAKE_SGX_KEYS._sgx_mrenclave,
    'keys/_sgx_mrsigner': FAKE_SGX_KEYS._sgx_mrsigner,
  };
  for (const [name, bytes] of Object.entries(files))
    if (!opts.omit?.includes(name)) put(root, `dev/attestation/${name}`, bytes);
  return root;
}

export const FAKE_TSM_ENTRY = 'cloister-test';

/** The uid this test runs as: what a fake /proc/self/status says unless told otherwise. */
export const OWN_UID = process.getuid?.() ?? 0;

/**
 * What a fake /proc says about the enclave process (platform/isolation.ts reads it): by default
 * the isolated deployment of docs/platforms/tdx.md, an enclave whose parent is a root service
 * manager (pid 1) on a kernel with Yama ptrace_scope 2. `uids` are the real, effective, saved
 * and file-system uids; `ptraceScope: null` leaves the Yama file out (no Yama).
 */
export interface FakeProc {
  uids?: number[];
  ppid?: number;
  parentUids?: number[];
  ptraceScope?: string | null;
}

const statusFile = (ppid: number, uids: number[]) =>
  `Name:\tnode\nUmask:\t0077\nState:\tS (sleeping)\nTgid:\t4242\nPid:\t4242\nPPid:\t${ppid}\nUid:\t${uids.join('\t')}\nGid:\t0\t0\t0\t0\n`;

/** Writes /proc/self/status, /proc/<ppid>/status and Yama's ptrace_scope under `root`. */
export function procTree(root: string, opts: FakeProc = {}): string {
  const uids = opts.uids ?? [OWN_UID, OWN_UID, OWN_UID, OWN_UID];
  const ppid = opts.ppid ?? 1;
  put(root, 'proc/self/status', statusFile(ppid, uids));
  if (ppid !== 0) put(root, `proc/${ppid}/status`, statusFile(0, opts.parentUids ?? [0, 0, 0, 0]));
  if (opts.ptraceScope !== null)
    put(root, 'proc/sys/kernel/yama/ptrace_scope', `${opts.ptraceScope ?? '2'}\n`);
  return root;
}

/**
 * configfs-tsm with one report entry already present (a plain folder cannot self-populate),
 * beside a fake /proc (`procTree`, isolated by default; `proc: false` leaves it out).
 */
export function tsmTree(opts: {
  provider: 'tdx_guest' | 'sev_guest';
  outblob: Uint8Array;
  omit?: string[];
  proc?: FakeProc | false;
}): { root: string; entryDir: string } {
  const root = mkdtempSync(join(tmpdir(), 'cloister-tsm-'));
  if (opts.proc !== false) procTree(root, opts.proc);
  const entryDir = join(root, 'sys/kernel/config/tsm/report', FAKE_TSM_ENTRY);
  const files: Record<string, Uint8Array | string> = {
    provider: `${opts.provider}\n`,
    generation: '1\n',
    inblob: new Uint8Array(0),
    outblob: opts.outblob,
    auxblob: new Uint8Array(0),
    privlevel_floor: '0\n',
  };
  mkdirSync(entryDir, { recursive: true });
  for (const [name, bytes] of Object.entries(files))
    if (!opts.omit?.includes(name)) put(entryDir, name, bytes);
  return { root, entryDir };
}

/**
 * An NSM that answers every Attestation request with a recorded document, wrapped in the NSM
 * API response shape, and keeps the decoded requests for the test to inspect.
 */
export function recordedNsm(document: Uint8Array, response?: Uint8Array) {
  const requests: Uint8Array[] = [];
  const transport = {
    request(cbor: Uint8Array) {
      requests.push(cbor);
      return Promise.resolve(response ?? encode({ Attestation: { document } }));
    },
  } satisfies NsmTransport;
  return { transport, requests };
}

/** A released-key file (mode 0600) holding `key`. */
export function releasedKeyFile(key: Uint8Array, mode = 0o600): string {
  const dir = mkdtempSync(join(tmpdir(), 'cloister-key-'));
  const path = join(dir, 'sealing.key');
  writeFileSync(path, key, { mode });
  return path;
}
