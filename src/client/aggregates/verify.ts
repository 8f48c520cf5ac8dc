/**
 * Verifying signed aggregates (docs/protocol/signed-aggregates.md) for anyone: the payload
 * schema, the Ed25519 signature of the enclave's result key over the domain-separated JCS
 * payload, the key id, and the result's inclusion in the transparency log under a checkpoint
 * signed by the attested log key. Isomorphic (@noble/curves, no `node:`). Both functions fail
 * closed and never throw: anything not proven is a reason, and `valid` means no reason.
 *
 * The keys come from a verified attestation (`verifyAttestationResponse(...).signingKeys`):
 * `results` for the signature, `log` for the checkpoint. Nothing the service says is trusted.
 * `cloister/aggregates/v3`, v2 and v1 results verify (a v3 one only if its daily series adds up
 * to its `pnl` exactly: the schema checks it); a verifier that asked for a result addressed to
 * it (`expectedAudience`, `expectedNonce`) refuses any other, and any v1 one.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import {
  AGGREGATES_VERSION_V1,
  aggregatesDigest,
  aggregatesSigningInput,
  AggregatesLogEntrySchema,
  SignedAggregatesSchema,
  type AggregatesLogEntry,
  type AggregatesPayload,
} from '../../protocol/aggregates.js';
import { base64ToBytes, bytesToHex } from '../../protocol/encoding.js';
import { jcs } from '../../protocol/jcs.js';
import { okpThumbprint } from '../../protocol/key-id.js';
import { measurementPins } from '../attestation/policy.js';
import {
  verifyEntryInclusion,
  verifyLogCheckpoint,
  type LogTrust,
  type VerifiedCheckpoint,
} from '../log/verify-log.js';
import { EXCHANGES } from '../../protocol/credentials.js';
import { EXCHANGE_TABLE } from '../../protocol/exchange-table.js';

export interface AggregatesTrust {
  /** The enclave's result-signing key (base64), from `verification.signingKeys.results`. */
  resultsKey: string;
  /** If given, the payload's `measurement` must be one of these (hex). */
  expectedMeasurements?: readonly string[];
  /**
   * API hosts whose figures are accepted. Default: the exchange's official production hosts
   * (`OFFICIAL_API_HOSTS`). A testnet, a fake exchange or any other host must be named here:
   * the signature proves what the enclave read, and `api_host` says from whom.
   */
  allowedApiHosts?: readonly string[];
  /** The audience the verifier asked for: the payload's `audience` must be exactly this. */
  expectedAudience?: string;
  /** The verifier's fresh nonce: the payload's `nonce` must be exactly this. */
  expectedNonce?: string;
  /** Refuse v1 results (they name no exchange account, subject, audience or nonce); v2 and v3 pass. */
  requireV2?: boolean;
}

/** The production API hosts of each exchange the connectors speak to (protocol/exchange-table.ts). */
export const OFFICIAL_API_HOSTS: Readonly<Record<string, readonly string[]>> = Object.freeze(
  Object.fromEntries(EXCHANGES.map((e) => [e, EXCHANGE_TABLE[e].officialApiHosts])),
);

export type AggregatesVerification =
  | { valid: true; payload: AggregatesPayload; digest: string; reasons: [] }
  | { valid: false; reasons: string[] };

/** Checks schema, signature and key id of `{ payload, signature }`. */
export function verifySignedAggregates(
  signed: unknown,
  trust: AggregatesTrust,
): AggregatesVerification {
  const parsed = SignedAggregatesSchema.safeParse(signed);
  if (!parsed.success) {
    const where = parsed.error.issues.map((i) => i.path.join('.') || '(root)');
    return { valid: false, reasons: [`schema: invalid at ${[...new Set(where)].join(', ')}`] };
  }
  const { payload, signature } = parsed.data;
  let key: Uint8Array;
  try {
    key = base64ToBytes(trust.resultsKey);
    if (key.length !== 32) throw new RangeError('length');
  } catch {
    return { valid: false, reasons: ['trust: resultsKey is not a base64 Ed25519 public key'] };
  }
  const reasons: string[] = [];
  if (payload.key_id !== okpThumbprint('Ed25519', key))
    reasons.push('key_id: not the thumbprint of the trusted results key');
  const message = aggregatesSigningInput(payload);
  let ok = false;
  try {
    // RFC 8032 strict decoding (as OpenSSL, which signs), not the permissive ZIP-215 rules.
    ok = ed25519.verify(base64ToBytes(signature), message, key, { zip215: false });
  } catch {
    ok = false;
  }
  if (!ok) reasons.push('signature: does not verify under the trusted results key');
  const hosts = trust.allowedApiHosts ?? OFFICIAL_API_HOSTS[payload.exchange] ?? [];
  if (!hosts.includes(payload.api_host))
    reasons.push(
      `api_host: ${payload.api_host} is not an accepted API host of ${payload.exchange} (see allowedApiHosts)`,
    );
  const expected = trust.expectedMeasurements;
  // The payload names the platform's main measurement; a `name=hex,…` entry (a TDX pin of MRTD
  // and RTMRs) matches when one of its values is it (the evidence checked the rest).
  if (
    expected &&
    !expected.some(
      (e) =>
        typeof e === 'string' &&
        (measurementPins(e, '') ?? []).some(([, hex]) => hex === payload.measurement),
    )
  )
    reasons.push('measurement: not one of the expected measurements');
  const v2 = payload.version !== AGGREGATES_VERSION_V1 ? payload : null;
  const wantsV2 =
    trust.requireV2 === true ||
    trust.expectedAudience !== undefined ||
    trust.expectedNonce !== undefined;
  if (!v2 && wantsV2)
    reasons.push(`version: ${payload.version} names no account, subject, audience or nonce`);
  if (v2 && trust.expectedAudience !== undefined && v2.audience !== trust.expectedAudience)
    reasons.push('audience: not the audience this verifier asked for');
  if (v2 && trust.expectedNonce !== undefined && v2.nonce !== trust.expectedNonce)
    reasons.push('nonce: not the nonce this verifier asked for (a replayed or other result)');
  if (reasons.length > 0) return { valid: false, reasons };
  return { valid: true, payload, digest: aggregatesDigest(payload), reasons: [] };
}

/** What the service returns to prove a result is logged (`GET` of its log entry and proof). */
export interface AggregatesLogProof {
  /** The log entry's exact leaf text (RFC 8785 JSON). */
  entry: string;
  /** Leaf index of the entry. */
  index: number;
  /** RFC 9162 inclusion proof, base64 hashes, leaf to root. */
  proof: readonly string[];
  /** The C2SP signed checkpoint note the proof is relative to. */
  checkpoint: string;
  /** The response's `merkle_root`, if any (hex or base64): must be the checkpoint's root. */
  merkleRoot?: string;
}

export type AggregatesInclusion =
  | { valid: true; entry: AggregatesLogEntry; checkpoint: VerifiedCheckpoint; reasons: [] }
  | { valid: false; reasons: string[] };

/**
 * Checks that the result's log entry (type `aggregates.signed`, subject = the payload's session
 * hash, `digests.payload` = SHA-256 of the signing input) is at `index` in the tree of a
 * checkpoint signed by the trusted log key (and cosigned as `trust` requires). Call
 * `verifySignedAggregates` too: this proves the result was logged, not that it was signed.
 */
export function verifyAggregatesInclusion(
  signed: unknown,
  log: AggregatesLogProof,
  trust: LogTrust,
): AggregatesInclusion {
  const parsed = SignedAggregatesSchema.safeParse(signed);
  if (!parsed.success) return { valid: false, reasons: ['schema: not a signed aggregates result'] };
  const payload = parsed.data.payload;
  const reasons: string[] = [];

  let entry: AggregatesLogEntry | null = null;
  try {
    const e = AggregatesLogEntrySchema.safeParse(JSON.parse(log.entry));
    if (!e.success) reasons.push('entry: not an aggregates.signed log entry');
    else if (jcs(e.data) !== log.entry) reasons.push('entry: text is not canonical (RFC 8785)');
    else entry = e.data;
  } catch {
    reasons.push('entry: not JSON');
  }
  if (entry) {
    if (entry.subject !== payload.session)
      reasons.push('entry: subject is not the payload session');
    if (entry.digests.payload !== aggregatesDigest(payload))
      reasons.push('entry: digest is not the digest of this payload');
  }

  const cp = verifyLogCheckpoint(log.checkpoint, trust);
  if (!cp.valid) return { valid: false, reasons: [...reasons, ...cp.reasons] };
  if (!verifyEntryInclusion(log.entry, log.index, log.proof, cp.checkpoint))
    reasons.push('inclusion: the entry is not at this index under the checkpoint');
  if (log.merkleRoot !== undefined) {
    const root = cp.checkpoint.rootHash;
    const hex = bytesToHex(base64ToBytes(root));
    if (log.merkleRoot !== root && log.merkleRoot.toLowerCase() !== hex)
      reasons.push('merkle_root: not the root of the checkpoint');
  }
  if (reasons.length > 0 || !entry) return { valid: false, reasons };
  return { valid: true, entry, checkpoint: cp.checkpoint, reasons: [] };
}
