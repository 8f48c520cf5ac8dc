/**
 * Host–enclave boundary, second attack review (SECURITY.md): one frame cut into one-byte chunks.
 * The decoder kept every chunk until its frame was complete, so a peer that wrote an 8 MiB frame
 * a byte at a time (the host writing to the enclave's socket, or the enclave to the host's)
 * made the other side hold ~8 million chunk objects, gigabytes, for bytes bounded at 8 MiB: the
 * enclave ran out of memory from one frame within every limit. It now copies a frame that spans
 * chunks into one buffer of the announced length as the bytes come. Measured as heap retained
 * after a full garbage collection, with a wide margin (no timing involved).
 */
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, it } from 'node:test';
import { FrameDecoder, encodeFrame } from '../../src/protocol/rpc/frame.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

describe('frame decoder memory', () => {
  it('holds about a frame’s bytes, not an object per chunk, for a frame sent a byte at a time', () => {
    const size = 1 << 20;
    const bytes = encodeFrame({ calls: [{ id: 1, method: 'x', params: 'a'.repeat(size) }] });
    const decoder = new FrameDecoder();
    gc();
    const before = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
    // All but the last byte, each in a chunk of its own (as a socket delivers them to a fast reader).
    for (let i = 0; i < bytes.length - 1; i++)
      assert.deepEqual(decoder.push(bytes.slice(i, i + 1)), []);
    gc();
    const held = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers - before;
    assert.ok(held < 16 * size, `${Math.round(held / size)} bytes held per byte of the frame`);
    const [frame] = decoder.push(bytes.slice(bytes.length - 1)) as {
      calls: { params: string }[];
    }[];
    assert.equal(frame!.calls[0]!.params.length, size);
  });
});
