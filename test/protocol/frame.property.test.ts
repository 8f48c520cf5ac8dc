/**
 * Properties of the host↔enclave framing (src/protocol/rpc/frame.ts): encoded frames fed to
 * FrameDecoder in arbitrary chunks (including empty ones and single bytes) come out as the same
 * messages, in order; a length prefix over the limit is refused as soon as the 4 header bytes
 * are in, before any body byte; bodies that are not UTF-8 JSON are refused.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { utf8 } from '../../src/protocol/encoding.js';
import { RpcError } from '../../src/protocol/rpc/errors.js';
import { FrameDecoder, MAX_FRAME_BYTES, encodeFrame } from '../../src/protocol/rpc/frame.js';

const code = (c: string) => (err: unknown) => err instanceof RpcError && err.code === c;

/** Splits `bytes` at the given cut points (any numbers; reduced mod length+1, may repeat). */
function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...cuts.map((c) => c % (bytes.length + 1)), 0, bytes.length].sort(
    (a, b) => a - b,
  );
  const out: Uint8Array[] = [];
  for (let i = 1; i < points.length; i++) out.push(bytes.subarray(points[i - 1], points[i]));
  return out; // repeated cut points give empty chunks, which the decoder must also take
}

function decodeAll(chunks: Uint8Array[], max?: number): unknown[] {
  const d = new FrameDecoder(max);
  return chunks.flatMap((c) => d.push(c));
}

const concat = (parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

/** Frame headers for a body length, big-endian. */
function header(len: number): Uint8Array {
  const h = new Uint8Array(4);
  new DataView(h.buffer).setUint32(0, len, false);
  return h;
}

const message = fc.jsonValue({ maxDepth: 3, stringUnit: 'grapheme' });
// What JSON.stringify → JSON.parse gives back (-0 becomes 0).
const viaJson = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

describe('frame: encode → decode in arbitrary chunks', () => {
  it('yields the same messages in order, for any chunking', () => {
    fc.assert(
      fc.property(
        fc.array(message, { minLength: 0, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        (msgs, cuts) => {
          const stream = concat(msgs.map((m) => encodeFrame(m)));
          assert.deepEqual(decodeAll(split(stream, cuts)), msgs.map(viaJson));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('one byte at a time, and all at once', () => {
    fc.assert(
      fc.property(fc.array(message, { minLength: 1, maxLength: 4 }), (msgs) => {
        const stream = concat(msgs.map((m) => encodeFrame(m)));
        const bytewise = [...stream].map((b) => new Uint8Array([b]));
        assert.deepEqual(decodeAll(bytewise), msgs.map(viaJson));
        assert.deepEqual(decodeAll([stream]), msgs.map(viaJson));
      }),
      { numRuns: 50 },
    );
  });

  it('chunks that are views into a larger buffer decode the same', () => {
    fc.assert(
      fc.property(
        fc.array(message, { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (msgs, cuts) => {
          const stream = concat(msgs.map((m) => encodeFrame(m)));
          const padded = new Uint8Array(stream.length + 10).fill(0xff);
          padded.set(stream, 5);
          const view = padded.subarray(5, 5 + stream.length);
          assert.deepEqual(decodeAll(split(view, cuts)), msgs.map(viaJson));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('holds back an incomplete frame until its last byte arrives', () => {
    fc.assert(
      fc.property(message, (m) => {
        const f = encodeFrame(m);
        const d = new FrameDecoder();
        assert.deepEqual(d.push(f.subarray(0, f.length - 1)), []);
        assert.deepEqual(d.push(f.subarray(f.length - 1)), [viaJson(m)]);
        assert.deepEqual(d.push(new Uint8Array(0)), []);
      }),
      { numRuns: 100 },
    );
  });

  it('the length prefix is the big-endian UTF-8 byte length of the JSON body', () => {
    fc.assert(
      fc.property(message, (m) => {
        const f = encodeFrame(m);
        const body = utf8.encode(JSON.stringify(m));
        assert.deepEqual(f.subarray(0, 4), header(body.length));
        assert.deepEqual(f.subarray(4), body);
      }),
      { numRuns: 100 },
    );
  });
});

describe('frame: limits and malformed input', () => {
  it('a length over the limit is refused from the header alone, however it is split', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 16, max: 4096 }),
        fc.integer({ min: 1, max: 0xffffffff }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (max, over, cuts) => {
          const len = Math.min(0xffffffff, max + over);
          const d = new FrameDecoder(max);
          const chunks = split(header(len), cuts);
          // nothing before the 4th header byte, FRAME_TOO_LARGE as soon as it arrives
          let seen = 0;
          let threw = false;
          for (const c of chunks) {
            seen += c.length;
            if (seen < 4) {
              assert.deepEqual(d.push(c), []);
            } else {
              assert.throws(() => d.push(c), code('FRAME_TOO_LARGE'));
              threw = true;
              break;
            }
          }
          assert.ok(threw);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('the default limit: MAX_FRAME_BYTES is accepted as a length, one more is not', () => {
    assert.deepEqual(new FrameDecoder().push(header(MAX_FRAME_BYTES)), []);
    assert.throws(
      () => new FrameDecoder().push(header(MAX_FRAME_BYTES + 1)),
      code('FRAME_TOO_LARGE'),
    );
    assert.throws(() => new FrameDecoder().push(header(0xffffffff)), code('FRAME_TOO_LARGE'));
  });

  it('encodeFrame refuses a body over the limit, and a body exactly at it round-trips', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), fc.integer({ min: 2, max: 64 }), (s, max) => {
        const body = utf8.encode(JSON.stringify(s));
        if (body.length > max) {
          assert.throws(() => encodeFrame(s, max), code('FRAME_TOO_LARGE'));
        } else {
          assert.deepEqual(decodeAll([encodeFrame(s, max)], max), [s]);
        }
        // the limit is inclusive
        assert.deepEqual(decodeAll([encodeFrame(s, body.length)], body.length), [s]);
      }),
      { numRuns: 200 },
    );
  });

  it('the limit counts UTF-8 bytes, not characters (text outside ASCII: 2-4 bytes each)', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }),
        fc.integer({ min: 2, max: 200 }),
        (s, max) => {
          const json = JSON.stringify(s);
          const body = utf8.encode(json);
          if (body.length > max) assert.throws(() => encodeFrame(s, max), code('FRAME_TOO_LARGE'));
          else {
            const f = encodeFrame(s, max);
            assert.deepEqual(f.subarray(0, 4), header(body.length));
            assert.deepEqual(f.subarray(4), body);
          }
          // Fewer characters than bytes: refused at one byte below, accepted at the byte count.
          if (body.length > json.length)
            assert.throws(() => encodeFrame(s, body.length - 1), code('FRAME_TOO_LARGE'));
          assert.deepEqual(decodeAll([encodeFrame(s, body.length)], body.length), [s]);
        },
      ),
      { numRuns: 300 },
    );
    // Fixed cases: 'é' is 2 bytes, '€' 3, '😀' 4 (one surrogate pair, two characters).
    for (const [s, bytes] of [
      ['é', 4],
      ['€', 5],
      ['😀', 6],
    ] as const) {
      assert.throws(() => encodeFrame(s, bytes - 1), code('FRAME_TOO_LARGE'));
      assert.deepEqual(encodeFrame(s, bytes).subarray(0, 4), header(bytes));
    }
  });

  it('a body that is not JSON, or not UTF-8, is FRAME_INVALID', () => {
    const bodies = [
      new Uint8Array(0),
      utf8.encode('{'),
      utf8.encode('{"a":1}x'),
      utf8.encode("{'a':1}"),
      new Uint8Array([0x22, 0xff, 0x22]), // "\xff": invalid UTF-8
      new Uint8Array([0x22, 0xed, 0xa0, 0x80, 0x22]), // CESU-8 surrogate
    ];
    for (const b of bodies) {
      const frame = concat([header(b.length), b]);
      assert.throws(
        () => new FrameDecoder().push(frame),
        code('FRAME_INVALID'),
        JSON.stringify([...b]),
      );
    }
  });
});
