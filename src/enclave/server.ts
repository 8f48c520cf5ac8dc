/**
 * The enclave's only I/O: one stream socket (a Unix socket here, vsock on Nitro) carrying
 * length-prefixed frames. Frames on a connection are answered in order. An undecodable frame
 * gets an error frame; an oversized length cannot be resynchronised, so that connection is
 * answered and closed. The enclave opens no other connection and runs no other server.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { RpcError } from '../protocol/rpc/errors.js';
import { FrameDecoder, encodeFrame } from '../protocol/rpc/frame.js';
import { dispatchFrame, toErrorBody } from './dispatcher.js';
import type { EnclaveState } from './state.js';
import { removeSocketFile, restrictSocketToOwner } from './platform/files.js';

function serveConnection(state: EnclaveState, conn: Socket): void {
  const decoder = new FrameDecoder();
  let queue: Promise<void> = Promise.resolve();
  conn.on('error', () => conn.destroy());
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
      queue = queue
        .then(() =>
          dispatchFrame(state, frame, (result) => {
            let bytes: Uint8Array;
            try {
              bytes = encodeFrame({ results: [result] });
            } catch {
              bytes = encodeFrame({
                results: [
                  { id: result.id, ok: false, error: new RpcError('FRAME_TOO_LARGE').toBody() },
                ],
              });
            }
            if (!conn.destroyed) conn.write(bytes);
          }),
        )
        .then(
          (response) => {
            let bytes: Uint8Array;
            try {
              bytes = encodeFrame(response);
            } catch {
              bytes = encodeFrame({ error: new RpcError('FRAME_TOO_LARGE').toBody() });
            }
            if (!conn.destroyed) conn.write(bytes);
          },
          () => {
            conn.destroy();
          },
        );
    }
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
