/**
 * What a TEE platform gives the enclave (ARCHITECTURE.md "TEE platforms"): its measurement
 * (code identity), its signer identity, evidence binding 64 bytes of report data to them, and a
 * sealing key bound to one of the two. Concrete platforms live beside this file; the enclave
 * only ever sees this interface.
 */
import type { PlatformName } from '../../protocol/attestation/response.js';
import type { SealPolicy } from '../../protocol/rpc/methods.js';

export interface Platform {
  readonly name: PlatformName;
  /** Hex: SHA-384 of the enclave bundle on `simulated`, MRENCLAVE/PCRs elsewhere. */
  readonly measurement: string;
  /** Hex: who signed the enclave (MRSIGNER on SGX); what the `signer` seal policy binds to. */
  readonly signer: string;
  /**
   * Platform evidence over exactly 64 bytes of report data. Hardware platforms answer
   * asynchronously (a device read, a quote from the quoting enclave or the host's QGS).
   */
  evidence(reportData: Uint8Array): Uint8Array | Promise<Uint8Array>;
  /** 32-byte AES key for sealing, bound to the measurement or to the signer. Caller wipes it. */
  sealingKey(policy: SealPolicy): Uint8Array;
  /**
   * Who may connect to the enclave's socket. Unset: its owner only (0600), the host being the
   * enclave's parent under the same user. 0o660 (tdx, sev-snp): also the socket's group, since
   * there the host runs as another user (isolation.ts, docs/platforms/tdx.md "Deployment").
   */
  readonly socketMode?: 0o660;
}

export function sealIdentity(platform: Platform, policy: SealPolicy): string {
  return policy === 'measurement' ? platform.measurement : platform.signer;
}
