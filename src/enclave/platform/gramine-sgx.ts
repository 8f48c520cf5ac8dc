/**
 * Intel SGX under Gramine (TEE_PLATFORM=sgx-gramine), through Gramine's `/dev/attestation`
 * pseudo-files (Gramine docs, "Attestation and secret provisioning", pseudo-FS interface):
 *   attestation_type   "dcap" (the manifest sets sgx.remote_attestation = "dcap");
 *   my_target_info     this enclave's sgx_target_info_t: MRENCLAVE;
 *   user_report_data   64 bytes written before reading `report` or `quote`;
 *   report             SGX REPORT (432 bytes) over them: MRENCLAVE and MRSIGNER;
 *   quote              DCAP ECDSA quote v3 over them: the evidence;
 *   keys/_sgx_mrenclave, keys/_sgx_mrsigner  16-byte EGETKEY seal keys (KEYPOLICY MRENCLAVE or
 *                      MRSIGNER, which on SGX also binds ISVPRODID and the ISVSVN).
 * The 16-byte hardware key is stretched to the 32-byte AES key the sealer wants with
 *   HKDF-SHA256(hw key, salt "cloister/seal/v1", info policy ":" identity).
 * Report data and quote are process-wide state, so evidence requests run one at a time, and the
 * quote read back must carry the report data just written (or the request fails).
 */
import { bytesEqual } from '../../protocol/encoding.js';
import type { SealPolicy } from '../../protocol/rpc/methods.js';
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
import { parseSgxQuote, parseSgxReportBody, parseSgxTargetInfoMeasurement } from './reports.js';

const HINT = 'is this running under gramine-sgx with sgx.remote_attestation = "dcap"?';
const MAX_QUOTE_BYTES = 48 * 1024;

export interface GramineSgxOptions {
  /** Prepended to every /dev/attestation path (TEE_DEVICE_ROOT). */
  root: string;
}

export async function createGramineSgxPlatform(opts: GramineSgxOptions): Promise<Platform> {
  const at = (name: string) => devicePath(opts.root, `/dev/attestation/${name}`);
  const type = await readDeviceText(at('attestation_type'), HINT);
  if (type !== 'dcap') throw new PlatformError(`${at('attestation_type')}: "${type}", need "dcap"`);

  const measurement = parseSgxTargetInfoMeasurement(
    await readDevice(at('my_target_info'), HINT, 512),
  );
  // MRSIGNER is not in the target info; a local report over zero report data gives both.
  await writeDevice(at('user_report_data'), new Uint8Array(64), HINT);
  const report = parseSgxReportBody(await readDevice(at('report'), HINT, 432));
  if (report.measurement !== measurement)
    throw new PlatformError(`${at('report')}: MRENCLAVE differs from my_target_info`);
  const signer = report.signer;

  const hwKeys: Record<SealPolicy, Buffer> = {
    measurement: Buffer.from(await readDevice(at('keys/_sgx_mrenclave'), HINT, 16)),
    signer: Buffer.from(await readDevice(at('keys/_sgx_mrsigner'), HINT, 16)),
  };
  for (const [policy, key] of Object.entries(hwKeys))
    if (key.length !== 16) throw new PlatformError(`seal key for ${policy}: expected 16 bytes`);

  const queue = createQueue();
  const platform: Platform = {
    name: 'sgx',
    measurement,
    signer,
    evidence(reportData) {
      assertReportData(reportData);
      return queue(async () => {
        await writeDevice(at('user_report_data'), reportData, HINT);
        const quote = await readDevice(at('quote'), HINT, MAX_QUOTE_BYTES);
        const parsed = parseSgxQuote(quote);
        if (!bytesEqual(parsed.reportData, reportData))
          throw new PlatformError(`${at('quote')}: quote does not carry the report data written`);
        if (parsed.measurement !== measurement)
          throw new PlatformError(`${at('quote')}: MRENCLAVE differs from this enclave's`);
        return quote;
      });
    },
    sealingKey(policy) {
      return deriveSealingKey(hwKeys[policy], policy, sealIdentity(platform, policy));
    },
  };
  return platform;
}
