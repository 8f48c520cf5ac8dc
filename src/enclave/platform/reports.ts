/**
 * Small pure parsers for the hardware evidence the enclave produces, so a platform can read its
 * own identity (measurement, signer) and check that the evidence carries the report data it
 * asked for. They read fixed offsets only; they verify nothing (that is the SDK's verifier,
 * src/client/attestation/). Layouts:
 *   SGX REPORTBODY: Intel SDM Vol. 3D §38.15 (384 bytes; MRENCLAVE @64, MRSIGNER @128,
 *     REPORTDATA @320); Gramine's /dev/attestation/report is a full REPORT (body, key id, MAC).
 *   DCAP quote v3 (SGX) and v4/v5 (TDX): Intel "SGX ECDSA Quote Library API" (header 48 bytes;
 *     v5 adds body type u16 + body size u32 before the body); TD report body: MRTD @136,
 *     MROWNER @232, REPORTDATA @520 (same in TD 1.0 and TD 1.5 bodies).
 *   SEV-SNP ATTESTATION_REPORT: AMD SEV-SNP ABI spec, Table 22 (1184 bytes; REPORT_DATA @0x50,
 *     MEASUREMENT @0x90, ID_KEY_DIGEST @0xE0).
 */
import { bytesToHex } from '../../protocol/encoding.js';

export class EvidenceFormatError extends Error {
  override readonly name = 'EvidenceFormatError';
}

function slice(bytes: Uint8Array, offset: number, length: number, what: string): Uint8Array {
  if (bytes.length < offset + length)
    throw new EvidenceFormatError(
      `${what}: ${bytes.length} bytes, need at least ${offset + length}`,
    );
  return bytes.subarray(offset, offset + length);
}

const u16 = (b: Uint8Array, o: number) => b[o]! | (b[o + 1]! << 8);
const u32 = (b: Uint8Array, o: number) => (u16(b, o) | (u16(b, o + 2) << 16)) >>> 0;

export interface ParsedIdentity {
  /** Hex of the code measurement: MRENCLAVE, MRTD or the SNP launch MEASUREMENT. */
  measurement: string;
  /** Hex of the signer-like identity: MRSIGNER, MROWNER or ID_KEY_DIGEST. */
  signer: string;
  /** The 64 report-data bytes inside the evidence. */
  reportData: Uint8Array;
}

export const SGX_REPORT_BODY_SIZE = 384;

/** An SGX REPORTBODY starting at `offset` (0 in a REPORT, 48 in a v3 quote). */
export function parseSgxReportBody(bytes: Uint8Array, offset = 0): ParsedIdentity {
  const body = slice(bytes, offset, SGX_REPORT_BODY_SIZE, 'SGX report body');
  return {
    measurement: bytesToHex(body.subarray(64, 96)),
    signer: bytesToHex(body.subarray(128, 160)),
    reportData: body.slice(320, 384),
  };
}

/** sgx_target_info_t (512 bytes): MRENCLAVE is its first 32 bytes. */
export function parseSgxTargetInfoMeasurement(bytes: Uint8Array): string {
  if (bytes.length !== 512)
    throw new EvidenceFormatError(`SGX target info: ${bytes.length} bytes, expected 512`);
  return bytesToHex(bytes.subarray(0, 32));
}

const TEE_TYPE_SGX = 0x00000000;
const TEE_TYPE_TDX = 0x00000081;

/** A DCAP quote v3 with an SGX report body. */
export function parseSgxQuote(quote: Uint8Array): ParsedIdentity {
  const header = slice(quote, 0, 48, 'SGX quote header');
  if (u16(header, 0) !== 3) throw new EvidenceFormatError(`SGX quote: version ${u16(header, 0)}`);
  if (u32(header, 4) !== TEE_TYPE_SGX) throw new EvidenceFormatError('SGX quote: TEE type not SGX');
  return parseSgxReportBody(quote, 48);
}

/** A DCAP quote v4 (TD 1.0 body at 48) or v5 (body type 2 or 3 at 54) with a TD report body. */
export function parseTdxQuote(quote: Uint8Array): ParsedIdentity {
  const header = slice(quote, 0, 48, 'TDX quote header');
  const version = u16(header, 0);
  if (u32(header, 4) !== TEE_TYPE_TDX) throw new EvidenceFormatError('TDX quote: TEE type not TDX');
  let at: number;
  if (version === 4) at = 48;
  else if (version === 5) {
    const type = u16(slice(quote, 48, 2, 'TDX quote v5 body type'), 0);
    if (type !== 2 && type !== 3) throw new EvidenceFormatError(`TDX quote v5: body type ${type}`);
    at = 54;
  } else throw new EvidenceFormatError(`TDX quote: version ${version}`);
  const body = slice(quote, at, 584, 'TD report body');
  return {
    measurement: bytesToHex(body.subarray(136, 184)),
    signer: bytesToHex(body.subarray(232, 280)),
    reportData: body.slice(520, 584),
  };
}

export const SNP_REPORT_SIZE = 0x4a0;

/** An SEV-SNP attestation report (versions 2 and later share these offsets). */
export function parseSnpReport(report: Uint8Array): ParsedIdentity {
  if (report.length !== SNP_REPORT_SIZE)
    throw new EvidenceFormatError(
      `SNP report: ${report.length} bytes, expected ${SNP_REPORT_SIZE}`,
    );
  const version = u32(report, 0);
  if (version < 2) throw new EvidenceFormatError(`SNP report: version ${version}`);
  return {
    measurement: bytesToHex(report.subarray(0x90, 0xc0)),
    signer: bytesToHex(report.subarray(0xe0, 0x110)),
    reportData: report.slice(0x50, 0x90),
  };
}
