/**
 * Host–enclave boundary, second attack review (SECURITY.md): answers too large for one frame.
 * The enclave sent a request frame's last results in one frame; when they were over
 * MAX_FRAME_BYTES together it sent a frame-level FRAME_TOO_LARGE instead, which fails every call
 * of the frame and which the host's client takes for a stream out of step: it drops the
 * connection, and the supervisor restarts the enclave, losing what a restart loses (the replay
 * cache, email codes, the second-factor lockouts, the memory of revocations and of wallet
 * records). Now results are halved into frames until one too large for any frame is alone, and
 * only that call fails. And `aggregates.poll`, the one method whose single answer grows with the
 * host's state (every finished, unacknowledged job's signed payload), answered every result at
 * once: a few large payloads left waiting (the host could not store them for a while) made every
 * later poll too large to send, so no result could ever be collected. A poll now carries finished
 * results up to POLL_RESULT_BYTES and shows the rest as still running until earlier ones are
 * acknowledged. Played over an in-memory duplex that the enclave's server serves.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Duplex } from 'node:stream';
import { setImmediate as turn } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { dispatchFrame } from '../../src/enclave/dispatcher.js';
import { serveConnection } from '../../src/enclave/server.js';
import type { SignedAggregates } from '../../src/enclave/state.js';
import { FrameDecoder, MAX_FRAME_BYTES, encodeFrame } from '../../src/protocol/rpc/frame.js';
import { testEnclave } from '../helpers/enclave-state.js';

type Answer = {
  results?: { id: number; ok: boolean; result?: unknown; error?: { code: string } }[];
  error?: { code: string };
};

/** A connection whose writes complete at once; `frames()` decodes what the enclave wrote. */
function peer() {
  const written: Uint8Array[] = [];
  const conn = new Duplex({
    read() {},
    write(chunk: Uint8Array, _enc, cb) {
      written.push(chunk);
      cb();
    },
  });
  const decoder = new FrameDecoder();
  let seen = 0;
  return {
    conn,
    frames(): Answer[] {
      const out = written.slice(seen).flatMap((b) => decoder.push(b) as Answer[]);
      seen = written.length;
      return out;
    },
  };
}

/** Lets the enclave run: event-loop turns until `done` holds (no clock involved). */
async function until(done: () => boolean) {
  for (let i = 0; i < 20_000 && !done(); i++) await turn();
  assert.ok(done(), 'the enclave did not answer');
}

/** A ready enclave holding finished aggregates jobs whose payloads are `chars` long each. */
async function withFinishedJobs(count: number, chars: number) {
  const t = testEnclave();
  await dispatchFrame(t.state, {
    calls: [{ id: 1, method: 'keyring.generate', params: { policy: 'signer' } }],
  });
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const id = randomUUID();
    const result: SignedAggregates = {
      payload_jcs: `{"pad":"${String(i).repeat(chars - 10)}"}`.slice(0, chars),
      signature: Buffer.alloc(64, i).toString('base64'),
      payload_digest: 'ab'.repeat(32),
      signed_at: 1_800_000_000,
      account_salt: Buffer.alloc(32, i).toString('base64'),
    };
    t.state.jobs.start(id, () => Promise.resolve(result));
    ids.push(id);
  }
  await until(() => t.state.jobs.poll(ids).every((v) => v.state === 'done'));
  return { state: t.state, ids };
}

const poll = (id: number, jobIds: string[], ack: string[] = []) => ({
  id,
  method: 'aggregates.poll',
  params: { job_ids: jobIds, ack },
});

describe('enclave answers too large for one frame', () => {
  it('sends results that are too large together in several frames, not a frame-level error', async () => {
    const big = Math.floor(MAX_FRAME_BYTES * 0.45);
    const { state, ids } = await withFinishedJobs(3, big);
    const p = peer();
    serveConnection(state, p.conn);
    // Three answers of ~0.45 × MAX_FRAME_BYTES each, and a small one: over the limit together.
    p.conn.push(
      encodeFrame({
        calls: [
          poll(1, [ids[0]!]),
          poll(2, [ids[1]!]),
          poll(3, [ids[2]!]),
          { id: 4, method: 'enclave.status', params: {} },
        ],
      }),
    );
    const got = new Map<number, Answer['results']>();
    const frames: Answer[] = [];
    await until(() => {
      for (const f of p.frames()) {
        frames.push(f);
        for (const r of f.results ?? []) got.set(r.id, [r]);
      }
      return got.size === 4 || frames.some((f) => f.error);
    });
    assert.deepEqual(
      frames.filter((f) => f.error),
      [],
      'a frame-level error: the host drops the connection and the enclave restarts',
    );
    for (const id of [1, 2, 3, 4]) assert.equal(got.get(id)?.[0]?.ok, true, `call ${id}`);
    assert.equal(p.conn.destroyed, false);
  });

  it('a poll over many large finished jobs carries some, the rest after their acknowledgements', async () => {
    const { state, ids } = await withFinishedJobs(4, Math.floor(MAX_FRAME_BYTES * 0.3));
    const p = peer();
    serveConnection(state, p.conn);
    const collected = new Set<string>();
    let ack: string[] = [];
    for (let round = 1; round <= 4 && collected.size < ids.length; round++) {
      const waiting = ids.filter((id) => !collected.has(id));
      p.conn.push(encodeFrame({ calls: [poll(round, waiting, ack)] }));
      let answer: Answer | undefined;
      await until(() => {
        answer ??= p.frames()[0];
        return answer !== undefined;
      });
      const r = answer!.results?.[0];
      assert.equal(r?.ok, true, `poll ${round}: ${JSON.stringify(answer).slice(0, 200)}`);
      const views = (r!.result as { jobs: { job_id: string; state: string }[] }).jobs;
      assert.equal(views.length, waiting.length);
      const done = views.filter((v) => v.state === 'done').map((v) => v.job_id);
      assert.ok(done.length >= 1, 'every poll carries at least one finished result');
      // What is not carried yet shows as running: the host polls it again.
      for (const v of views) assert.ok(v.state === 'done' || v.state === 'running', v.state);
      for (const id of done) collected.add(id);
      ack = done;
    }
    assert.equal(collected.size, ids.length);
  });
});
