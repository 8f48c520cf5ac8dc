/**
 * What a v2 (or v3) result binds (docs/protocol/signed-aggregates.md, "Bindings"), for a verifier:
 * opening the exchange-account commitment with the holder's salt and account id, recomputing
 * the subject, and a one-paragraph summary that cannot hide partial symbol coverage. Isomorphic.
 */
import {
  accountCommitment,
  aggregatesSubject,
  AGGREGATES_VERSION_V1,
  type AggregatesPayload,
} from '../../protocol/aggregates.js';
import { base64ToBytes, hexToBytes } from '../../protocol/encoding.js';
import { sessionLogSubject } from '../../protocol/log/entry.js';
import { EXCHANGE_TABLE } from '../../protocol/exchange-table.js';

/** Constant-time equality of two hex digests of the same length. */
function sameHex(a: string, b: string): boolean {
  if (a.length !== b.length || !/^[0-9a-f]*$/.test(a) || !/^[0-9a-f]*$/.test(b)) return false;
  const x = hexToBytes(a);
  const y = hexToBytes(b);
  let d = 0;
  for (let i = 0; i < x.length; i++) d |= x[i]! ^ y[i]!;
  return d === 0;
}

/**
 * True when `accountId` (the exchange's own account/user id) and `salt` (base64, 32 bytes,
 * from the holder's `account_opening`) open the payload's `account_commitment`. False for a
 * v1 payload (it commits to no account) or a malformed salt or id.
 */
export function openAccountCommitment(
  payload: AggregatesPayload,
  opening: { accountId: string; salt: string },
): boolean {
  if (payload.version === AGGREGATES_VERSION_V1) return false;
  try {
    const salt = base64ToBytes(opening.salt);
    const c = accountCommitment(salt, payload.exchange, opening.accountId);
    return sameHex(c, payload.account_commitment);
  } catch {
    return false;
  }
}

/** True when the payload's `subject` is that of this Cloister user (v2 and later). */
export function subjectIsUser(payload: AggregatesPayload, userId: string): boolean {
  return (
    payload.version !== AGGREGATES_VERSION_V1 &&
    sameHex(aggregatesSubject({ userId }), payload.subject)
  );
}

/**
 * The symbols the figures leave out, in words, or null when the scan covered every symbol the
 * account traded in the window. A v1 result never says, so it always "covers only" its scan.
 */
export function coverageWarning(payload: AggregatesPayload): string | null {
  if (payload.version !== AGGREGATES_VERSION_V1 && payload.symbols_complete) return null;
  const n = payload.symbols_scanned.length;
  const list =
    n <= 10
      ? payload.symbols_scanned.join(', ')
      : `${payload.symbols_scanned.slice(0, 10).join(', ')}, …`;
  return `covers only ${n} symbol${n === 1 ? '' : 's'} (${list || 'none'}); fills in any other symbol are not counted`;
}

/** A one-line summary for people: figures, window, source, and any partial coverage. */
export function summarizeAggregates(payload: AggregatesPayload): string {
  const parts = [
    `${payload.trades} trades, pnl ${payload.pnl} ${payload.reporting_currency} over [${payload.from}, ${payload.to}) from ${payload.exchange} at ${payload.api_host}`,
  ];
  const warning = coverageWarning(payload);
  if (warning) parts.push(warning);
  if (payload.version !== AGGREGATES_VERSION_V1) {
    if (payload.audience !== null) parts.push(`addressed to ${payload.audience}`);
  } else parts.push('v1: names no exchange account, subject or audience');
  return parts.join('; ');
}

/** What the requester asked `POST /enclave/request_aggregates` for (the fields it set). */
export interface AggregatesRequest {
  /** The session whose key the enclave used. */
  sessionId: string;
  /** Window bounds as sent (ISO 8601); `from` may be moved later by the enclave, never earlier. */
  from?: string;
  to?: string;
  reportingCurrency?: string;
  /**
   * The symbols sent (absent: the whole account). The host passes them on to the enclave, so a
   * result over symbols not asked for, or over fewer than the account's when the whole account
   * was asked for (where the exchange lists it whole), answered another request.
   */
  symbols?: readonly string[];
  /** Sent or not: a result addressed to another audience, or with another nonce, is not this one. */
  audience?: string;
  nonce?: string;
  /**
   * When the request was sent (seconds since the epoch): the result must be computed after, and
   * without `to` it must end then ("now"), give or take COMPUTED_AT_SKEW_SECONDS.
   */
  requestedAt?: number;
}

/** How far the enclave's clock may lag the requester's when `computed_at` is compared. */
export const COMPUTED_AT_SKEW_SECONDS = 300;

/**
 * Why a verified result is not the answer to `request`, or none. The host relays the answer, so
 * a genuine signed result of another session, window, currency, audience or an older run of the
 * same request verifies under the results key: only the requester can tell it is not its own.
 */
export function aggregatesRequestMismatches(
  payload: AggregatesPayload,
  request: AggregatesRequest,
): string[] {
  const reasons: string[] = [];
  const time = (iso: string) => Date.parse(iso);
  if (payload.session !== sessionLogSubject(request.sessionId))
    reasons.push('session: the result is of another session');
  if (request.to !== undefined && time(payload.to) !== time(request.to))
    reasons.push('to: the result ends at another time than asked');
  // No `to` sent: the host fills in its "now", so an earlier end (before the latest losses) is
  // its choice, not the requester's.
  if (
    request.to === undefined &&
    request.requestedAt !== undefined &&
    time(payload.to) / 1000 < request.requestedAt - COMPUTED_AT_SKEW_SECONDS
  )
    reasons.push('to: the result ends before this request was sent (it asked for "now")');
  if (request.from !== undefined && !(time(payload.from) >= time(request.from)))
    reasons.push('from: the result starts before the window asked for');
  if (
    request.reportingCurrency !== undefined &&
    payload.reporting_currency !== request.reportingCurrency
  )
    reasons.push('reporting_currency: not the currency asked for');
  if (request.symbols !== undefined) {
    const asked = new Set(request.symbols);
    const scanned = [...payload.symbols_scanned, ...Object.keys(payload.symbols)];
    if (scanned.some((s) => !asked.has(s)))
      reasons.push('symbols: the result covers symbols not asked for');
  } else if (
    payload.version !== AGGREGATES_VERSION_V1 &&
    !payload.symbols_complete &&
    EXCHANGE_TABLE[payload.exchange].accountWideListing
  ) {
    reasons.push('symbols: the result covers only some symbols; the whole account was asked for');
  }
  if (payload.version !== AGGREGATES_VERSION_V1) {
    if (payload.audience !== (request.audience ?? null))
      reasons.push('audience: not the audience asked for');
    if (payload.nonce !== (request.nonce ?? null)) reasons.push('nonce: not the nonce asked for');
  } else if (request.audience !== undefined || request.nonce !== undefined) {
    reasons.push('version: a v1 result carries no audience or nonce');
  }
  if (
    request.requestedAt !== undefined &&
    time(payload.computed_at) / 1000 < request.requestedAt - COMPUTED_AT_SKEW_SECONDS
  )
    reasons.push('computed_at: computed before this request (an earlier result)');
  return reasons;
}
