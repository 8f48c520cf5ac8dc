/**
 * Checks a signed aggregates result in this browser, as any third party would: the enclave's
 * attestation (trust.ts) gives the result and log keys; the SDK checks the signature, key id,
 * measurement and API host (verifySignedAggregates) and the result's log entry and inclusion
 * proof under a checkpoint signed by the attested log key (verifyAggregatesInclusion).
 */
import {
  coverageWarning,
  fetchAggregatesLogProof,
  OFFICIAL_API_HOSTS,
  summarizeAggregates,
  verifyAggregatesInclusion,
  verifySignedAggregates,
  type AggregatesPayload,
} from '../../src/client/index.js';
import { pins, verifyEnclave } from './trust.js';

export interface ResultDocument {
  aggregates_signed: { payload: Record<string, unknown>; signature: string };
  log: { index: number };
  merkle_root?: string;
}

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface ResultVerification {
  valid: boolean;
  checks: Check[];
  payload: AggregatesPayload | null;
  summary: string | null;
  coverage: string | null;
  pinned: boolean;
}

export function parseResult(text: string): ResultDocument {
  const doc = JSON.parse(text) as Partial<ResultDocument>;
  if (
    typeof doc !== 'object' ||
    doc === null ||
    typeof doc.aggregates_signed !== 'object' ||
    typeof doc.log?.index !== 'number'
  )
    throw new Error('not a signed result: expected { aggregates_signed, log: { index } }');
  return doc as ResultDocument;
}

export async function verifyResult(doc: ResultDocument): Promise<ResultVerification> {
  const checks: Check[] = [];
  const t = await verifyEnclave();
  const v = t.verification;
  const attested = v?.valid === true && v.signingKeys !== null;
  checks.push({
    name: 'Enclave attestation',
    ok: attested,
    detail: attested
      ? `${t.platform}${t.debug ? ' (debug)' : ''}, measurement ${t.measurement}${t.status === 'unpinned' ? ' — not pinned in this browser: compare it with the one you expect' : ' (pinned)'}`
      : t.reasons.join('; ') || 'not verified',
  });
  if (!attested || !v?.signingKeys)
    return { valid: false, checks, payload: null, summary: null, coverage: null, pinned: false };

  // The named exchange's production hosts (the exchange is signed too), plus the user's own.
  const exchange = String(doc.aggregates_signed.payload?.['exchange'] ?? '');
  const allowedApiHosts = [...(OFFICIAL_API_HOSTS[exchange] ?? []), ...pins.get().apiHosts];
  const sig = verifySignedAggregates(doc.aggregates_signed, {
    resultsKey: v.signingKeys.results,
    expectedMeasurements: [v.measurement!],
    allowedApiHosts,
  });
  checks.push({
    name: 'Signature by the attested enclave',
    ok: sig.valid,
    detail: sig.valid
      ? `key ${String(doc.aggregates_signed.payload['key_id'])}`
      : sig.reasons.join('; '),
  });
  let included = false;
  try {
    const proof = await fetchAggregatesLogProof(location.origin, doc.log.index);
    const inc = verifyAggregatesInclusion(
      doc.aggregates_signed,
      { ...proof, ...(doc.merkle_root ? { merkleRoot: doc.merkle_root } : {}) },
      { logPublicKey: v.signingKeys.log },
    );
    included = inc.valid;
    checks.push({
      name: 'Included in the transparency log',
      ok: inc.valid,
      detail: inc.valid
        ? `entry ${doc.log.index} in the checkpoint of size ${inc.checkpoint.size}, signed by the attested log key`
        : inc.reasons.join('; '),
    });
  } catch (err) {
    checks.push({
      name: 'Included in the transparency log',
      ok: false,
      detail: (err as Error).message,
    });
  }
  const payload = sig.valid ? sig.payload : null;
  return {
    valid: sig.valid && included,
    checks,
    payload,
    summary: payload ? summarizeAggregates(payload) : null,
    coverage: payload ? coverageWarning(payload) : null,
    pinned: t.status === 'verified',
  };
}

/** `/verify#result=…`: the result travels in the fragment, which the browser never sends. */
export function shareLink(doc: ResultDocument): string {
  const bytes = new TextEncoder().encode(
    JSON.stringify({
      aggregates_signed: doc.aggregates_signed,
      log: { index: doc.log.index },
      merkle_root: doc.merkle_root,
    }),
  );
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  const b64 = btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  return `${location.origin}/verify#result=${b64}`;
}

export function resultFromFragment(hash: string): string | null {
  const m = /^#result=([A-Za-z0-9_-]+)$/.exec(hash);
  if (!m) return null;
  const b64 = m[1]!.replace(/-/g, '+').replace(/_/g, '/');
  const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  return new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
}
