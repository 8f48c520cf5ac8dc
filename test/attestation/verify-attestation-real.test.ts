/**
 * `CryptoHelper.verifyAttestation` on responses carrying real hardware evidence (the recorded
 * samples of test/vectors/data/attestation): the platform evidence goes through verifyEvidence.
 * The samples' report data were made by other software, so no key set of ours hashes to them:
 * the evidence verifies, and the binding check is what refuses, exactly as it must.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CryptoHelper } from '../../src/client/index.js';
import { bytesToBase64 } from '../../src/protocol/encoding.js';
import { okpThumbprint } from '../../src/protocol/key-id.js';
import { computeReportData } from '../../src/protocol/attestation/report-data.js';
import { DCAP_SAMPLES, ROOTS, bytes, json } from './samples.js';

const NONCE = 'client-chosen-nonce-0001';

function response(platform: string, quote: Uint8Array, imageHash: string) {
  const enclave_pubkey = bytesToBase64(new Uint8Array(32).fill(9));
  const body = {
    enclave_pubkey,
    key_id: okpThumbprint('X25519', new Uint8Array(32).fill(9)),
    signing_keys: {
      results: bytesToBase64(new Uint8Array(32).fill(1)),
      log: bytesToBase64(new Uint8Array(32).fill(2)),
    },
    nonce: NONCE,
  };
  return {
    ...body,
    quote: bytesToBase64(quote),
    image_hash: imageHash,
    platform,
    report_data: Buffer.from(computeReportData(body)).toString('hex'),
  };
}

describe('verifyAttestation with real platform evidence', () => {
  it('TDX v4: the evidence verifies; only the report-data binding is refused', async () => {
    const s = DCAP_SAMPLES[1]!;
    const v = await CryptoHelper.verifyAttestation(
      response('tdx', bytes(s.quote), s.primary),
      s.primary,
      {
        nonce: NONCE,
        now: s.now,
        pinnedRoots: { intelSgxRootCa: ROOTS.intel },
        collateral: json(s.collateral),
      },
    );
    assert.deepEqual(v.reasons, [
      'evidence: report data does not bind the returned keys and nonce',
    ]);
    assert.equal(v.valid, false);
    assert.equal(v.measurement, s.primary);
    assert.equal(v.claims?.evidence.tcbStatus, 'UpToDate');
    assert.equal(v.claims?.timestamp, null);
  });

  it('SGX v3: without collateral or a pinned root, the evidence itself is refused', async () => {
    const s = DCAP_SAMPLES[0]!;
    const v = await CryptoHelper.verifyAttestation(
      response('sgx', bytes(s.quote), s.primary),
      s.primary,
      {
        nonce: NONCE,
        now: s.now,
      },
    );
    assert.equal(v.valid, false);
    assert.ok(
      v.reasons.includes('evidence: policy.pinnedRoots.intelSgxRootCa is not set'),
      String(v.reasons),
    );
  });

  it('without the caller nonce, evidence with no signed time is not fresh', async () => {
    const s = DCAP_SAMPLES[1]!;
    const v = await CryptoHelper.verifyAttestation(
      response('tdx', bytes(s.quote), s.primary),
      s.primary,
      {
        now: s.now,
        pinnedRoots: { intelSgxRootCa: ROOTS.intel },
        collateral: json(s.collateral),
      },
    );
    assert.ok(v.reasons.some((r) => r.includes('freshness unproven')));
  });
});
