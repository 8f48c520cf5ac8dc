/**
 * Properties of src/protocol/encoding.ts: base64 / base64url / hex round trips (against
 * node's Buffer as the reference encoder) and strictness: each decoder accepts exactly one
 * string per byte string (no missing or extra padding, whitespace, other alphabets, non-zero
 * trailing bits, upper-case hex).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  base64Bytes,
  base64OfLength,
  base64ToBytes,
  base64ToBytesPortable,
  base64urlBytes,
  base64urlToBytes,
  bytesEqual,
  bytesToBase64,
  bytesToBase64Portable,
  bytesToBase64url,
  bytesToHex,
  bytesToHexPortable,
  concatBytes,
  hexBytes,
  hexToBytes,
  isAllZero,
} from '../../src/protocol/encoding.js';

const bytes = fc.uint8Array({ maxLength: 200 });
const nonEmpty = fc.uint8Array({ minLength: 1, maxLength: 200 });
const RUNS = { numRuns: 300 };

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64URL = B64.slice(0, 62) + '-_';
const WHITESPACE = [' ', '\t', '\n', '\r', '\f', '\v', '\u00a0'];

/** Inserts `ins` at position `at` (mod length+1) of `s`. */
const insertAt = (s: string, at: number, ins: string) => {
  const i = at % (s.length + 1);
  return s.slice(0, i) + ins + s.slice(i);
};

/** Any string over the alphabet plus padding / junk, to probe the decoders beyond canonical inputs. */
const noisy = (alphabet: string) =>
  fc.string({ unit: fc.constantFrom(...(alphabet + '=-_+/ \n.%').split('')), maxLength: 24 });

describe('encoding: round trips', () => {
  it('base64: matches Buffer and decodes back', () => {
    fc.assert(
      fc.property(bytes, (b) => {
        const s = bytesToBase64(b);
        assert.equal(s, Buffer.from(b).toString('base64'));
        assert.deepEqual(base64ToBytes(s), b);
      }),
      RUNS,
    );
  });

  it('base64url: matches Buffer (unpadded) and decodes back', () => {
    fc.assert(
      fc.property(bytes, (b) => {
        const s = bytesToBase64url(b);
        assert.equal(s, Buffer.from(b).toString('base64url'));
        assert.deepEqual(base64urlToBytes(s), b);
      }),
      RUNS,
    );
  });

  it('hex: matches Buffer (lower case) and decodes back', () => {
    fc.assert(
      fc.property(bytes, (b) => {
        const s = bytesToHex(b);
        assert.equal(s, Buffer.from(b).toString('hex'));
        assert.deepEqual(hexToBytes(s), b);
      }),
      RUNS,
    );
  });

  it('large inputs cross the 32 KiB chunking in bytesToBase64', () => {
    for (const n of [0x8000 - 1, 0x8000, 0x8000 + 1, 3 * 0x8000 + 2]) {
      const b = new Uint8Array(n).map((_, i) => (i * 31) & 0xff);
      assert.equal(bytesToBase64(b), Buffer.from(b).toString('base64'));
      assert.deepEqual(base64ToBytes(bytesToBase64(b)), b);
    }
  });

  it('concatBytes, bytesEqual, isAllZero agree with Buffer', () => {
    fc.assert(
      fc.property(fc.array(bytes, { maxLength: 5 }), bytes, (parts, other) => {
        const joined = concatBytes(...parts);
        assert.deepEqual(Buffer.from(joined), Buffer.concat(parts));
        assert.equal(bytesEqual(joined, other), Buffer.from(joined).equals(other));
        assert.ok(bytesEqual(joined, joined.slice()));
        assert.equal(
          isAllZero(joined),
          joined.every((x) => x === 0),
        );
      }),
      RUNS,
    );
  });
});

describe('encoding: strictness', () => {
  it('base64: each accepted string is the canonical encoding of what it decodes to', () => {
    fc.assert(
      fc.property(noisy(B64), (s) => {
        let out: Uint8Array;
        try {
          out = base64ToBytes(s);
        } catch (err) {
          assert.ok(err instanceof TypeError);
          return;
        }
        assert.equal(bytesToBase64(out), s);
      }),
      { numRuns: 1000 },
    );
  });

  it('base64url: each accepted string is the canonical encoding of what it decodes to', () => {
    fc.assert(
      fc.property(noisy(B64URL), (s) => {
        let out: Uint8Array;
        try {
          out = base64urlToBytes(s);
        } catch (err) {
          assert.ok(err instanceof TypeError);
          return;
        }
        assert.equal(bytesToBase64url(out), s);
      }),
      { numRuns: 1000 },
    );
  });

  it('hex: each accepted string is the canonical encoding of what it decodes to', () => {
    fc.assert(
      fc.property(
        fc.string({
          unit: fc.constantFrom(...'0123456789abcdefABCDEFxg \n'.split('')),
          maxLength: 20,
        }),
        (s) => {
          let out: Uint8Array;
          try {
            out = hexToBytes(s);
          } catch (err) {
            assert.ok(err instanceof TypeError);
            return;
          }
          assert.equal(bytesToHex(out), s);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('base64: whitespace anywhere is refused', () => {
    fc.assert(
      fc.property(bytes, fc.nat(), fc.constantFrom(...WHITESPACE), (b, at, ws) => {
        assert.throws(() => base64ToBytes(insertAt(bytesToBase64(b), at, ws)), TypeError);
      }),
      RUNS,
    );
  });

  it('base64: missing, extra or misplaced padding is refused', () => {
    fc.assert(
      fc.property(nonEmpty, fc.nat(), (b, at) => {
        const s = bytesToBase64(b);
        const stripped = s.replace(/=+$/, '');
        if (stripped !== s) assert.throws(() => base64ToBytes(stripped), TypeError);
        assert.throws(() => base64ToBytes(s + '='), TypeError);
        assert.throws(() => base64ToBytes(s + '===='), TypeError);
        // '=' in place of a data character that has data after it (replacing the LAST data
        // char can legitimately give the canonical encoding of a shorter input, "AAA=" → "AA==")
        const i = at % (stripped.length - 1);
        assert.throws(
          () =>
            base64ToBytes(
              stripped.slice(0, i) + '=' + stripped.slice(i + 1) + s.slice(stripped.length),
            ),
          TypeError,
        );
      }),
      RUNS,
    );
  });

  it('base64: non-zero trailing bits are refused (e.g. "AB==" for "AA==")', () => {
    fc.assert(
      fc.property(
        nonEmpty.filter((b) => b.length % 3 !== 0),
        fc.integer({ min: 1, max: 15 }),
        (b, delta) => {
          const s = bytesToBase64(b);
          const pad = s.length - s.replace(/=+$/, '').length; // 1 or 2
          const unused = pad === 2 ? 4 : 2; // bits of the last data char not covered by bytes
          const last = s.length - pad - 1;
          const v = B64.indexOf(s[last]!);
          const changed = v | (delta & ((1 << unused) - 1));
          fc.pre(changed !== v);
          const bad = s.slice(0, last) + B64[changed]! + s.slice(last + 1);
          assert.throws(() => base64ToBytes(bad), TypeError);
        },
      ),
      RUNS,
    );
    assert.throws(() => base64ToBytes('AB=='), TypeError);
    assert.throws(() => base64ToBytes('AAB='), TypeError);
    assert.deepEqual(base64ToBytes('AA=='), new Uint8Array([0]));
  });

  it('base64: the url alphabet and other characters are refused', () => {
    fc.assert(
      fc.property(
        nonEmpty,
        fc.nat(),
        fc.constantFrom('-', '_', '.', '!', '\0', 'é'),
        (b, at, c) => {
          const s = bytesToBase64(b);
          const i = at % s.replace(/=+$/, '').length;
          assert.throws(() => base64ToBytes(s.slice(0, i) + c + s.slice(i + 1)), TypeError);
        },
      ),
      RUNS,
    );
  });

  it('base64url: padding, the standard alphabet, whitespace and impossible lengths are refused', () => {
    fc.assert(
      fc.property(nonEmpty, fc.nat(), fc.constantFrom('+', '/', '=', ...WHITESPACE), (b, at, c) => {
        const s = bytesToBase64url(b);
        const i = at % s.length;
        assert.throws(() => base64urlToBytes(s.slice(0, i) + c + s.slice(i + 1)), TypeError);
        assert.throws(() => base64urlToBytes(insertAt(s, at, c)), TypeError);
        if (s.length % 4 !== 0) {
          assert.throws(() => base64urlToBytes(bytesToBase64(b)), TypeError); // padded form
        }
      }),
      RUNS,
    );
    for (const len of [1, 5, 9]) assert.throws(() => base64urlToBytes('A'.repeat(len)), TypeError);
    assert.throws(() => base64urlToBytes('AB'), TypeError); // non-zero trailing bits
    assert.deepEqual(base64urlToBytes('AA'), new Uint8Array([0]));
  });

  it('hex: upper case, odd length, whitespace and prefixes are refused', () => {
    fc.assert(
      fc.property(nonEmpty, (b) => {
        const s = bytesToHex(b);
        if (/[a-f]/.test(s)) assert.throws(() => hexToBytes(s.toUpperCase()), TypeError);
        assert.throws(() => hexToBytes(s.slice(1)), TypeError);
        assert.throws(() => hexToBytes(s + '0'), TypeError);
        assert.throws(() => hexToBytes(`0x${s}`), TypeError);
        assert.throws(() => hexToBytes(` ${s}`), TypeError);
        assert.throws(() => hexToBytes(`${s}\n`), TypeError);
      }),
      RUNS,
    );
  });

  it('the decoders refuse non-strings', () => {
    for (const bad of [null, undefined, 0, {}, ['AA==']]) {
      assert.throws(() => base64ToBytes(bad as never), TypeError);
      assert.throws(() => base64urlToBytes(bad as never), TypeError);
      assert.throws(() => hexToBytes(bad as never), TypeError);
    }
  });
});

describe('encoding: zod schemas', () => {
  it('base64OfLength(n) matches exactly the strings base64ToBytes decodes to n bytes', () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ ';
    const near = (s: string) =>
      fc
        .tuple(fc.nat(s.length), fc.constantFrom(...alphabet), fc.constantFrom('set', 'cut', 'add'))
        .map(([i, c, how]) =>
          how === 'set'
            ? s.slice(0, i) + c + s.slice(i + 1)
            : how === 'cut'
              ? s.slice(0, i) + s.slice(i + 1)
              : s.slice(0, i) + c + s.slice(i),
        );
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 70 }),
        bytes.chain((b) =>
          fc.oneof(fc.constant(bytesToBase64(b)), near(bytesToBase64(b)), fc.string()),
        ),
        (n, s) => {
          let decodes: boolean;
          try {
            decodes = base64ToBytes(s).length === n;
          } catch {
            decodes = false;
          }
          assert.equal(base64OfLength(n).test(s), decodes, `${n} ${JSON.stringify(s)}`);
        },
      ),
      { numRuns: 20_000 },
    );
  });

  it('base64Bytes / base64urlBytes / hexBytes accept exactly the canonical encoding of n bytes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 48 }), bytes, (n, b) => {
        const exact = b.length === n;
        assert.equal(base64Bytes(n).safeParse(bytesToBase64(b)).success, exact);
        assert.equal(base64urlBytes(n).safeParse(bytesToBase64url(b)).success, exact);
        assert.equal(hexBytes(n).safeParse(bytesToHex(b)).success, exact);
        if (exact) {
          assert.equal(base64Bytes(n).safeParse(` ${bytesToBase64(b)}`).success, false);
          assert.equal(
            base64urlBytes(n).safeParse(bytesToBase64(b)).success,
            /[+/=]/.test(bytesToBase64(b)) ? false : true,
          );
          assert.equal(
            hexBytes(n).safeParse(bytesToHex(b).toUpperCase()).success,
            !/[a-f]/.test(bytesToHex(b)),
          );
        }
      }),
      RUNS,
    );
  });
});

describe('the two hex encoders (Node Buffer here, a loop in browsers)', () => {
  it('agree byte for byte, views included', () => {
    fc.assert(
      fc.property(bytes, (b) => {
        const s = bytesToHexPortable(b);
        assert.match(s, /^(?:[0-9a-f]{2})*$/);
        assert.equal(bytesToHex(b), s);
        const view = new Uint8Array([7, ...b, 9]).subarray(1, b.length + 1);
        assert.equal(bytesToHex(view), s);
        assert.deepEqual(hexToBytes(s), b);
      }),
      RUNS,
    );
  });
});

describe('the two base64 paths (Node Buffer here, btoa/atob in browsers)', () => {
  it('agree byte for byte, refuse the same strings, and decode to plain Uint8Arrays', () => {
    const decode = (f: (s: string) => Uint8Array, s: string) => {
      try {
        return bytesToHex(f(s));
      } catch {
        return 'refused';
      }
    };
    fc.assert(
      fc.property(bytes, fc.string({ maxLength: 12 }), (b, junk) => {
        const s = bytesToBase64(b);
        assert.equal(bytesToBase64Portable(b), s);
        const out = base64ToBytes(s);
        assert.equal(Object.getPrototypeOf(out), Uint8Array.prototype, 'not a Buffer');
        assert.deepEqual(out, base64ToBytesPortable(s));
        // A view into a larger buffer encodes only its own bytes.
        const view = new Uint8Array([7, ...b, 9]).subarray(1, b.length + 1);
        assert.equal(bytesToBase64(view), s);
        for (const t of [junk, `${s}${junk}`, s.replace(/=+$/, ''), `${s.slice(0, -2)}B=`])
          assert.equal(decode(base64ToBytes, t), decode(base64ToBytesPortable, t));
      }),
      RUNS,
    );
  });
});
