/**
 * The SDK's attestation verifier against real simulated evidence from an in-process enclave:
 * every binding it claims to check is broken once, and each break must be reported.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateKeyPairSync, sign } from 'node:crypto';
import { HANDLERS } from '../../src/enclave/methods/index.js';
import { CryptoHelper } from '../../src/client/index.js';
import { readSimulatedVendorKey } from '../../src/enclave/platform/simulated.js';
import { base64ToBytes, bytesToBase64, utf8 } from '../../src/protocol/encoding.js';
import { jcsBytes } from '../../src/protocol/jcs.js';
import { simulatedEvidenceSigningInput } from '../../src/protocol/attestation/simulated-evidence.js';
import { testEnclave } from '../helpers/enclave-state.js';

const NONCE = 'client-chosen-nonce-0001';

async function quote() {
  const t = testEnclave();
  HANDLERS['keyring.generate'](t.state, { policy: 'signer' });
  const attestation = (await HANDLERS['attestation.get'](t.state, { nonce: NONCE })) as Record<
    string,
    unknown
  > & { quote: string };
  const policy = {
    nonce: NONCE,
    trustedSimulatedVendorKeys: [readSimulatedVendorKey(t.dir)],
    now: t.clock.now,
  };
  return { t, attestation, policy, measurement: t.state.platform.measurement };
}

const reasonsOf = async (a: unknown, m: string | string[], p: object) =>
  (await CryptoHelper.verifyAttestation(a, m, p)).reasons;

describe('verifyAttestation (simulated evidence)', () => {
  it('accepts genuine evidence with the trusted vendor key, the measurement and the nonce', async () => {
    const { attestation, policy, measurement } = await quote();
    const v = await CryptoHelper.verifyAttestation(
      attestation,
      [measurement, 'ab'.repeat(48)],
      policy,
    );
    assert.deepEqual(v.reasons, []);
    assert.equal(v.valid, true);
    assert.equal(v.enclavePubkey, attestation.enclave_pubkey);
  });

  it('refuses simulated evidence unless its vendor key is trusted', async () => {
    const { attestation, policy, measurement } = await quote();
    const reasons = await reasonsOf(attestation, measurement, {
      ...policy,
      trustedSimulatedVendorKeys: [],
    });
    assert.ok(reasons.some((r) => r.includes('vendor key not in trustedSimulatedVendorKeys')));
  });

  it('refuses an unexpected measurement, a wrong nonce, old evidence and no expectation at all', async () => {
    const { attestation, policy, measurement } = await quote();
    assert.ok(
      (await reasonsOf(attestation, 'cd'.repeat(48), policy)).some((r) =>
        r.includes('not one of the expected'),
      ),
    );
    assert.ok(
      (await reasonsOf(attestation, [], policy)).some((r) => r.includes('no expected measurement')),
    );
    assert.ok(
      (await reasonsOf(attestation, measurement, { ...policy, nonce: 'another-nonce-000' })).some(
        (r) => r.includes('nonce'),
      ),
    );
    assert.ok(
      (await reasonsOf(attestation, measurement, { ...policy, now: policy.now + 301 })).some((r) =>
        r.includes('too old'),
      ),
    );
  });

  it('detects keys swapped by the host (report data no longer binds them)', async () => {
    const { attestation, policy, measurement } = await quote();
    const attacker = bytesToBase64(new Uint8Array(32).fill(7));
    const swapped = { ...attestation, enclave_pubkey: attacker };
    const reasons = await reasonsOf(swapped, measurement, policy);
    assert.ok(reasons.some((r) => r.includes('report data')));
    const signing = { ...attestation, signing_keys: { results: attacker, log: attacker } };
    assert.ok(
      (await reasonsOf(signing, measurement, policy)).some((r) => r.includes('report data')),
    );
  });

  it('detects a forged signature and a self-signed vendor key', async () => {
    const { attestation, policy, measurement } = await quote();
    const doc = JSON.parse(utf8.decode(base64ToBytes(attestation.quote)));
    const sig = base64ToBytes(doc.signature);
    sig[0]! ^= 1;
    const forged = {
      ...attestation,
      quote: bytesToBase64(jcsBytes({ ...doc, signature: bytesToBase64(sig) })),
    };
    assert.ok((await reasonsOf(forged, measurement, policy)).some((r) => r.includes('signature')));

    // An attacker signs with their own "vendor" key: valid signature, untrusted root.
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const vendor = publicKey.export({ format: 'jwk' }).x!;
    const { signature: _drop, ...body } = {
      ...doc,
      vendor_key: Buffer.from(vendor, 'base64url').toString('base64'),
    };
    const selfSigned = bytesToBase64(
      jcsBytes({
        ...body,
        signature: sign(null, simulatedEvidenceSigningInput(body), privateKey).toString('base64'),
      }),
    );
    const reasons = await reasonsOf({ ...attestation, quote: selfSigned }, measurement, policy);
    assert.deepEqual(reasons, [
      'evidence: simulated platform refused (vendor key not in trustedSimulatedVendorKeys)',
    ]);
  });

  it('rejects malformed responses without throwing', async () => {
    const v = await CryptoHelper.verifyAttestation({ quote: 'x' }, 'ab'.repeat(48));
    assert.equal(v.valid, false);
    await assert.rejects(CryptoHelper.requireValidAttestation({}, 'ab'.repeat(48)), {
      code: 'ATTESTATION_INVALID',
    });
  });
});
