/**
 * Keyring generation, sealing policies, rotation and retention: a sealed keyring opens on the
 * same platform and identity only; rotation keeps old keys exactly as long as they may be needed.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Keyring } from '../../src/enclave/keyring/keyring.js';
import { seal, unseal } from '../../src/enclave/keyring/seal.js';
import { createSimulatedPlatform } from '../../src/enclave/platform/simulated.js';
import { base64ToBytes, bytesToBase64, utf8 } from '../../src/protocol/encoding.js';

function platformWithCode(dir: string, code: string) {
  const codePath = join(dir, 'bundle.mjs');
  writeFileSync(codePath, code);
  return createSimulatedPlatform({ dir, codePath });
}

describe('keyring sealing', () => {
  it('round-trips a keyring and keeps every public key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kr-'));
    const p = platformWithCode(dir, 'v1');
    const k = Keyring.generate(1000);
    const sealed = seal(p, 'signer', k.serialize());
    const { plaintext, policy } = unseal(p, sealed);
    assert.equal(policy, 'signer');
    assert.deepEqual(Keyring.deserialize(plaintext).publicKeys(), k.publicKeys());
  });

  it('signer policy survives a rebuild; measurement policy does not', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kr-'));
    const v1 = platformWithCode(dir, 'bundle v1');
    const bySigner = seal(v1, 'signer', utf8.encode('x'));
    const byMeasurement = seal(v1, 'measurement', utf8.encode('x'));
    const v2 = platformWithCode(dir, 'bundle v2');
    assert.notEqual(v1.measurement, v2.measurement);
    assert.equal(utf8.decode(unseal(v2, bySigner).plaintext), 'x');
    assert.throws(() => unseal(v2, byMeasurement), { code: 'SEAL_INVALID' });
    assert.equal(utf8.decode(unseal(v1, byMeasurement).plaintext), 'x');
  });

  it('refuses another platform secret, a relabelled policy and a flipped bit', () => {
    const a = platformWithCode(mkdtempSync(join(tmpdir(), 'kr-')), 'same');
    const b = platformWithCode(mkdtempSync(join(tmpdir(), 'kr-')), 'same');
    const sealed = seal(a, 'signer', utf8.encode('secret'));
    assert.throws(() => unseal(b, sealed), { code: 'SEAL_INVALID' });
    const doc = JSON.parse(utf8.decode(base64ToBytes(sealed)));
    const relabelled = bytesToBase64(
      utf8.encode(JSON.stringify({ ...doc, policy: 'measurement', identity: a.measurement })),
    );
    assert.throws(() => unseal(a, relabelled), { code: 'SEAL_INVALID' });
    const ct = base64ToBytes(doc.ciphertext);
    ct[0]! ^= 1;
    const flipped = bytesToBase64(
      utf8.encode(JSON.stringify({ ...doc, ciphertext: bytesToBase64(ct) })),
    );
    assert.throws(() => unseal(a, flipped), { code: 'SEAL_INVALID' });
    assert.throws(() => unseal(a, 'not base64!'), { code: 'SEAL_INVALID' });
  });
});

describe('credential key rotation', () => {
  it('keeps retired keys for the retention period, then drops them', () => {
    const k1 = Keyring.generate(1000);
    const k2 = k1.rotated(2000, 500);
    assert.equal(k2.generation, 2);
    const keys2 = k2.publicKeys().credential_keys;
    assert.equal(keys2.length, 2);
    assert.equal(keys2[0]!.retired_at, 2000);
    assert.equal(k2.publicKeys().current_key_id, keys2[1]!.key_id);
    // Still inside retention: the first key is kept.
    const k3 = k2.rotated(2400, 500);
    assert.equal(k3.publicKeys().credential_keys.length, 3);
    // Past retention of the first key (retired 2000 + 500), it is dropped; the others stay.
    const k4 = k3.rotated(2600, 500);
    const ids = k4.publicKeys().credential_keys.map((k) => k.key_id);
    assert.ok(!ids.includes(keys2[0]!.key_id));
    assert.equal(ids.length, 3);
    assert.throws(() => k4.recipient(keys2[0]!.key_id), { code: 'ENVELOPE_UNKNOWN_KEY' });
    // Signing keys and the binding key do not rotate with credential keys.
    assert.deepEqual(k4.publicKeys().signing_keys, k1.publicKeys().signing_keys);
    const fields = {
      session_id: 's',
      key_id: 'k',
      envelope_digest: 'd',
      exchange: 'binance',
      label: 'l',
      expires_at: 1,
    };
    assert.ok(k4.verifyBinding(fields, k1.bind(fields)));
    assert.ok(!k4.verifyBinding({ ...fields, expires_at: 2 }, k1.bind(fields)));
  });
});
