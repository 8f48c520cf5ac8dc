/** The shape every evidence verifier shares (one per platform, registered by name). */
import type { PlatformName } from '../../protocol/attestation/response.js';

export interface VerificationPolicy {
  /** Accepted measurements (hex). A list, so a rolling upgrade can accept old and new. */
  expectedMeasurements?: readonly string[];
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
}

export interface EvidenceClaims {
  platform: PlatformName;
  measurement: string;
  signer: string;
  reportData: string;
  timestamp: number;
  debug: boolean;
}

export type EvidenceVerifier = (
  quote: Uint8Array,
  policy: VerificationPolicy,
) => { ok: boolean; reasons: string[]; claims?: EvidenceClaims };
