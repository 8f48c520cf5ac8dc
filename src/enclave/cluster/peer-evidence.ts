/**
 * Join (docs/protocol/cluster.md, "Join"): an enclave checks another enclave's evidence against
 * the cluster manifest itself, with the SDK's pure evidence checks (the zone check allows this
 * one file to use them). The manifest decides: platform, accepted measurements, debug policy
 * and, for `simulated`, the trusted vendor keys; the evidence must be at most
 * DEFAULT_MAX_AGE_SECONDS old by its signed time. Today only `simulated` evidence is verified in
 * the enclave: the hardware verifiers reach collateral fetchers (network code the enclave bundle
 * must not hold), so a hardware peer is refused until they are split out (issue 13 report).
 */
import {
  checkDebug,
  checkFreshness,
  checkMeasurement,
  checkReportData,
  DEFAULT_MAX_AGE_SECONDS,
  Reasons,
} from '../../client/attestation/policy.js';
import { verifySimulated } from '../../client/attestation/simulated.js';
import type { EvidencePolicy } from '../../client/attestation/types.js';
import type { PlatformName } from '../../protocol/attestation/response.js';
import type { Manifest } from '../../protocol/cluster/cluster.js';
import { base64ToBytes, bytesToHex } from '../../protocol/encoding.js';
import { RpcError } from '../../protocol/rpc/errors.js';

export async function checkPeerEvidence(
  manifest: Manifest,
  peer: { platform: PlatformName; quote: string; image_hash: string; report_data: string },
  expectedReportData: Uint8Array,
  _collateral: unknown,
  now: number,
): Promise<void> {
  const refuse = () => new RpcError('CLUSTER_PEER_REFUSED');
  if (peer.platform !== manifest.platform.name || peer.platform !== 'simulated') throw refuse();
  if (peer.report_data !== bytesToHex(expectedReportData)) throw refuse();
  const policy: EvidencePolicy = {
    acceptedMeasurements: manifest.measurements,
    expectedReportData,
    allowDebug: manifest.platform.allow_debug,
    pinnedRoots: { simulatedVendorKeys: manifest.platform.simulated_vendor_keys ?? [] },
    // The newcomer's nonce proves nothing to the member: only the signed evidence time keeps
    // a join request the host replays (or kept) from being answered (evidence with no signed
    // time fails: FRESHNESS_UNPROVEN).
    maxAgeSeconds: DEFAULT_MAX_AGE_SECONDS,
    now,
  };
  const reasons = new Reasons();
  const claims = verifySimulated(
    { kind: 'simulated', quote: base64ToBytes(peer.quote) },
    policy,
    reasons,
  );
  if (!claims) throw refuse();
  checkMeasurement(claims, policy, reasons);
  checkReportData(claims, policy, reasons);
  checkDebug(claims, policy, reasons);
  checkFreshness(claims, policy, reasons);
  const measurement = claims.measurements[claims.primary];
  if (
    !reasons.empty ||
    measurement === undefined ||
    measurement !== peer.image_hash ||
    !manifest.measurements.includes(measurement)
  )
    throw refuse();
}
