/**
 * The evidence policy `verifyAttestationResponse` (the path that decides what secrets are
 * encrypted to) derives from the caller's options (attack review of the attestation verifiers).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_MIN_TCB_STATUS,
  evidencePolicyFor,
} from '../../src/client/verify/verify-attestation.js';

const reportData = new Uint8Array(64);

describe('verifyAttestationResponse evidence policy', () => {
  it('refuses an OutOfDate Intel TCB unless the caller accepts it explicitly', () => {
    // A host on unpatched microcode (TCB status OutOfDate: published attacks that read enclave
    // memory) passed whenever the caller named no minTcbStatus.
    assert.equal(DEFAULT_MIN_TCB_STATUS, 'ConfigurationAndSWHardeningNeeded');
    for (const platform of ['sgx', 'tdx'] as const)
      assert.equal(
        evidencePolicyFor(platform, {}, reportData).minTcbStatus,
        'ConfigurationAndSWHardeningNeeded',
      );
    assert.equal(
      evidencePolicyFor('sgx', { minTcbStatus: 'OutOfDate' }, reportData).minTcbStatus,
      'OutOfDate',
    );
    // Platforms without an Intel TCB status get no floor (it could never be met).
    for (const platform of ['simulated', 'nitro', 'sev-snp'] as const)
      assert.equal(evidencePolicyFor(platform, {}, reportData).minTcbStatus, undefined);
  });

  it('debug is allowed by default only for simulated evidence', () => {
    assert.equal(evidencePolicyFor('simulated', {}, reportData).allowDebug, true);
    for (const platform of ['sgx', 'tdx', 'nitro', 'sev-snp'] as const)
      assert.equal(evidencePolicyFor(platform, {}, reportData).allowDebug, false);
  });
});
