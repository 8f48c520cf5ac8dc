/**
 * Wycheproof HKDF-SHA256 (hkdf_sha256_test.json) against both EnvelopePrimitives backends.
 * "valid": the output must equal `okm` (including empty salts and the maximal 255·32-byte
 * output). "invalid" (SizeTooLarge: L > 255·HashLen, RFC 5869 §2.3): must throw.
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

interface HkdfTest extends WycheproofTest {
  ikm: string;
  salt: string;
  info: string;
  size: number;
  okm: string;
}
interface HkdfGroup {
  type: string;
  keySize: number;
  tests: HkdfTest[];
}

const file = readVectorJson<WycheproofFile<HkdfGroup>>('wycheproof/hkdf_sha256_test.json');
const tests = file.testGroups.flatMap((g) => g.tests);

describe('Wycheproof HKDF-SHA256', () => {
  it('the vector file is the one expected', () => {
    assert.equal(file.algorithm, 'HKDF-SHA-256');
    assert.equal(tests.length, file.numberOfTests);
    assert.ok(tests.length >= 80);
    assert.ok(tests.every((t) => t.result !== 'acceptable'));
  });

  for (const [name, prims] of BACKENDS) {
    it(`${name}: every vector`, () => {
      const tally = new Tally();
      for (const t of tests) {
        const ctx = `tcId ${t.tcId} (${t.result}; ${t.flags.join(',')}): ${t.comment}`;
        const run = () => prims.hkdfSha256(unhex(t.ikm), unhex(t.salt), unhex(t.info), t.size);
        if (t.result === 'valid') {
          const okm = run();
          assert.equal(okm.length, t.size, ctx);
          assert.equal(tohex(okm), t.okm, ctx);
        } else {
          assert.ok(t.flags.includes('SizeTooLarge') && t.size > 255 * 32, ctx);
          assert.throws(run, ctx);
        }
        tally.add(t.result);
      }
      console.log(`hkdf-sha256 ${name}:`, JSON.stringify(tally));
      assert.equal(tally.get('valid') + tally.get('invalid'), tests.length);
      assert.ok(tally.get('valid') >= 80 && tally.get('invalid') >= 3, JSON.stringify(tally));
    });
  }
});
