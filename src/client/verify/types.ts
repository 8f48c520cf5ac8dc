/** The caller's policy for an attestation response, and the claims its evidence proved. */
import type { PlatformName } from '../../protocol/attestation/response.js';
import type { EvidencePolicy, EvidenceResult } from '../attestation/types.js';

export interface VerificationPolicy {
  /** Accepted measurements (hex). A list, so a rolling upgrade can accept old and new. */
  expectedMeasurements?: readonly string[];
  /**
   * The cluster id (hex, docs/protocol/cluster.md) the enclave must prove it belongs to: the
   * response must carry exactly this `cluster_id`, which the report data binds. An enclave given
   * another root (e.g. by its host) shows another id and is refused.
   */
  expectClusterId?: string;
  /** The nonce the caller sent; the evidence must bind exactly this one. */
  nonce?: string;
  /** Simulated evidence is refused unless its vendor key (base64) is listed here. */
  trustedSimulatedVendorKeys?: readonly string[];
  /** Oldest acceptable evidence, seconds (default 300). */
  maxAgeSeconds?: number;
  /** Whether debug evidence is acceptable (simulated evidence is always debug). Default true only with a trusted simulated key. */
  allowDebug?: boolean;
  /** Verification time, seconds since the epoch (tests, offline checks). */
  now?: number;
  /** Real platforms: the pinned vendor roots (Intel SGX root CA, AWS Nitro root, AMD ARKs). */
  pinnedRoots?: EvidencePolicy['pinnedRoots'];
  /** Real platforms: collateral for the evidence (DCAP collateral JSON, SEV-SNP VCEK and chain). */
  collateral?: unknown;
  /** Where to fetch collateral that is not supplied (PCCS/PCS, AMD KDS). */
  collateralSource?: EvidencePolicy['collateralSource'];
  /**
   * Intel DCAP: worst acceptable TCB status (default `ConfigurationAndSWHardeningNeeded`:
   * OutOfDate platforms are refused). SEV-SNP: minimum reported TCB (default: none).
   */
  minTcbStatus?: EvidencePolicy['minTcbStatus'];
  minSnpTcb?: EvidencePolicy['minSnpTcb'];
}

export interface EvidenceClaims {
  platform: PlatformName;
  measurement: string;
  /** Signer identity where the platform has one (simulated signer, SGX MRSIGNER), else null. */
  signer: string | null;
  reportData: string;
  /** Signed evidence time (simulated, Nitro); null where freshness rests on the nonce alone. */
  timestamp: number | null;
  debug: boolean;
  /** Everything the evidence verifier reported (all measurements, TCB status, details). */
  evidence: EvidenceResult;
}
