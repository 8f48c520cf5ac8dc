/**
 * src/protocol/sha256.ts: under Node, `sha256` is node:crypto's and gives the same bytes as the
 * portable @noble/hashes one (what browsers run) for any input, views into larger buffers
 * included; FIPS 180-4's own examples; a plain Uint8Array of 32 bytes of its own comes back
 * (not a Buffer, not a view into a pool); anything but bytes is refused, as @noble refuses it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { bytesToHex, utf8 } from '../../src/protocol/encoding.js';
import { SHA256_NATIVE, sha256, sha256Portable } from '../../src/protocol/sha256.js';

describe('sha256', () => {
  it('is the native one under Node', () => {
    assert.equal(SHA256_NATIVE, true);
  });

  it('gives the FIPS 180-4 example digests on both paths', () => {
    const cases: [string, string][] = [
      ['', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
      ['abc', 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'],
      [
        'abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq',
        '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
      ],
    ];
    for (const [text, hex] of cases) {
      assert.equal(bytesToHex(sha256(utf8.encode(text))), hex);
      assert.equal(bytesToHex(sha256Portable(utf8.encode(text))), hex);
    }
  });

  it('matches the portable hash for any bytes, views included', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 600 }),
        fc.nat({ max: 16 }),
        fc.nat({ max: 16 }),
        (bytes, before, after) => {
          const big = new Uint8Array(before + bytes.length + after).fill(0xa5);
          big.set(bytes, before);
          const view = big.subarray(before, before + bytes.length);
          const expected = sha256Portable(bytes);
          assert.deepEqual(sha256(bytes), expected);
          assert.deepEqual(sha256(view), expected);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('returns a plain Uint8Array of 32 bytes with a buffer of its own', () => {
    const d = sha256(utf8.encode('cloister'));
    assert.equal(Object.getPrototypeOf(d), Uint8Array.prototype);
    assert.equal(d.length, 32);
    assert.equal(d.byteOffset, 0);
    assert.equal(d.buffer.byteLength, 32);
  });

  it('refuses anything but bytes', () => {
    for (const bad of ['abc', [1, 2, 3], new ArrayBuffer(4), null, undefined, 7]) {
      assert.throws(() => sha256(bad as unknown as Uint8Array), TypeError);
    }
  });
});
