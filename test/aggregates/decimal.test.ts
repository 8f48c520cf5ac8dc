/**
 * parseDecimal (src/enclave/aggregates/decimal.ts): the value is exactly Number(s), the
 * fraction digits go to the caller's own object (no module state), and anything but a plain
 * non-negative decimal is NaN.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  decimalPlaces,
  decimalUnits,
  fitsFloatUnits,
  MAX_EXACT_UNITS,
  parseDecimal,
  toUnits,
} from '../../src/enclave/aggregates/decimal.js';

describe('aggregates: parseDecimal', () => {
  it('gives Number(s) and the fraction digits without trailing zeros', () => {
    const out = decimalPlaces();
    const cases: [string, number][] = [
      ['0', 0],
      ['5', 0],
      ['1.2300', 2],
      ['1.000', 0],
      ['0.000000000000000001', 18],
      ['123456789.123456789', 9],
      // Beyond 2^53 in digits, or more than 22 fraction digits: Number(s) itself.
      ['99999999999999999999.99', 2],
      ['0.00000000000000000000001', 23],
      ['9'.repeat(64), 0],
    ];
    for (const [s, places] of cases) {
      assert.equal(parseDecimal(s, out), Number(s), s);
      assert.equal(out.places, places, s);
    }
  });

  it('equals Number(s) on random decimals', () => {
    const out = decimalPlaces();
    fc.assert(
      fc.property(
        fc.stringMatching(/^[0-9]{1,30}$/),
        fc.stringMatching(/^[0-9]{0,30}$/),
        (int, frac) => {
          const s = frac === '' ? int : `${int}.${frac}`;
          assert.ok(Object.is(parseDecimal(s, out), Number(s)), s);
          assert.equal(out.places, frac.replace(/0+$/, '').length, s);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('refuses anything but a plain non-negative decimal, leaving places as they were', () => {
    const out = decimalPlaces();
    parseDecimal('1.25', out);
    for (const s of ['', '-1', '+1', '1e3', '1.', '.5', '1..2', '1.2.3', ' 1', '1 ', '0x10', '٣']) {
      assert.ok(Number.isNaN(parseDecimal(s, out)), JSON.stringify(s));
      assert.equal(out.places, 2);
    }
    assert.ok(Number.isNaN(parseDecimal('1'.repeat(65), out)));
  });

  it('each caller has its own places: interleaved parses do not see each other', () => {
    const a = decimalPlaces();
    const b = decimalPlaces();
    parseDecimal('0.123', a);
    parseDecimal('7', b);
    assert.equal(a.places, 3);
    assert.equal(b.places, 0);
  });

  it('scaled quantities are float integers below 2^51, BigInt units beyond', () => {
    // 18-decimal assets: small quantities fit the float path.
    assert.ok(fitsFloatUnits(18, 0.002));
    assert.equal(toUnits(0.000000000000000003, 1e18), 3);
    // The largest quantity that fits: max × 10^d < 2^51.
    assert.ok(fitsFloatUnits(18, 0.0022));
    assert.ok(!fitsFloatUnits(18, 0.0023));
    assert.ok(fitsFloatUnits(8, 2e7));
    assert.ok(!fitsFloatUnits(8, 2.3e7));
    assert.ok(!fitsFloatUnits(0, 2 ** 51));
    assert.ok(!fitsFloatUnits(21, 1e-21));
    assert.ok(toUnits(22_517_998.13685247, 1e8) < MAX_EXACT_UNITS);
    assert.equal(toUnits(22_517_998.13685247, 1e8), 2_251_799_813_685_247);
    // Beyond: exact BigInt units from the string.
    assert.equal(decimalUnits('1.000000000000000001', 18), 1_000_000_000_000_000_001n);
    assert.equal(decimalUnits('123456789.1200', 3), 123_456_789_120n);
    assert.equal(decimalUnits('7', 2), 700n);
    assert.throws(() => decimalUnits('0.123', 2), RangeError);
  });
});
