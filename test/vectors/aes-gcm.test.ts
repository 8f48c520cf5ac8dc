/**
 * Wycheproof AES-GCM (aes_gcm_test.json) against both EnvelopePrimitives backends.
 *
 * The interface is AES-128/256-GCM with a 12-byte nonce and a 16-byte tag, so only those groups
 * run; every other group (AES-192, other IV sizes) is skipped and the skip is counted.
 * "valid": seal reproduces ct and tag, open returns msg. "invalid": open must throw (they are
 * all modified tags). The file has no "acceptable" AES-GCM vectors; one would fail the suite.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BACKENDS,
  Tally,
  readVectorJson,
  tohex,
  unhex,
  type WycheproofFile,
  type WycheproofTest,
} from './helpers.js';

interface AeadTest extends WycheproofTest {
  key: string;
  iv: string;
  aad: string;
  msg: string;
  ct: string;
  tag: string;
}
interface AeadGroup {
  type: string;
  keySize: number;
  ivSize: number;
  tagSize: number;
  tests: AeadTest[];
}

const file = readVectorJson<WycheproofFile<AeadGroup>>('wycheproof/aes_gcm_test.json');
const supported = (g: AeadGroup) =>
  (g.keySize === 128 || g.keySize === 256) && g.ivSize === 96 && g.tagSize === 128;
const inScope = file.testGroups.filter(supported).flatMap((g) => g.tests);
const skipped = file.testGroups.filter((g) => !supported(g)).flatMap((g) => g.tests);

describe('Wycheproof AES-GCM', () => {
  it('selects the 128/256-bit key, 96-bit IV, 128-bit tag vectors and counts the rest', () => {
    assert.equal(file.algorithm, 'AES-GCM');
    assert.equal(inScope.length + skipped.length, file.numberOfTests);
    // 316 in the pinned file: 133 in scope (79 valid + 54 invalid), 183 skipped.
    assert.equal(inScope.length, 133);
    assert.equal(skipped.length, 183);
    assert.ok(inScope.every((t) => t.result === 'valid' || t.result === 'invalid'));
  });

  for (const [name, prims] of BACKENDS) {
    it(`${name}: seal and open every in-scope vector`, () => {
      const tally = new Tally();
      for (const t of inScope) {
        const [key, iv, aad, msg, ct, tag] = [t.key, t.iv, t.aad, t.msg, t.ct, t.tag].map(
          unhex,
        ) as [Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array];
        const ctx = `tcId ${t.tcId} (${t.result}; ${t.flags.join(',')}): ${t.comment}`;
        // An empty AAD is passed both ways the interface allows: omitted and as zero bytes.
        const aads = aad.length === 0 ? [undefined, aad] : [aad];
        for (const a of aads) {
          if (t.result === 'valid') {
            const sealed = prims.aesGcmSeal(key, iv, msg, a);
            assert.equal(tohex(sealed.ciphertext), t.ct, ctx);
            assert.equal(tohex(sealed.tag), t.tag, ctx);
            assert.equal(tohex(prims.aesGcmOpen(key, iv, ct, tag, a)), t.msg, ctx);
          } else {
            assert.throws(() => prims.aesGcmOpen(key, iv, ct, tag, a), ctx);
          }
        }
        tally.add(t.result);
      }
      console.log(`aes-gcm ${name}:`, JSON.stringify(tally), `skipped: ${skipped.length}`);
      assert.equal(tally.get('valid') + tally.get('invalid'), inScope.length);
      assert.ok(tally.get('valid') >= 70 && tally.get('invalid') >= 50, JSON.stringify(tally));
    });

    it(`${name}: a valid vector with its AAD dropped or changed does not open`, () => {
      let n = 0;
      for (const t of inScope.filter((v) => v.result === 'valid' && v.aad.length > 0)) {
        const [key, iv, ct, tag, aad] = [t.key, t.iv, t.ct, t.tag, t.aad].map(unhex) as [
          Uint8Array,
          Uint8Array,
          Uint8Array,
          Uint8Array,
          Uint8Array,
        ];
        assert.throws(() => prims.aesGcmOpen(key, iv, ct, tag), `tcId ${t.tcId}`);
        aad[0]! ^= 1;
        assert.throws(() => prims.aesGcmOpen(key, iv, ct, tag, aad), `tcId ${t.tcId}`);
        n++;
      }
      assert.ok(n >= 10);
    });
  }

  // The interface documents a 16-byte tag. A backend that concatenated ciphertext ‖ tag and let
  // the cipher take the last 16 bytes as the tag would leave the split point unauthenticated:
  // (ct ‖ tag[0..4], tag[4..16]) would open like (ct, tag). Both backends must refuse it.
  const valid = inScope.find((t) => t.result === 'valid' && t.msg.length >= 32)!;
  for (const [name, prims] of BACKENDS) {
    it(`${name}: aesGcmOpen refuses a tag that is not 16 bytes`, () => {
      const key = unhex(valid.key);
      const iv = unhex(valid.iv);
      const ct = unhex(valid.ct);
      const tag = unhex(valid.tag);
      const moved = (k: number) => [Buffer.concat([ct, tag.subarray(0, k)]), tag.subarray(k)];
      for (const k of [1, 4, 8, 15]) {
        const [c, t] = moved(k) as [Uint8Array, Uint8Array];
        assert.throws(() => prims.aesGcmOpen(key, iv, c, t, unhex(valid.aad)), `k=${k}`);
      }
      // and the other direction: tag extended with ciphertext bytes
      const c2 = ct.subarray(0, ct.length - 4);
      const t2 = Buffer.concat([ct.subarray(ct.length - 4), tag]);
      assert.throws(() => prims.aesGcmOpen(key, iv, c2, t2, unhex(valid.aad)));
    });
  }

  // Same contract, key side: "AES-256-GCM (or AES-128-GCM by key length)". node:crypto throws a
  // RangeError for any other length; @noble silently runs AES-192 for a 24-byte key.
  const aes192 = skipped.find(
    (t) => t.key.length === 48 && t.iv.length === 24 && t.result === 'valid',
  )!;
  for (const [name, prims] of BACKENDS) {
    it(`${name}: refuses an AES-192 (24-byte) key`, () => {
      const [key, iv, msg] = [aes192.key, aes192.iv, aes192.msg].map(unhex) as [
        Uint8Array,
        Uint8Array,
        Uint8Array,
      ];
      assert.throws(() => prims.aesGcmSeal(key, iv, msg));
      assert.throws(() => prims.aesGcmOpen(key, iv, unhex(aes192.ct), unhex(aes192.tag)));
    });
  }
});
