/**
 * Availability attack review of the host's enclave client (SECURITY.md, "Availability: attack
 * review"). Calls of many requests share a frame: one request whose params cannot be framed
 * (nested deeper than JSON.stringify goes, or too large together with the rest) must fail alone,
 * not every call coalesced with it. And while the enclave does not read (its flow control pauses
 * a connection whose frames wait), new calls are refused with ENCLAVE_BUSY once more than
 * `maxBufferedBytes` wait in the socket, instead of piling up in host memory; the heartbeat and
 * the log's appends still go out. The HTTP answer is 503 ENCLAVE_BUSY with Retry-After.
 * Played by a scripted socket peer.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Fastify from 'fastify';
import { dispatchFrame } from '../../src/enclave/dispatcher.js';
import { EnclaveCallError, EnclaveRpcClient } from '../../src/host/enclave-client/rpc-client.js';
import { installErrorHandler } from '../../src/host/http/error-handler.js';
import { FrameDecoder, encodeFrame, type Call } from '../../src/protocol/rpc/frame.js';
import { testEnclave } from '../helpers/enclave-state.js';

const servers: Server[] = [];
after(() => servers.forEach((s) => s.close()));

/** A peer on a fresh socket; `onConn` gets each connection. */
async function peer(onConn: (conn: Socket) => void): Promise<string> {
  const path = join(mkdtempSync(join(tmpdir(), 'cloister-rpc-')), 's.sock');
  const server = createServer(onConn);
  servers.push(server);
  await new Promise<void>((r) => server.listen(path, r));
  return path;
}

/** A peer that answers every call with a genuine enclave.status result; counts frames. */
async function answeringPeer(): Promise<{ path: string; frames: Call[][] }> {
  const r = await dispatchFrame(testEnclave().state, {
    calls: [{ id: 1, method: 'enclave.status', params: {} }],
  });
  assert.ok('results' in r && r.results[0]!.ok);
  const status = (r.results[0] as { result: unknown }).result;
  const frames: Call[][] = [];
  const path = await peer((conn) => {
    const decoder = new FrameDecoder();
    conn.on('data', (chunk) => {
      for (const f of decoder.push(chunk)) {
        const calls = (f as { calls: Call[] }).calls;
        frames.push(calls);
        conn.write(
          encodeFrame({ results: calls.map((c) => ({ id: c.id, ok: true, result: status })) }),
        );
      }
    });
  });
  return { path, frames };
}

const codeOf = (s: PromiseSettledResult<unknown>) =>
  s.status === 'rejected' ? (s.reason as EnclaveCallError).code : 'ok';

describe('host enclave client under abuse', () => {
  it('a call nested too deep to encode fails alone, not the calls framed with it', async () => {
    const { path, frames } = await answeringPeer();
    const client = await EnclaveRpcClient.connect(path, 10_000);
    // What an unauthenticated POST /auth/passkeys/login/verify forwards (z.record of unknown):
    // 20 KB of JSON, which JSON.parse and zod accept and JSON.stringify cannot write.
    const deep = JSON.parse(`{"id":"x","a":${'['.repeat(10_000)}${']'.repeat(10_000)}}`);
    const calls = Array.from({ length: 9 }, (_, i) =>
      i === 4
        ? client.call('auth.passkey_login_verify', { response: deep, credential: null })
        : client.call('enclave.status', {}),
    );
    const codes = (await Promise.allSettled(calls)).map(codeOf);
    assert.deepEqual(codes, ['ok', 'ok', 'ok', 'ok', 'FRAME_INVALID', 'ok', 'ok', 'ok', 'ok']);
    assert.equal(frames.flat().length, 8, 'the bad call is not sent');
    client.close();
  });

  it('calls over the frame limit together are split; one over it alone fails alone', async () => {
    const { path, frames } = await answeringPeer();
    const client = await EnclaveRpcClient.connect(path, 10_000);
    // Five 3 MiB params (each can be framed, not all together) and one of 9 MiB.
    const big = (n: number) => ({
      response: { id: 'x'.repeat(n * 1024 * 1024) },
      credential: null,
    });
    const calls = [3, 3, 9, 3, 3, 3].map((n) =>
      client.call('auth.passkey_login_verify', big(n) as never).then(
        () => 'ok',
        (e: EnclaveCallError) => e.code,
      ),
    );
    // The peer answers with status results, which fail this method's result schema: INTERNAL
    // means the call was sent and answered.
    assert.deepEqual(await Promise.all(calls), [
      'INTERNAL',
      'INTERNAL',
      'FRAME_TOO_LARGE',
      'INTERNAL',
      'INTERNAL',
      'INTERNAL',
    ]);
    assert.equal(frames.flat().length, 5);
    client.close();
  });

  it('refuses new calls with ENCLAVE_BUSY while the enclave reads nothing', async () => {
    const conns: Socket[] = [];
    // A peer that never reads: the enclave's flow control paused this connection.
    const path = await peer((conn) => {
      conn.pause();
      conns.push(conn);
    });
    const limit = 1024 * 1024;
    const client = await EnclaveRpcClient.connect(path, 60_000, limit);
    const socket = (client as unknown as { socket: Socket }).socket;
    const params = { response: { id: 'x'.repeat(256 * 1024) }, credential: null };
    const settled: Promise<string>[] = [];
    for (let i = 0; i < 64; i++) {
      settled.push(
        client.call('auth.passkey_login_verify', params as never).then(
          () => 'ok',
          (e: EnclaveCallError) => e.code,
        ),
      );
      await new Promise((r) => setImmediate(r)); // each call flushed in a turn of its own
    }
    // 16 MiB were asked for; the kernel takes a little, the rest stays in host memory.
    assert.ok(socket.writableLength <= limit + 300 * 1024, String(socket.writableLength));
    // The heartbeat and the log's appends are the host's own: still sent.
    for (const method of ['enclave.status', 'log.append'] as const) {
      const p = client.call(method, {} as never).catch((e: EnclaveCallError) => e.code);
      await new Promise((r) => setImmediate(r));
      assert.notEqual(await Promise.race([p, Promise.resolve('pending')]), 'ENCLAVE_BUSY');
    }
    client.close();
    const codes = await Promise.all(settled);
    const busy = codes.filter((c) => c === 'ENCLAVE_BUSY').length;
    assert.ok(busy >= 32, `only ${busy} refused: ${codes.join(',')}`);
    assert.equal(codes.filter((c) => c === 'ENCLAVE_UNAVAILABLE').length, 64 - busy);
    conns.forEach((c) => c.destroy());
  });

  it('ENCLAVE_BUSY is answered 503 with Retry-After', async () => {
    const app = Fastify();
    installErrorHandler(app, () => 7, { onDenied: () => undefined, onCode: () => undefined });
    app.get('/x', async () => {
      throw new EnclaveCallError('ENCLAVE_BUSY');
    });
    const res = await app.inject({ method: 'GET', url: '/x' });
    assert.equal(res.statusCode, 503);
    assert.equal(res.json().error.code, 'ENCLAVE_BUSY');
    assert.equal(res.headers['retry-after'], '1');
    await app.close();
  });
});
