/**
 * `cloister verify aggregates <file>`: checks a signed aggregates result as a third party
 * would. The result-signing and log keys come from the service's attestation, verified against
 * the measurement(s) the caller expects; the signature, key id, and the result's log entry and
 * inclusion proof under a checkpoint signed by the attested log key are all checked. The file is
 * the JSON answer of `POST /enclave/request_aggregates` (or `{ aggregates_signed, log }`).
 * Given the verifier's audience and nonce it refuses a result addressed elsewhere; given the
 * holder's exchange account id and salt it checks the account commitment; its summary says
 * "covers only …" when the figures do not cover every symbol the account traded.
 */
import { readFileSync } from 'node:fs';
import {
  openAccountCommitment,
  summarizeAggregates,
  type AggregatesPayload,
  fetchAggregatesLogProof,
  verifyAggregatesInclusion,
  verifySignedAggregates,
  type LogTrust,
} from '../client/index.js';

export interface VerifyAggregatesInput {
  file: string;
  url: string;
  expectedMeasurements: readonly string[];
  resultsKey: string;
  logTrust: LogTrust;
  allowedApiHosts?: readonly string[];
  expectedAudience?: string;
  expectedNonce?: string;
  /** The holder's opening of `account_commitment`: both or neither. */
  accountId?: string;
  salt?: string;
}

export interface VerifyAggregatesOutcome {
  valid: boolean;
  reasons: string[];
  index: number | null;
  tree_size: number | null;
  payload: unknown;
  /** One line for people (summarizeAggregates), when the signature verified. */
  summary: string | null;
}

export async function verifyAggregatesFile(
  i: VerifyAggregatesInput,
): Promise<VerifyAggregatesOutcome> {
  let doc: { aggregates_signed?: unknown; log?: { index?: unknown }; payload?: unknown };
  try {
    doc = JSON.parse(readFileSync(i.file, 'utf8')) as typeof doc;
  } catch {
    return {
      valid: false,
      reasons: ['file: not readable JSON'],
      index: null,
      tree_size: null,
      payload: null,
      summary: null,
    };
  }
  const signed = doc.aggregates_signed ?? doc;
  const sig = verifySignedAggregates(signed, {
    resultsKey: i.resultsKey,
    expectedMeasurements: i.expectedMeasurements,
    ...(i.allowedApiHosts ? { allowedApiHosts: i.allowedApiHosts } : {}),
    ...(i.expectedAudience !== undefined ? { expectedAudience: i.expectedAudience } : {}),
    ...(i.expectedNonce !== undefined ? { expectedNonce: i.expectedNonce } : {}),
  });
  const reasons = [...sig.reasons];
  const payload: AggregatesPayload | null = sig.valid ? sig.payload : null;
  if ((i.accountId === undefined) !== (i.salt === undefined))
    reasons.push('account: give both --account-id and --salt');
  else if (
    payload &&
    i.accountId !== undefined &&
    !openAccountCommitment(payload, { accountId: i.accountId, salt: i.salt! })
  )
    reasons.push('account: the account id and salt do not open account_commitment');
  const summary = payload ? summarizeAggregates(payload) : null;
  const index = doc.log?.index;
  if (typeof index !== 'number' || !Number.isSafeInteger(index) || index < 0) {
    reasons.push('log: the file names no log index (log.index)');
    return {
      valid: false,
      reasons,
      index: null,
      tree_size: null,
      payload,
      summary,
    };
  }
  // Under a witness policy, the proof is asked for in the latest cosigned checkpoint.
  const proof = await fetchAggregatesLogProof(i.url, index, fetch, {
    witnessed: (i.logTrust.witnessThreshold ?? 0) > 0,
  });
  const inc = verifyAggregatesInclusion(signed, proof, i.logTrust);
  reasons.push(...inc.reasons);
  return {
    valid: reasons.length === 0,
    reasons,
    index,
    tree_size: inc.valid ? inc.checkpoint.size : null,
    payload,
    summary,
  };
}
