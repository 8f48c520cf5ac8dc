/**
 * Cloister's `simulated` evidence (docs/protocol/attestation-response.md) through verifyEvidence:
 * the same contract as hardware evidence. The documents are signed here with a fresh Ed25519
 * vendor key, exactly as the simulated platform signs them.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, it } from 'node:test';
import { verifyEvidence, type EvidencePolicy } from '../../src/client/index.js';
import { simulatedEvidenceSigningInput } from '../../src/protocol/attestation/simulated-evidence.js';
import { jcsBytes } from '../../src/protocol/jcs.js';
import { codes } from './samples.js';

const NOW = 1_800_000_000;
const MEASUREMENT = 'ab'.repeat(48);
const REPORT_DATA = 'cd'.repeat(64);

function vendor() {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const key = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url').toString('base64');
  return { privateKey, key };
}

function evidence(v = vendor(), timestamp = NOW) {
  const body = {
    format: 'cloister-simulated-evidence/v1' as const,
    platform: 'simulated' as const,
    debug: true as const,
    measurement: MEASUREMENT,
    signer: 'ef'.repeat(32),
    report_data: REPORT_DATA,
    timestamp,
    vendor_key: v.key,
  };
  const signature = sign(null, simulatedEvidenceSigningInput(body), v.privateKey).toString(
    'base64',
  );
  return { v, quote: jcsBytes({ ...body, signature }) };
}

const policy = (key: string, extra: Partial<EvidencePolicy> = {}): EvidencePolicy => ({
  acceptedMeasurements: [MEASUREMENT],
  pinnedRoots: { simulatedVendorKeys: [key] },
  allowDebug: true,
  now: NOW,
  ...extra,
});

describe('simulated evidence through verifyEvidence', () => {
  it('verifies with the pinned vendor key and debug allowed', async () => {
    const { v, quote } = evidence();
    const r = await verifyEvidence(
      { kind: 'simulated', quote },
      policy(v.key, { expectedReportData: REPORT_DATA, maxAgeSeconds: 300 }),
    );
    assert.deepEqual(r.reasons, []);
    assert.equal(r.measurements.measurement, MEASUREMENT);
    assert.equal(r.reportData, REPORT_DATA);
    assert.equal(r.debug, true);
    assert.equal(r.evidenceTime, NOW);
  });

  it('an unpinned (self-made) vendor key is ROOT_NOT_PINNED, however valid its signature', async () => {
    const { quote } = evidence();
    const r = await verifyEvidence({ kind: 'simulated', quote }, policy(vendor().key));
    assert.deepEqual(codes(r), ['ROOT_NOT_PINNED']);
  });

  it('simulated evidence is debug: refused under a no-debug policy', async () => {
    const { v, quote } = evidence();
    assert.deepEqual(
      codes(
        await verifyEvidence({ kind: 'simulated', quote }, policy(v.key, { allowDebug: false })),
      ),
      ['DEBUG_NOT_ALLOWED'],
    );
  });

  it('a forged signature, a wrong measurement, wrong report data and old evidence each have their code', async () => {
    const { v, quote } = evidence();
    const doc = JSON.parse(Buffer.from(quote).toString()) as Record<string, string>;
    const sig = Buffer.from(doc.signature!, 'base64');
    sig[0]! ^= 1;
    const forged = jcsBytes({ ...doc, signature: sig.toString('base64') });
    assert.deepEqual(
      codes(await verifyEvidence({ kind: 'simulated', quote: forged }, policy(v.key))),
      ['SIGNATURE_INVALID'],
    );
    assert.deepEqual(
      codes(
        await verifyEvidence(
          { kind: 'simulated', quote },
          policy(v.key, { acceptedMeasurements: ['00'.repeat(48)] }),
        ),
      ),
      ['MEASUREMENT_NOT_ACCEPTED'],
    );
    assert.deepEqual(
      codes(
        await verifyEvidence(
          { kind: 'simulated', quote },
          policy(v.key, { expectedReportData: '00' }),
        ),
      ),
      ['REPORT_DATA_MISMATCH'],
    );
    assert.deepEqual(
      codes(
        await verifyEvidence(
          { kind: 'simulated', quote },
          policy(v.key, { maxAgeSeconds: 60, now: NOW + 61 }),
        ),
      ),
      ['TOO_OLD'],
    );
    assert.deepEqual(
      codes(await verifyEvidence({ kind: 'simulated', quote: quote.subarray(1) }, policy(v.key))),
      ['PARSE_ERROR'],
    );
  });
});
