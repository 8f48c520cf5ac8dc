/**
 * `CryptoHelper.verifyAttestation` on responses carrying real hardware evidence (the recorded
 * samples of test/vectors/data/attestation): the platform evidence goes through verifyEvidence.
 * The samples' report data were made by other software, so no key set of ours hashes to them:
 * the evidence verifies, and the binding check is what refuses, exactly as it must.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CryptoHelper } from '../../src/client/index.js';
import { DCAP_SAMPLES, ROOTS, bytes, dcapOptions, json, responseAround } from './samples.js';

const NONCE = 'client-chosen-nonce-0001';

describe('verifyAttestation with real platform evidence', () => {
  it('TDX v4: the evidence verifies; only the report-data binding is refused', async () => {
    const s = DCAP_SAMPLES[1]!;
    const options = dcapOptions(s, NONCE);
    const quote = responseAround('tdx', bytes(s.quote), s.primary, NONCE);
    // On TDX an expected measurement pins MRTD and RTMR0–2 (test/client/tdx-measurement-pins).
    const m = (await CryptoHelper.verifyAttestation(quote, s.primary, options)).claims!.evidence
      .measurements;
    const pin = `mrtd=${m.mrtd},rtmr0=${m.rtmr0},rtmr1=${m.rtmr1},rtmr2=${m.rtmr2}`;
    const v = await CryptoHelper.verifyAttestation(quote, pin, options);
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
      responseAround('sgx', bytes(s.quote), s.primary, NONCE),
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
      responseAround('tdx', bytes(s.quote), s.primary, NONCE),
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
