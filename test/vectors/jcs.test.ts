/**
 * RFC 8785 (JCS) for src/protocol/jcs.ts: the cyberphone reference test data (input → exact
 * canonical bytes) and the RFC 8785 Appendix B number-serialization table, plus a few
 * fast-check properties over arbitrary JSON values.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { jcs, jcsBytes } from '../../src/protocol/jcs.js';
import { readVectorBytes, readVectorJson, tohex } from './helpers.js';

const CASES = readdirSync(new URL('./data/jcs/cyberphone-testdata/input/', import.meta.url))
  .filter((f) => f.endsWith('.json'))
  .sort();

interface NumberRow {
  ieee754_hex: string;
  expected: string | null;
  comment: string;
}
const numbers = readVectorJson<{ vectors: NumberRow[] }>(
  'jcs/rfc8785-appendix-b-numbers.json',
).vectors;

const float64 = (hex: string): number => Buffer.from(hex, 'hex').readDoubleBE(0);

describe('JCS: cyberphone/json-canonicalization testdata', () => {
  it('has the six reference cases', () => {
    assert.deepEqual(CASES, [
      'arrays.json',
      'french.json',
      'structures.json',
      'unicode.json',
      'values.json',
      'weird.json',
    ]);
  });

  for (const name of CASES) {
    it(`${name}: jcsBytes(parse(input)) is the output file byte for byte`, () => {
      const input: unknown = JSON.parse(
        readVectorBytes(`jcs/cyberphone-testdata/input/${name}`).toString('utf8'),
      );
      const expected = readVectorBytes(`jcs/cyberphone-testdata/output/${name}`);
      const got = jcsBytes(input);
      assert.equal(tohex(got), tohex(expected));
      assert.equal(jcs(input), expected.toString('utf8'));
      // canonical output is a fixed point
      assert.equal(jcs(JSON.parse(jcs(input))), jcs(input));
    });
  }
});

describe('JCS: RFC 8785 Appendix B number serialization', () => {
  it('has the 26 rows (24 finite, NaN and Infinity)', () => {
    assert.equal(numbers.length, 26);
    assert.equal(numbers.filter((r) => r.expected === null).length, 2);
  });

  for (const row of numbers) {
    const label = `${row.ieee754_hex} → ${row.expected ?? 'error'}${row.comment ? ` (${row.comment})` : ''}`;
    it(label, () => {
      const n = float64(row.ieee754_hex);
      if (row.expected === null) {
        assert.ok(!Number.isFinite(n));
        assert.throws(() => jcs(n));
        assert.throws(() => jcs({ n }));
        assert.throws(() => jcs([n]));
      } else {
        assert.equal(jcs(n), row.expected);
        assert.equal(jcs({ n }), `{"n":${row.expected}}`);
        assert.equal(jcs([n, n]), `[${row.expected},${row.expected}]`);
      }
    });
  }

  it('-Infinity is refused too', () => {
    assert.throws(() => jcs(-Infinity));
  });
});

describe('JCS: properties', () => {
  const json = fc.jsonValue({ maxDepth: 4, stringUnit: 'grapheme' });

  it('parses back to the same JSON value, and is a fixed point', () => {
    fc.assert(
      fc.property(json, (v) => {
        const c = jcs(v);
        assert.deepEqual(JSON.parse(c), JSON.parse(JSON.stringify(v)));
        assert.equal(jcs(JSON.parse(c)), c);
      }),
      { numRuns: 200 },
    );
  });

  it('does not depend on the insertion order of object members', () => {
    const obj = fc.dictionary(fc.string({ unit: 'grapheme', maxLength: 6 }), json, { maxKeys: 8 });
    fc.assert(
      fc.property(obj, (o) => {
        const reversed = Object.fromEntries(Object.entries(o).reverse());
        assert.equal(jcs(reversed), jcs(o));
        // member names come out sorted by UTF-16 code units (RFC 8785 §3.2.3), not by locale
        const keys = Object.keys(JSON.parse(jcs(o)) as object);
        const sorted = [...keys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        assert.deepEqual(keys, sorted);
      }),
      { numRuns: 100 },
    );
  });

  it('refuses lone surrogates and values that are not JSON', () => {
    for (const bad of ['\ud800', 'a\udc00', { '\ud83d': 1 }, [NaN], undefined]) {
      assert.throws(() => jcs(bad), String(bad));
    }
  });
});
