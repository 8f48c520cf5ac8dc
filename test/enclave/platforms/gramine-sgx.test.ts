/**
 * Gramine SGX platform against a fake /dev/attestation built from the recorded SGX DCAP v3
 * quote (test/vectors/data/attestation/platform/PROVENANCE.md; EXPECTED.md gives its fields).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { seal, unseal } from '../../../src/enclave/keyring/seal.js';
import { PlatformError } from '../../../src/enclave/platform/device.js';
import { createGramineSgxPlatform } from '../../../src/enclave/platform/gramine-sgx.js';
import { deriveSealingKey } from '../../../src/enclave/platform/released-key.js';
import { FAKE_SGX_KEYS, gramineTree, sample } from '../../fakes/tee-devices.js';

const MRENCLAVE = '33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb';
const MRSIGNER = '815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6';
/** The sample's report data: ASCII "Hello, world!" then zeros. */
const SAMPLE_REPORT_DATA = new Uint8Array(64);
SAMPLE_REPORT_DATA.set(new TextEncoder().encode('Hello, world!'));

describe('sgx-gramine platform', () => {
  it('reads MRENCLAVE from my_target_info and MRSIGNER from the local report', async () => {
    const p = await createGramineSgxPlatform({ root: gramineTree() });
    assert.equal(p.name, 'sgx');
    assert.equal(p.measurement, MRENCLAVE);
    assert.equal(p.signer, MRSIGNER);
  });

  it('writes the report data to user_report_data and returns the quote bytes', async () => {
    const root = gramineTree();
    const p = await createGramineSgxPlatform({ root });
    const quote = await p.evidence(SAMPLE_REPORT_DATA);
    assert.deepEqual(quote, sample('sgx_quote_v3.bin'));
    const written = readFileSync(join(root, 'dev/attestation/user_report_data'));
    assert.deepEqual(new Uint8Array(written), SAMPLE_REPORT_DATA);
  });

  it('refuses a quote that does not carry the report data written', async () => {
    const p = await createGramineSgxPlatform({ root: gramineTree() });
    await assert.rejects(
      async () => p.evidence(new Uint8Array(64).fill(7)),
      (e: Error) => e instanceof PlatformError && /does not carry the report data/.test(e.message),
    );
  });

  it('insists on exactly 64 bytes of report data', async () => {
    const p = await createGramineSgxPlatform({ root: gramineTree() });
    assert.throws(() => p.evidence(new Uint8Array(63)), RangeError);
  });

  it('derives a 32-byte key per policy from the matching Gramine seal key', async () => {
    const p = await createGramineSgxPlatform({ root: gramineTree() });
    const m = p.sealingKey('measurement');
    const s = p.sealingKey('signer');
    assert.equal(m.length, 32);
    assert.notDeepEqual(m, s);
    assert.deepEqual(m, deriveSealingKey(FAKE_SGX_KEYS._sgx_mrenclave, 'measurement', MRENCLAVE));
    assert.deepEqual(s, deriveSealingKey(FAKE_SGX_KEYS._sgx_mrsigner, 'signer', MRSIGNER));
    // Sealed state opens on the same platform and policy.
    const sealed = seal(p, 'measurement', new Uint8Array([1, 2, 3]));
    assert.deepEqual(unseal(p, sealed).plaintext, new Uint8Array([1, 2, 3]));
  });

  for (const missing of ['attestation_type', 'my_target_info', 'report', 'keys/_sgx_mrsigner']) {
    it(`names the missing file: ${missing}`, async () => {
      await assert.rejects(
        createGramineSgxPlatform({ root: gramineTree({ omit: [missing] }) }),
        (e: Error) =>
          e instanceof PlatformError &&
          e.message.includes(`/dev/attestation/${missing}: ENOENT`) &&
          e.message.includes('gramine-sgx'),
      );
    });
  }

  it('refuses an attestation type other than dcap', async () => {
    await assert.rejects(
      createGramineSgxPlatform({ root: gramineTree({ attestationType: 'none' }) }),
      /attestation_type: "none", need "dcap"/,
    );
  });
});
