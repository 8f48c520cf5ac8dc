/**
 * The enclave's only I/O: one stream socket (a Unix socket here, vsock on Nitro) carrying
 * length-prefixed frames. Frames on a connection are answered in order, and a connection is read
 * only while few of its frames wait (MAX_PENDING_FRAMES) and the host reads the answers. An
 * undecodable frame gets an error frame; an oversized length cannot be resynchronised, so that
 * connection is answered and closed. The enclave opens no other connection and runs no other server.
 */
import { createServer, type Server } from 'node:net';
import type { Duplex } from 'node:stream';
import { RpcError } from '../protocol/rpc/errors.js';
import { FrameDecoder, encodeFrame, encodeFrames, type Result } from '../protocol/rpc/frame.js';
import { dispatchFrame, toErrorBody } from './dispatcher.js';
import type { EnclaveState } from './state.js';
import { removeSocketFile, restrictSocketToOwner } from './platform/files.js';

/**
 * Results as frames: one, unless together they are over MAX_FRAME_BYTES; then halved until a
 * result too large for any frame is alone, and that one alone becomes an error for its id. A
 * frame-level error instead (as before) made the host drop the connection, and with it the
 * enclave's in-memory state, and failed every call whose result shared the frame.
 */
function encodeResults(results: readonly Result[]): Uint8Array[] {
  return encodeFrames(
    results,
    (part) => ({ results: part }),
    (r, code) =>
      encodeFrame({ results: [{ id: r.id, ok: false, error: new RpcError(code).toBody() }] }),
  );
}

/** Results sent ahead of the rest of their request frame (detached or partial), or its last. */
function sendResults(conn: Duplex, results: Result[]): void {
  for (const bytes of encodeResults(results)) if (!conn.destroyed) conn.write(bytes);
}

/**
 * Frames of one connection read and not yet answered, at most; and none are read while answers
 * wait for the host to read them. Past that the connection is paused, so a host that sends
 * faster than the enclave answers, or never reads, fills its own socket buffer, not enclave memory.
 */
export const MAX_PENDING_FRAMES = 4;

export function serveConnection(state: EnclaveState, conn: Duplex): void {
  const decoder = new FrameDecoder();
  const send = (results: Result[]) => sendResults(conn, results);
  let queue: Promise<void> = Promise.resolve();
  let pending = 0;
  /** Reads on only while few frames wait and the host reads the answers (MAX_PENDING_FRAMES). */
  const flow = () => {
    if (conn.destroyed) return;
    if (pending >= MAX_PENDING_FRAMES || conn.writableNeedDrain) conn.pause();
    else if (conn.isPaused()) conn.resume();
  };
  conn.on('error', () => conn.destroy());
  conn.on('drain', flow);
  conn.on('data', (chunk) => {
    let frames: unknown[];
    try {
      frames = decoder.push(chunk);
    } catch (err) {
      const body = toErrorBody(err);
      conn.end(encodeFrame({ error: body }));
      return;
    }
    for (const frame of frames) {
      pending++;
      queue = queue
        .then(() =>
          dispatchFrame(
            state,
            frame,
            (result) => send([result]),
            (results) => send(results),
          ),
        )
        .then(
          (response) => {
            if ('results' in response) sendResults(conn, response.results);
            else if (!conn.destroyed) conn.write(encodeFrame(response));
          },
          () => {
            conn.destroy();
          },
        )
        .then(() => {
          pending--;
          flow();
        });
    }
    flow();
  });
}

export async function serveEnclave(state: EnclaveState, socketPath: string): Promise<Server> {
  removeSocketFile(socketPath);
  const server = createServer((conn) => serveConnection(state, conn));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  restrictSocketToOwner(socketPath);
  return server;
}
