/**
 * The daily series of `cloister/aggregates/v3` (docs/protocol/signed-aggregates.md, "Daily
 * series"): exact decimal strings whose days sum to `pnl` digit for digit, one row per UTC day
 * of the window, checked by the strict schema in the SDK; v2 and v1 results signed before v3
 * still verify. (Against the BigInt reference on random histories: engine.property.test.ts.)
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { verifySignedAggregates } from '../../src/client/aggregates/verify.js';
import { computeAggregatesDaily } from '../../src/enclave/aggregates/daily.js';
import { signAggregates } from '../../src/enclave/aggregates/sign.js';
import { ed25519PrivateKeyObject } from '../../src/enclave/crypto/ed25519.js';
import {
  AggregatesPayloadV3Schema,
  type AggregatesPayloadV3,
  type SignedAggregates,
} from '../../src/protocol/aggregates.js';
import {
  addDecimals,
  DecimalStringSchema,
  plainDecimal,
  subDecimals,
} from '../../src/protocol/decimal-string.js';
import {
  buildExample,
  buildExampleV2,
  EXAMPLE_AUDIENCE,
  EXAMPLE_NONCE,
  EXAMPLE_SEED,
} from './example.js';
import { DAY, fill, resetIds, T0 } from './helpers.js';

const example = buildExample();
const payload = example.signed.payload as AggregatesPayloadV3;
const key = ed25519PrivateKeyObject(EXAMPLE_SEED);
const trust = { resultsKey: example.resultsKey };

/** The example with `daily` changed, re-signed with the test key (only the schema can refuse it). */
function withDaily(daily: unknown): unknown {
  return { ...payload, daily };
}

describe('decimal strings', () => {
  it('writes any finite number as its exact plain decimal', () => {
    assert.equal(plainDecimal(0), '0');
    assert.equal(plainDecimal(-0), '0');
    assert.equal(plainDecimal(1064.28), '1064.28');
    assert.equal(plainDecimal(-0.0001), '-0.0001');
    assert.equal(plainDecimal(1e-7), '0.0000001');
    assert.equal(plainDecimal(-1.5e-10), '-0.00000000015');
    assert.equal(plainDecimal(1e21), '1000000000000000000000');
    assert.equal(plainDecimal(1.23456789012e25), '12345678901200000000000000');
    assert.throws(() => plainDecimal(Number.NaN));
  });

  it('adds and subtracts exactly (no float rounding)', () => {
    assert.equal(addDecimals('0.1', '0.2'), '0.3');
    assert.equal(subDecimals('671.1', '383.591991992'), '287.508008008');
    assert.equal(subDecimals('1', '1'), '0');
    assert.equal(addDecimals('-0.5', '0.25'), '-0.25');
    assert.equal(
      addDecimals('10000000000000000000000', '0.000000000001'),
      '10000000000000000000000.000000000001',
    );
  });

  it('the schema accepts only canonical plain decimals', () => {
    for (const ok of ['0', '-1', '12.5', '0.0001', '-0.3'])
      assert.ok(DecimalStringSchema.safeParse(ok).success, ok);
    for (const bad of ['-0', '1.50', '01', '1e3', '+1', '.5', '1.', '', ' 1', '0.0', 'NaN'])
      assert.ok(!DecimalStringSchema.safeParse(bad).success, bad);
  });
});

describe('aggregates v3: the daily series', () => {
  it('the worked example: one row per day, days sum to pnl exactly, and it verifies', () => {
    assert.equal(payload.version, 'cloister/aggregates/v3');
    assert.deepEqual(payload.daily, [
      { day: '2026-01-01', pnl: '0', cumulative: '0' },
      { day: '2026-01-02', pnl: '383.591991992', cumulative: '383.591991992' },
      { day: '2026-01-03', pnl: '287.508008008', cumulative: '671.1' },
      { day: '2026-01-04', pnl: '393.18', cumulative: '1064.28' },
    ]);
    assert.equal(
      payload.daily.reduce((s, d) => addDecimals(s, d.pnl), '0'),
      '1064.28',
    );
    const v = verifySignedAggregates(example.signed, {
      ...trust,
      expectedAudience: EXAMPLE_AUDIENCE,
      expectedNonce: EXAMPLE_NONCE,
      requireV2: true,
    });
    assert.deepEqual(v.reasons, []);
  });

  it('a partial first and last day count; a day without fills repeats the cumulative', () => {
    resetIds();
    const fills = [
      fill({ side: 'buy', price: '100', amount: '1', at: 13 * 3_600_000 }),
      fill({ side: 'sell', price: '110', amount: '0.5', at: DAY + 1000 }),
      fill({ side: 'sell', price: '90', amount: '0.5', at: 3 * DAY + 1000 }),
    ];
    const a = computeAggregatesDaily(fills, {
      from: T0 + 12 * 3_600_000,
      to: T0 + 3 * DAY + 7_200_000,
    });
    assert.deepEqual(a.daily, [
      { day: '2026-01-01', pnl: '0', cumulative: '0' },
      { day: '2026-01-02', pnl: '5', cumulative: '5' },
      { day: '2026-01-03', pnl: '0', cumulative: '5' },
      { day: '2026-01-04', pnl: '-5', cumulative: '0' },
    ]);
    assert.equal(a.pnl, 0);
    assert.deepEqual(computeAggregatesDaily([], { from: T0, to: T0 }).daily, []);
  });

  it('the strict schema refuses a series that does not add up or does not cover the window', () => {
    const rows = payload.daily;
    const cases: [string, unknown][] = [
      ['a day changed', rows.map((r, i) => (i === 1 ? { ...r, pnl: '383.591991993' } : r))],
      [
        'a day and its cumulative changed',
        rows.map((r, i) => (i === 3 ? { ...r, pnl: '393.19', cumulative: '1064.29' } : r)),
      ],
      ['a day missing', rows.slice(0, 3)],
      ['a day too many', [...rows, { day: '2026-01-05', pnl: '0', cumulative: '1064.28' }]],
      ['days out of order', [rows[1], rows[0], rows[2], rows[3]]],
      ['a non-canonical decimal', rows.map((r, i) => (i === 0 ? { ...r, pnl: '0.0' } : r))],
      ['a number, not a string', rows.map((r, i) => (i === 0 ? { ...r, pnl: 0 } : r))],
      ['an unknown member', rows.map((r, i) => (i === 0 ? { ...r, note: 'x' } : r))],
      ['no series', undefined],
    ];
    for (const [what, daily] of cases) {
      assert.ok(!AggregatesPayloadV3Schema.safeParse(withDaily(daily)).success, what);
      assert.throws(() => signAggregates(withDaily(daily), key), what);
      const forged = { payload: withDaily(daily), signature: example.signed.signature };
      const v = verifySignedAggregates(forged, trust);
      assert.ok(!v.valid && v.reasons[0]!.startsWith('schema'), what);
    }
    // A daily series on a v2 payload is an unknown member.
    const v2 = buildExampleV2().signed;
    assert.ok(
      !verifySignedAggregates({ ...v2, payload: { ...v2.payload, daily: rows } }, trust).valid,
    );
  });

  it('a changed day under the original signature is refused (the signature covers the series)', () => {
    // Shift 1 from day 2 to day 3: still sums to pnl, the schema accepts it; the signature does not.
    const daily = payload.daily.map((r, i) =>
      i === 1
        ? { ...r, pnl: '382.591991992', cumulative: '382.591991992' }
        : i === 2
          ? { ...r, pnl: '288.508008008' }
          : r,
    );
    assert.ok(AggregatesPayloadV3Schema.safeParse(withDaily(daily)).success);
    const v = verifySignedAggregates(
      { payload: withDaily(daily), signature: example.signed.signature },
      trust,
    );
    assert.ok(!v.valid && v.reasons.some((r) => r.startsWith('signature')));
  });
});

describe('aggregates v2 results signed before v3', () => {
  const v2 = JSON.parse(
    readFileSync(new URL('./fixtures/v2-result.json', import.meta.url), 'utf8'),
  ) as { resultsKey: string; aggregates_signed: SignedAggregates; digest: string };

  it('still verify, with their digest, audience and nonce', () => {
    const v = verifySignedAggregates(v2.aggregates_signed, {
      resultsKey: v2.resultsKey,
      expectedAudience: EXAMPLE_AUDIENCE,
      expectedNonce: EXAMPLE_NONCE,
      requireV2: true,
    });
    assert.deepEqual(v.reasons, []);
    assert.ok(v.valid);
    assert.equal(v.digest, v2.digest);
    assert.equal(v.payload.version, 'cloister/aggregates/v2');
    // The same figures as the generator's v2 form today.
    assert.deepEqual(buildExampleV2().signed, v2.aggregates_signed);
  });
});
