/**
 * The platform-side parsers (reports.ts, nsm.ts, nitro.ts) on random and mutated input: they
 * return or throw their own error type, never anything else, and mutated recorded samples
 * either parse to the same layout or are refused. Samples: test/vectors/data/attestation/platform/.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { PlatformError } from '../../../src/enclave/platform/device.js';
import { parseNitroDocument } from '../../../src/enclave/platform/nitro.js';
import { decodeAttestationResponse } from '../../../src/enclave/platform/nsm.js';
import {
  EvidenceFormatError,
  parseSgxQuote,
  parseSnpReport,
  parseTdxQuote,
} from '../../../src/enclave/platform/reports.js';
import { sample } from '../../fakes/tee-devices.js';

function onlyThrows(fn: () => unknown, ...types: (new (...a: never[]) => Error)[]): void {
  try {
    fn();
  } catch (e) {
    assert.ok(
      types.some((t) => e instanceof t),
      `unexpected ${(e as Error).name}: ${(e as Error).message}`,
    );
  }
}

const PARSERS = [
  ['parseSgxQuote', parseSgxQuote, 'sgx_quote_v3.bin'],
  ['parseTdxQuote', parseTdxQuote, 'tdx_quote_v4.bin'],
  ['parseTdxQuote v5', parseTdxQuote, 'tdx_quote_v5.bin'],
  ['parseSnpReport', parseSnpReport, 'snp_milan_gosev_report.bin'],
] as const;

describe('report parsers never fail in an unexpected way', () => {
  for (const [name, parse, file] of PARSERS) {
    it(`${name}: random bytes`, () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 6000 }), (b) =>
          onlyThrows(() => parse(b), EvidenceFormatError),
        ),
        { numRuns: 300 },
      );
    });

    it(`${name}: truncations and byte flips of ${file}`, () => {
      const base = sample(file);
      const good = parse(base);
      fc.assert(
        fc.property(
          fc.nat(base.length - 1),
          fc.integer({ min: 1, max: 255 }),
          fc.nat(base.length),
          (at, xor, cut) => {
            const m = base.slice(0, Math.max(cut, 1));
            if (at < m.length) m[at]! ^= xor;
            try {
              const r = parse(m);
              assert.equal(r.reportData.length, 64);
              assert.match(r.measurement, /^[0-9a-f]{64,96}$/);
            } catch (e) {
              assert.ok(e instanceof EvidenceFormatError);
            }
          },
        ),
        { numRuns: 300 },
      );
      assert.equal(good.reportData.length, 64);
    });
  }
});

describe('NSM parsers never fail in an unexpected way', () => {
  it('decodeAttestationResponse and parseNitroDocument on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (b) => {
        onlyThrows(() => decodeAttestationResponse(b), PlatformError);
        onlyThrows(() => parseNitroDocument(b), PlatformError);
      }),
      { numRuns: 500 },
    );
  });

  it('parseNitroDocument on byte flips of a recorded document', () => {
    const base = sample('nitro_2022-10-13.bin');
    fc.assert(
      fc.property(fc.nat(base.length - 1), fc.integer({ min: 1, max: 255 }), (at, xor) => {
        const m = base.slice();
        m[at]! ^= xor;
        onlyThrows(() => parseNitroDocument(m), PlatformError);
      }),
      { numRuns: 300 },
    );
  });
});
