/**
 * Verifies a `GET /attestation/quote` response end to end: the platform evidence (through
 * `verifyEvidence`, the same code path for simulated and hardware evidence), the measurement
 * against what the caller expects, the report data against the returned keys and nonce (so the
 * keys are the enclave's own), the key id, and freshness. Fails closed: anything not proven is
 * a reason, and `valid` means no reason.
 */
import {
  AttestationResponseSchema,
  type AttestationResponse,
  type PlatformName,
} from '../../protocol/attestation/response.js';
import { computeReportData } from '../../protocol/attestation/report-data.js';
import { base64ToBytes, bytesToHex } from '../../protocol/encoding.js';
import { okpThumbprint } from '../../protocol/key-id.js';
import type { EvidenceKind, EvidencePolicy, TcbStatus } from '../attestation/types.js';
import {
  DEFAULT_MAX_AGE_SECONDS,
  MAX_FUTURE_SKEW_SECONDS,
  measurementAccepted,
  measurementPins,
} from '../attestation/policy.js';
import { verifyEvidence } from '../attestation/verify-evidence.js';
import type { EvidenceClaims, VerificationPolicy } from './types.js';

/** Response platform name → evidence kind, and the measurement `image_hash` must equal. */
export const PLATFORM_EVIDENCE: Readonly<
  Record<PlatformName, { kind: EvidenceKind; measurement: string; signer?: string }>
> = Object.freeze({
  simulated: { kind: 'simulated', measurement: 'measurement', signer: 'signer' },
  sgx: { kind: 'sgx-dcap', measurement: 'mrenclave', signer: 'mrsigner' },
  tdx: { kind: 'tdx', measurement: 'mrtd' },
  'sev-snp': { kind: 'sev-snp', measurement: 'measurement' },
  nitro: { kind: 'nitro', measurement: 'pcr0' },
});

/**
 * What a TDX entry must pin: MRTD measures only the virtual firmware; the kernel, initrd and
 * command line (and so the application) are in RTMR0–2 (docs/platforms/tdx.md).
 */
export const TDX_REQUIRED_PINS: readonly string[] = ['mrtd', 'rtmr0', 'rtmr1', 'rtmr2'];

/**
 * The expected-measurement entry that pins what `claims` measured: on TDX MRTD and RTMR0–2
 * (`name=hex,…`, what a TDX entry must pin), elsewhere the platform's measurement. For a user
 * who pins the evidence in front of them (the web app's trust on first use, shown as such).
 */
export function pinEntryFor(claims: EvidenceClaims): string {
  if (claims.platform !== 'tdx') return claims.measurement;
  return TDX_REQUIRED_PINS.map((n) => `${n}=${claims.evidence.measurements[n] ?? ''}`).join(',');
}

/** Codes this module re-checks itself, with its own long-standing messages. */
const RECHECKED = new Set(['MEASUREMENT_NOT_ACCEPTED', 'REPORT_DATA_MISMATCH']);

export interface AttestationVerification {
  valid: boolean;
  reasons: string[];
  platform: PlatformName | null;
  measurement: string | null;
  debug: boolean | null;
  /** The enclave's X25519 credential key (base64) and its id: encrypt to these. */
  enclavePubkey: string | null;
  keyId: string | null;
  signingKeys: AttestationResponse['signing_keys'] | null;
  /** The cluster id the report data binds (docs/protocol/cluster.md), when the enclave has one. */
  clusterId: string | null;
  claims: EvidenceClaims | null;
}

/**
 * The worst Intel TCB status (SGX, TDX) accepted when the caller names none: `OutOfDate` and
 * `OutOfDateConfigurationNeeded` mean microcode or firmware with published fixes missing, which
 * the host (who runs the machine) can exploit to read enclave memory. A caller who accepts
 * that says so with `minTcbStatus: 'OutOfDateConfigurationNeeded'`.
 */
export const DEFAULT_MIN_TCB_STATUS: TcbStatus = 'ConfigurationAndSWHardeningNeeded';

/** The `minTcbStatus` applied to evidence of `kind` when the caller names none. */
export function defaultMinTcbStatus(kind: EvidenceKind): TcbStatus | undefined {
  return kind === 'sgx-dcap' || kind === 'tdx' ? DEFAULT_MIN_TCB_STATUS : undefined;
}

export const TDX_PINS_MISSING =
  'policy: on TDX an expected measurement must pin mrtd, rtmr0, rtmr1 and rtmr2 (mrtd=…,rtmr0=…,rtmr1=…,rtmr2=…): MRTD alone accepts any OS and application on that firmware';

/** Whether one of `entries` pins everything a TDX entry must pin (TDX_REQUIRED_PINS). */
export function pinsTdxApplication(entries: readonly string[]): boolean {
  return entries.some((e) => {
    const pinned = (measurementPins(e, 'mrtd') ?? []).map(([name]) => name);
    return TDX_REQUIRED_PINS.every((name) => pinned.includes(name));
  });
}

/** The `verifyEvidence` policy for a response of `platform` under the caller's `policy`. */
export function evidencePolicyFor(
  platform: PlatformName,
  policy: VerificationPolicy,
  reportData: Uint8Array,
): EvidencePolicy {
  const kind = PLATFORM_EVIDENCE[platform].kind;
  return {
    acceptedMeasurements: policy.expectedMeasurements ?? [],
    expectedReportData: reportData,
    // Simulated evidence is always debug; it is refused unless its vendor key is trusted.
    allowDebug: policy.allowDebug ?? platform === 'simulated',
    pinnedRoots: {
      ...policy.pinnedRoots,
      simulatedVendorKeys: [
        ...(policy.trustedSimulatedVendorKeys ?? []),
        ...(policy.pinnedRoots?.simulatedVendorKeys ?? []),
      ],
    },
    now: policy.now,
    minTcbStatus: policy.minTcbStatus ?? defaultMinTcbStatus(kind),
    minSnpTcb: policy.minSnpTcb,
    collateralSource: policy.collateralSource,
  };
}

export async function verifyAttestationResponse(
  response: unknown,
  policy: VerificationPolicy,
): Promise<AttestationVerification> {
  const parsed = AttestationResponseSchema.safeParse(response);
  if (!parsed.success) {
    return fail(['response: does not match the attestation response schema']);
  }
  const r = parsed.data;
  const reasons: string[] = [];
  const reportData = computeReportData(r);
  const map = PLATFORM_EVIDENCE[r.platform];
  const ev = await verifyEvidence(
    { kind: map.kind, quote: base64ToBytes(r.quote), collateral: policy.collateral },
    evidencePolicyFor(r.platform, policy, reportData),
  );
  for (const reason of ev.reasons)
    if (!RECHECKED.has(reason.code)) reasons.push(`evidence: ${reason.message}`);
  const measurement = ev.measurements[map.measurement];
  const claims: EvidenceClaims | null =
    measurement !== undefined && ev.reportData !== null && ev.debug !== null
      ? {
          platform: r.platform,
          measurement,
          signer: map.signer ? (ev.measurements[map.signer] ?? null) : null,
          reportData: ev.reportData,
          timestamp: ev.evidenceTime,
          debug: ev.debug,
          evidence: ev,
        }
      : null;
  if (!claims && ev.reasons.every((x) => RECHECKED.has(x.code)))
    reasons.push('evidence: no measurement, report data or debug flag could be read');

  if (claims) {
    if (claims.measurement !== r.image_hash)
      reasons.push('evidence: measurement differs from image_hash');
    const expected = policy.expectedMeasurements;
    // An entry is the platform's measurement, or `name=hex,…` over the evidence's measurements.
    const matching = (expected ?? []).filter((e) =>
      measurementAccepted(e, ev.measurements, map.measurement),
    );
    if (!expected || expected.length === 0) {
      reasons.push('policy: no expected measurement given');
    } else if (matching.length === 0) {
      reasons.push('evidence: measurement is not one of the expected measurements');
    } else if (r.platform === 'tdx' && !pinsTdxApplication(matching)) {
      reasons.push(TDX_PINS_MISSING);
    }
    const hex = bytesToHex(reportData);
    if (claims.reportData !== hex || r.report_data !== hex) {
      reasons.push('evidence: report data does not bind the returned keys and nonce');
    }
    if (claims.timestamp !== null) {
      const now = policy.now ?? Math.floor(Date.now() / 1000);
      const age = now - claims.timestamp;
      if (age > (policy.maxAgeSeconds ?? DEFAULT_MAX_AGE_SECONDS))
        reasons.push('evidence: too old');
      if (-age > MAX_FUTURE_SKEW_SECONDS) reasons.push('evidence: timestamp is in the future');
    } else if (policy.nonce === undefined) {
      // No signed time: only the caller's own nonce, bound into the report data, proves "now".
      reasons.push('evidence: freshness unproven (no signed time; pass the nonce you sent)');
    }
  }
  if (policy.expectClusterId !== undefined && r.cluster_id !== policy.expectClusterId.toLowerCase())
    reasons.push(
      r.cluster_id === undefined
        ? 'response: no cluster id, one was expected'
        : 'response: cluster id differs from the expected one',
    );
  if (policy.nonce !== undefined && policy.nonce !== r.nonce)
    reasons.push('response: nonce differs from the one sent');
  if (okpThumbprint('X25519', base64ToBytes(r.enclave_pubkey)) !== r.key_id) {
    reasons.push('response: key_id is not the thumbprint of enclave_pubkey');
  }

  return {
    valid: reasons.length === 0,
    reasons,
    platform: r.platform,
    measurement: claims?.measurement ?? null,
    debug: claims?.debug ?? null,
    enclavePubkey: reasons.length === 0 ? r.enclave_pubkey : null,
    keyId: reasons.length === 0 ? r.key_id : null,
    signingKeys: reasons.length === 0 ? r.signing_keys : null,
    clusterId: reasons.length === 0 ? (r.cluster_id ?? null) : null,
    claims,
  };
}

function fail(reasons: string[]): AttestationVerification {
  return {
    valid: false,
    reasons,
    platform: null,
    measurement: null,
    debug: null,
    enclavePubkey: null,
    keyId: null,
    signingKeys: null,
    clusterId: null,
    claims: null,
  };
}
