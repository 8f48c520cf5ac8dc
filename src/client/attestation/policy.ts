/**
 * The checks every evidence kind shares, applied after the kind's own cryptographic checks:
 * accepted measurements, report data, debug, freshness and TCB status. Each kind verifier
 * produces `Claims` (what the evidence says) and the reasons its signatures and chains failed;
 * `finish` adds the policy's verdict and freezes the normalized result.
 */
import { bytesEqual, bytesToHex, hexToBytes } from '../../protocol/encoding.js';
import {
  TCB_STATUS_ORDER,
  type EvidenceKind,
  type EvidencePolicy,
  type EvidenceResult,
  type FailureCode,
  type FailureReason,
} from './types.js';

/** Evidence time may run ahead of the verifier's clock by this much (clock skew). */
export const MAX_FUTURE_SKEW_SECONDS = 60;

/** The oldest evidence (by its signed time) accepted when the verifier sets no bound of its own. */
export const DEFAULT_MAX_AGE_SECONDS = 300;

export interface Claims {
  measurements: Record<string, string>;
  /** The name in `measurements` that a plain accepted-measurement entry is compared with. */
  primary: string;
  reportData: Uint8Array | null;
  tcbStatus: string | null;
  debug: boolean | null;
  evidenceTime: number | null;
  details: Record<string, unknown>;
}

export class Reasons {
  readonly list: FailureReason[] = [];
  add(code: FailureCode, message: string): void {
    if (!this.list.some((r) => r.code === code && r.message === message))
      this.list.push({ code, message });
  }
  has(code: FailureCode): boolean {
    return this.list.some((r) => r.code === code);
  }
  get empty(): boolean {
    return this.list.length === 0;
  }
}

/** The verifier's clock in whole seconds: the policy's, or the wall clock. */
export function policyNow(policy: EvidencePolicy): number {
  return typeof policy.now === 'number' && Number.isFinite(policy.now)
    ? Math.floor(policy.now)
    : Math.floor(Date.now() / 1000);
}

const HEX = /^(?:[0-9a-f]{2})*$/;

/** Bytes from a Uint8Array or a hex string (either case); null when it is neither. */
export function bytesOf(v: Uint8Array | string | undefined): Uint8Array | null {
  if (v instanceof Uint8Array) return v;
  if (typeof v === 'string' && HEX.test(v.toLowerCase())) return hexToBytes(v.toLowerCase());
  return null;
}

/** Constant-time equality for byte strings of equal length: the protocol's one (encoding.ts). */
export const ctEqual = bytesEqual;

/** A field compared with an expected value padded with zeros to the field's size. */
function paddedEqual(field: Uint8Array, expected: Uint8Array): boolean {
  if (expected.length > field.length) return false;
  const padded = new Uint8Array(field.length);
  padded.set(expected);
  return ctEqual(field, padded);
}

/**
 * An accepted-measurement entry as `[name, hex]` pairs: a plain hex entry pins the kind's
 * `primary` measurement; `name=hex[,name=hex...]` pins each named one. Null when malformed.
 */
export function measurementPins(entry: string, primary: string): [string, string][] | null {
  const e = entry.trim().toLowerCase();
  if (!e.includes('=')) return e.length > 0 ? [[primary, e]] : null;
  const pairs = e.split(',').map((p) => p.split('='));
  if (!pairs.every((p) => p.length === 2 && p[0]!.trim().length > 0 && p[1]!.trim().length > 0))
    return null;
  return pairs.map((p) => [p[0]!.trim(), p[1]!.trim()]);
}

/** Does the entry (plain or `name=hex,…`) match every measurement it pins? */
export function measurementAccepted(
  entry: string,
  measurements: Readonly<Record<string, string>>,
  primary: string,
): boolean {
  const pins = typeof entry === 'string' ? measurementPins(entry, primary) : null;
  return pins !== null && pins.every(([name, hex]) => measurements[name] === hex);
}

export function checkMeasurement(claims: Claims, policy: EvidencePolicy, reasons: Reasons): void {
  const accepted = Array.isArray(policy.acceptedMeasurements) ? policy.acceptedMeasurements : [];
  if (accepted.length === 0) {
    reasons.add('MEASUREMENT_NOT_ACCEPTED', 'policy: no accepted measurements given');
    return;
  }
  if (!accepted.some((m) => measurementAccepted(m, claims.measurements, claims.primary))) {
    reasons.add(
      'MEASUREMENT_NOT_ACCEPTED',
      `${claims.primary} ${claims.measurements[claims.primary] ?? '(none)'} is not accepted`,
    );
  }
}

export function checkReportData(claims: Claims, policy: EvidencePolicy, reasons: Reasons): void {
  if (policy.expectedReportData === undefined) return;
  const expected = bytesOf(policy.expectedReportData);
  if (!expected) {
    reasons.add('POLICY_INVALID', 'policy: expectedReportData is neither bytes nor hex');
  } else if (!claims.reportData || !paddedEqual(claims.reportData, expected)) {
    reasons.add('REPORT_DATA_MISMATCH', 'report data differs from the expected value');
  }
}

export function checkDebug(claims: Claims, policy: EvidencePolicy, reasons: Reasons): void {
  if (policy.allowDebug === true) return;
  if (claims.debug !== false)
    reasons.add(
      'DEBUG_NOT_ALLOWED',
      claims.debug === null ? 'debug mode could not be determined' : 'debug evidence not allowed',
    );
}

export function checkFreshness(claims: Claims, policy: EvidencePolicy, reasons: Reasons): void {
  const now = policyNow(policy);
  if (claims.evidenceTime !== null && claims.evidenceTime > now + MAX_FUTURE_SKEW_SECONDS) {
    reasons.add('FROM_THE_FUTURE', 'evidence time is after the verification time');
  }
  if (policy.maxAgeSeconds === undefined) return;
  if (typeof policy.maxAgeSeconds !== 'number' || !(policy.maxAgeSeconds >= 0)) {
    reasons.add('POLICY_INVALID', 'policy: maxAgeSeconds must be a non-negative number');
  } else if (claims.evidenceTime === null) {
    reasons.add(
      'FRESHNESS_UNPROVEN',
      'this evidence carries no signed time; prove freshness with a nonce in the report data',
    );
  } else if (now - claims.evidenceTime > policy.maxAgeSeconds) {
    reasons.add('TOO_OLD', `evidence is ${now - claims.evidenceTime} s old`);
  }
}

export function checkTcbStatus(claims: Claims, policy: EvidencePolicy, reasons: Reasons): void {
  if (policy.minTcbStatus === undefined) return;
  const min = TCB_STATUS_ORDER.indexOf(policy.minTcbStatus);
  if (min < 0) {
    reasons.add('POLICY_INVALID', `policy: unknown minTcbStatus ${String(policy.minTcbStatus)}`);
    return;
  }
  const got = claims.tcbStatus === null ? -1 : TCB_STATUS_ORDER.indexOf(claims.tcbStatus as never);
  if (got < 0 || got > min) {
    reasons.add(
      'TCB_STATUS_BELOW_MINIMUM',
      `TCB status ${claims.tcbStatus ?? '(none)'} is below ${policy.minTcbStatus}`,
    );
  }
}

/** Applies the shared policy checks and builds the normalized result. */
export function finish(
  platform: EvidenceKind,
  claims: Claims | null,
  policy: EvidencePolicy,
  reasons: Reasons,
): EvidenceResult {
  if (claims) {
    checkMeasurement(claims, policy, reasons);
    checkReportData(claims, policy, reasons);
    checkDebug(claims, policy, reasons);
    checkFreshness(claims, policy, reasons);
    checkTcbStatus(claims, policy, reasons);
  } else if (reasons.empty) {
    reasons.add('INTERNAL_ERROR', 'no claims and no reason');
  }
  return {
    ok: reasons.empty,
    reasons: reasons.list,
    platform,
    measurements: claims?.measurements ?? {},
    reportData: claims?.reportData ? bytesToHex(claims.reportData) : null,
    tcbStatus: claims?.tcbStatus ?? null,
    debug: claims?.debug ?? null,
    evidenceTime: claims?.evidenceTime ?? null,
    details: claims?.details ?? {},
  };
}
