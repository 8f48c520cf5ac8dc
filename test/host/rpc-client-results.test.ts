/**
 * Attack review of partial result frames (the enclave sends a long frame's results in pieces):
 * the host client matches each result to its call by id, whatever frame it comes in and in
 * whatever order, settles a call once (a repeated id, e.g. a duplicate in a frame, cannot
 * replace a caller's result or reach another caller), ignores ids it never sent, and when the
 * stream fails after some pieces have arrived, the calls already answered keep their results
 * and only the unanswered ones fail (ENCLAVE_UNAVAILABLE). Played by a scripted socket peer.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { dispatchFrame } from '../../src/enclave/dispatcher.js';
import { EnclaveRpcClient, isEnclaveCallError } from '../../src/host/enclave-client/rpc-client.js';
import { FrameDecoder, encodeFrame, type Call, type Result } from '../../src/protocol/rpc/frame.js';
import { testEnclave } from '../helpers/enclave-state.js';

/** A genuine enclave.status result, with `boot_time` set to say which call it answers. */
async function statusTemplate(): Promise<Record<string, unknown>> {
  const r = await dispatchFrame(testEnclave().state, {
    calls: [{ id: 1, method: 'enclave.status', params: {} }],
  });
  assert.ok('results' in r && r.results[0]!.ok);
  return (r.results[0] as { result: Record<string, unknown> }).result;
}

describe('host client: results in pieces, repeated and unknown ids, a failure mid-frame', () => {
  const servers: { close(): void }[] = [];
  after(() => servers.forEach((s) => s.close()));

  it('each caller gets its own result once; the unanswered ones fail', async () => {
    const template = await statusTemplate();
    const answer = (id: number, tag = id): Result => ({
      id,
      ok: true,
      result: { ...template, boot_time: tag },
    });
    const path = join(mkdtempSync(join(tmpdir(), 'cloister-rpc-')), 's.sock');
    let script: (calls: Call[], conn: Socket) => void = () => undefined;
    const server = createServer((conn) => {
      const decoder = new FrameDecoder();
      conn.on('data', (chunk) => {
        for (const frame of decoder.push(chunk)) script((frame as { calls: Call[] }).calls, conn);
      });
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(path, r));
    const client = await EnclaveRpcClient.connect(path, 10_000);

    script = (calls, conn) => {
      const ids = calls.map((c) => c.id);
      const [first, second] = [ids.slice(0, 16), ids.slice(16, 32)]; // ids.slice(32): no answer
      // The first piece in reverse order, then a repeat of its first id with another value,
      // an id never sent, and an error for an answered id: none of them may change anything.
      conn.write(encodeFrame({ results: first.reverse().map((id) => answer(id)) }));
      conn.write(
        encodeFrame({
          results: [
            answer(first.at(-1)!, 7),
            answer(999_999),
            { id: first[0]!, ok: false, error: { code: 'INTERNAL', message: 'x' } },
          ],
        }),
      );
      // The second piece with a duplicate inside the frame: the first of the two counts.
      conn.write(
        encodeFrame({
          results: [
            answer(second[0]!),
            answer(second[0]!, 7),
            ...second.slice(1).map((id) => answer(id)),
          ],
        }),
      );
      // Then the frame fails: the rest never gets an answer.
      conn.write(encodeFrame({ error: { code: 'FRAME_TOO_LARGE', message: 'x' } }));
    };
    const settled = await client.batch(
      Array.from({ length: 40 }, () => ({ method: 'enclave.status' as const, params: {} })),
    );
    const ids = Array.from({ length: 40 }, (_, i) => i + 1);
    for (const [i, s] of settled.entries()) {
      if (i < 32) {
        assert.equal(s.status, 'fulfilled', `call ${ids[i]}`);
        assert.equal((s.value as { boot_time: number }).boot_time, ids[i], 'its own result');
      } else {
        assert.equal(s.status, 'rejected');
        assert.ok(isEnclaveCallError(s.reason, 'ENCLAVE_UNAVAILABLE'));
      }
    }
    assert.equal(client.isOpen, false);
  });
});
