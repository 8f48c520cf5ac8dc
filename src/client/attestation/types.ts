/**
 * The evidence verification contract (docs/verification/): one `verifyEvidence(evidence,
 * policy)` for every evidence kind, returning a normalized result. Fail closed: `ok` is true
 * only when every check ran and passed; every failure is a reason with a stable code.
 */

export const EVIDENCE_KINDS = ['sgx-dcap', 'tdx', 'nitro', 'sev-snp', 'simulated'] as const;
export type EvidenceKind = (typeof EVIDENCE_KINDS)[number];

/** Intel's TCB statuses from best to worst (Intel PCS TCB info v3). */
export const TCB_STATUS_ORDER = [
  'UpToDate',
  'SWHardeningNeeded',
  'ConfigurationNeeded',
  'ConfigurationAndSWHardeningNeeded',
  'OutOfDate',
  'OutOfDateConfigurationNeeded',
] as const;
export type TcbStatus = (typeof TCB_STATUS_ORDER)[number];

export interface Evidence {
  kind: EvidenceKind;
  /** The raw evidence: DCAP quote, Nitro COSE_Sign1 document, SNP report, simulated JSON. */
  quote: Uint8Array;
  /**
   * Kind-specific collateral:
   * - sgx-dcap / tdx: dcap-qvl's `QuoteCollateralV3` JSON object (or its JSON text);
   * - sev-snp: `{ vcek: DER | PEM, chain?: PEM (ASK then ARK, KDS `cert_chain` order) }`;
   * - nitro, simulated: none (the document carries its chain; the root is pinned).
   */
  collateral?: unknown;
}

/** Minimum SEV-SNP TCB (the VCEK's SPL values), compared component by component. */
export interface SnpTcbMinimum {
  bootloader?: number;
  tee?: number;
  snp?: number;
  microcode?: number;
}

export interface EvidencePolicy {
  /**
   * Accepted measurements, lower-case hex. An entry is either the kind's primary measurement
   * (MRENCLAVE, MRTD, PCR0, MEASUREMENT, bundle SHA-384) or `name=hex[,name=hex...]` naming
   * fields of `result.measurements` that must all match (e.g. `mrtd=..,rtmr0=..`).
   */
  acceptedMeasurements: readonly string[];
  /** Worst acceptable Intel TCB status (DCAP only; other kinds report none and then fail). */
  minTcbStatus?: TcbStatus;
  /** SEV-SNP only: minimum reported TCB. */
  minSnpTcb?: SnpTcbMinimum;
  /** Oldest acceptable evidence (kinds with a signed time: nitro, simulated). */
  maxAgeSeconds?: number;
  /** The report data the evidence must carry: bytes, or hex. Zero-padded to the field size. */
  expectedReportData?: Uint8Array | string;
  /** Nitro only: the expected `nonce` and `public_key` (bytes or hex), exact. */
  expectedNonce?: Uint8Array | string;
  expectedPublicKey?: Uint8Array | string;
  /** Whether debug evidence is acceptable. Default false. */
  allowDebug?: boolean;
  pinnedRoots?: {
    /** The Intel SGX Root CA, DER (or PEM bytes). */
    intelSgxRootCa?: Uint8Array;
    /** DER or PEM of the AWS Nitro Enclaves Root-G1. */
    awsNitroRoot?: Uint8Array;
    /** AMD ARKs (DER or PEM), one per product line accepted. */
    amdArk?: Uint8Array[];
    /** Simulated vendor keys (base64 Ed25519) the caller trusts. */
    simulatedVendorKeys?: string[];
  };
  /** Verification time, seconds since the epoch. Default: the wall clock. */
  now?: number;
  /** Where to fetch collateral when the evidence carries none. */
  collateralSource?: {
    /** PCCS or Intel PCS base URL (the `/sgx|tdx/certification/v4/` API lives under it). */
    pccsUrl?: string;
    /** AMD KDS base URL (the `/vcek/v1/` API lives under it). */
    amdKdsUrl?: string;
    fetch?: typeof fetch;
    /** Per request; default 10 s. A service that does not answer is a failure, not a hang. */
    timeoutMs?: number;
  };
}

export const FAILURE_CODES = [
  'POLICY_INVALID',
  'UNSUPPORTED_EVIDENCE',
  'PARSE_ERROR',
  'SIGNATURE_INVALID',
  'CERT_CHAIN_INVALID',
  'CERT_EXPIRED',
  'CERT_REVOKED',
  'ROOT_NOT_PINNED',
  'COLLATERAL_MISSING',
  'COLLATERAL_INVALID',
  'COLLATERAL_EXPIRED',
  'COLLATERAL_MISMATCH',
  'TCB_NOT_SUPPORTED',
  'TCB_STATUS_BELOW_MINIMUM',
  'REPORT_DATA_MISMATCH',
  'NONCE_MISMATCH',
  'PUBLIC_KEY_MISMATCH',
  'DEBUG_NOT_ALLOWED',
  'MEASUREMENT_NOT_ACCEPTED',
  'TOO_OLD',
  'FROM_THE_FUTURE',
  'FRESHNESS_UNPROVEN',
  'INTERNAL_ERROR',
] as const;
export type FailureCode = (typeof FAILURE_CODES)[number];

export interface FailureReason {
  code: FailureCode;
  message: string;
}

export interface EvidenceResult {
  ok: boolean;
  reasons: FailureReason[];
  platform: EvidenceKind;
  /** Lower-case hex, named per kind (mrenclave, mrsigner, mrtd, rtmr0.., pcr0.., measurement). */
  measurements: Record<string, string>;
  /** Lower-case hex of the report data field (Nitro: user_data), or null. */
  reportData: string | null;
  /** Intel TCB status (DCAP), `null` where the platform has none. */
  tcbStatus: string | null;
  debug: boolean | null;
  /** Seconds since the epoch, where the evidence carries a signed time; else null. */
  evidenceTime: number | null;
  /** Kind-specific details (advisory ids, FMSPC, module id, TCB, chip id...). */
  details: Record<string, unknown>;
}
