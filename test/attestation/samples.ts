/**
 * The recorded real evidence in test/vectors/data/attestation (PROVENANCE.md there), with the
 * verification times and expected fields of its EXPECTED.md.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { EvidencePolicy } from '../../src/client/index.js';
import { computeReportData } from '../../src/protocol/attestation/report-data.js';
import { bytesToBase64 } from '../../src/protocol/encoding.js';
import { okpThumbprint } from '../../src/protocol/key-id.js';

const DIR = fileURLToPath(new URL('../vectors/data/attestation/', import.meta.url));

export const bytes = (path: string): Uint8Array => new Uint8Array(readFileSync(DIR + path));
export const text = (path: string): string => readFileSync(DIR + path, 'utf8');
export const json = (path: string): Record<string, unknown> =>
  JSON.parse(text(path)) as Record<string, unknown>;

/**
 * An attestation response around recorded evidence, over fixed keys and `nonce`: the samples'
 * report data were made by other software, so no key set hashes to them (binding refused).
 */
export function responseAround(
  platform: string,
  quote: Uint8Array,
  imageHash: string,
  nonce: string,
) {
  const body = {
    enclave_pubkey: bytesToBase64(new Uint8Array(32).fill(9)),
    key_id: okpThumbprint('X25519', new Uint8Array(32).fill(9)),
    signing_keys: {
      results: bytesToBase64(new Uint8Array(32).fill(1)),
      log: bytesToBase64(new Uint8Array(32).fill(2)),
    },
    nonce,
  };
  return {
    ...body,
    quote: bytesToBase64(quote),
    image_hash: imageHash,
    platform,
    report_data: Buffer.from(computeReportData(body)).toString('hex'),
  };
}

/** CryptoHelper.verifyAttestation options for a DCAP sample: its time, Intel's root, its collateral. */
export function dcapOptions(s: DcapSample, nonce: string) {
  return {
    nonce,
    now: s.now,
    pinnedRoots: { intelSgxRootCa: ROOTS.intel },
    collateral: json(s.collateral),
  };
}

/** PEM blocks of a file, as DER. */
export function pemBlocks(path: string): Uint8Array[] {
  return [
    ...text(path).matchAll(/-----BEGIN CERTIFICATE-----([^-]+)-----END CERTIFICATE-----/g),
  ].map((m) => new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64')));
}

export const ROOTS = {
  intel: bytes('roots/intel_sgx_root_ca.der'),
  aws: pemBlocks('roots/aws_nitro_enclaves_root_g1.pem')[0]!,
  milanArk: pemBlocks('roots/amd_milan_ask_ark.pem')[1]!,
  genoaArk: pemBlocks('roots/amd_genoa_ask_ark.pem')[1]!,
};

export const JULY_2025 = 1751328000; // 2025-07-01T00:00:00Z
export const MARCH_2026 = 1772323200; // 2026-03-01T00:00:00Z
export const JAN_2025 = 1735689600; // 2025-01-01T00:00:00Z

export interface DcapSample {
  name: string;
  kind: 'sgx-dcap' | 'tdx';
  quote: string;
  collateral: string;
  now: number;
  primary: string;
  status: string;
  advisories: string[];
  reportData: string;
  /** Offsets from EXPECTED.md. */
  reportDataAt: number;
  measurementAt: number;
  signedLength: number;
}

export const DCAP_SAMPLES: DcapSample[] = [
  {
    name: 'sgx_quote_v3',
    kind: 'sgx-dcap',
    quote: 'sgx/sgx_quote_v3.bin',
    collateral: 'sgx/sgx_quote_v3.collateral.json',
    now: JULY_2025,
    primary: '33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb',
    status: 'ConfigurationAndSWHardeningNeeded',
    advisories: ['INTEL-SA-00289', 'INTEL-SA-00615'],
    reportData: '48656c6c6f2c20776f726c6421' + '00'.repeat(51),
    reportDataAt: 368,
    measurementAt: 112,
    signedLength: 432,
  },
  {
    name: 'tdx_quote_v4',
    kind: 'tdx',
    quote: 'tdx/tdx_quote_v4.bin',
    collateral: 'tdx/tdx_quote_v4.collateral.json',
    now: JULY_2025,
    primary:
      '91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7',
    status: 'UpToDate',
    advisories: [],
    reportData:
      '9a9d48e7f6799642d3d1b34e1e5e1742d4bb02dd6ddd551862c1211d35c304f9eca3efdbb481601c163cf52493d6e44aed55d51ec39b7e518fadb92c2b523f20',
    reportDataAt: 568,
    measurementAt: 184,
    signedLength: 632,
  },
  {
    name: 'tdx_quote_v5',
    kind: 'tdx',
    quote: 'tdx/tdx_quote_v5.bin',
    collateral: 'tdx/fmspc_90C06F000000.collateral.json',
    now: MARCH_2026,
    primary:
      '7348651a34b2d2d3462822e3a750ec6110125f36757c78480bbfc69cc0d21fb001a1ced3ee19747dda8f750c3bc8f876',
    status: 'UpToDate',
    advisories: [],
    reportData:
      '945eaacf5abc1f719d8666a942fda03d1edcb4490277396093dc5a5289ab9f1e094aed63060cd4a4933a4dd537ed1255c9c79ecb3ed82cd1b486233e31c25c3a',
    reportDataAt: 574,
    measurementAt: 190,
    signedLength: 702,
  },
];

export function dcapPolicy(s: DcapSample, extra: Partial<EvidencePolicy> = {}): EvidencePolicy {
  return {
    acceptedMeasurements: [s.primary],
    pinnedRoots: { intelSgxRootCa: ROOTS.intel },
    now: s.now,
    ...extra,
  };
}

export const codes = (r: { reasons: { code: string }[] }): string[] => r.reasons.map((x) => x.code);

export function flipped(b: Uint8Array, at: number, mask = 0x01): Uint8Array {
  const c = b.slice();
  c[at]! ^= mask;
  return c;
}
