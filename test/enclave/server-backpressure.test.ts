/**
 * Host–enclave boundary attack review: the enclave's side of a connection read every frame the
 * host sent as soon as it arrived, parsed it and queued it, and wrote every answer whether or not
 * the host read them. A host that sends frames faster than they are answered, or never reads,
 * grew the enclave's memory without bound (up to MAX_FRAME_BYTES per queued frame) until the
 * process died, and with it the state a restart loses. The connection now stops reading while
 * MAX_PENDING_FRAMES frames wait for their answers, or while its answers wait for the host.
 * Played over an in-memory duplex whose writes complete only when the test says so.
 */
import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import { setImmediate as turn } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { MAX_PENDING_FRAMES, serveConnection } from '../../src/enclave/server.js';
import { FrameDecoder, encodeFrame } from '../../src/protocol/rpc/frame.js';
import { testEnclave } from '../helpers/enclave-state.js';

/**
 * A connection whose written bytes are kept, each write completing only on `release`; `answers`
 * counts the enclave's writes, including those queued behind an incomplete one.
 */
function peer() {
  const written: Uint8Array[] = [];
  let answers = 0;
  const held: (() => void)[] = [];
  let autoComplete = false;
  const conn = new Duplex({
    read() {},
    write(chunk: Uint8Array, _enc, cb) {
      written.push(chunk);
      if (autoComplete) cb();
      else held.push(() => cb());
    },
    writableHighWaterMark: 1,
  });
  const write = conn.write.bind(conn) as (chunk: Uint8Array) => boolean;
  conn.write = ((chunk: Uint8Array) => {
    answers++;
    return write(chunk);
  }) as typeof conn.write;
  return {
    conn,
    written,
    answers: () => answers,
    /** Completes the writes held so far and every later one: the host reads again. */
    release() {
      autoComplete = true;
      for (const cb of held.splice(0)) cb();
    },
  };
}

/** Lets the enclave run: a fixed number of event-loop turns, no clock involved. */
async function settle(turns = 200) {
  for (let i = 0; i < turns; i++) await turn();
}

const frame = (id: number) =>
  encodeFrame({ calls: [{ id, method: 'enclave.status', params: {} }] });

describe('enclave connection: a host that sends many frames and does not read the answers', () => {
  it('stops reading until the host reads, then answers every frame in order', async () => {
    const { state } = testEnclave();
    const p = peer();
    serveConnection(state, p.conn);
    const frames = 10 * MAX_PENDING_FRAMES;
    for (let i = 1; i <= frames; i++) p.conn.push(frame(i));
    await settle();
    // The first answer is still unread (its write has not completed): nothing more is read.
    assert.ok(
      p.answers() <= MAX_PENDING_FRAMES,
      `${p.answers()} answers written while the host reads none`,
    );
    assert.equal(p.conn.isPaused(), true);
    p.release();
    await settle(2000);
    const decoder = new FrameDecoder();
    const ids = p.written.flatMap((bytes) =>
      decoder.push(bytes).flatMap((f) => (f as { results: { id: number }[] }).results),
    );
    assert.deepEqual(
      ids.map((r) => r.id),
      Array.from({ length: frames }, (_, i) => i + 1),
    );
  });
});
