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
