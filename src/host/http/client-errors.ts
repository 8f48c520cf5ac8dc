/**
 * Answers to connections whose bytes never became a request (Fastify's `clientErrorHandler`, on
 * Node's `clientError`): unparseable HTTP (400), a header block over Node's limit (431), chunk
 * extensions over it (413), a request not received within `requestTimeout` (408). There is no
 * request, so no hook runs: the security headers (http/security-headers.ts) and the error body
 * every other error has (`errorBody`) are written here. Nothing of the request's bytes (Node keeps
 * them on the error, `rawPacket`) is answered or logged: the `err` serializer writes its type
 * and code only.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import { HTTP_ERRORS, errorBody, type HttpErrorCode } from '../errors.js';

/** Node's error codes that are not a malformed request (that is every other one). */
const CODES: Readonly<Record<string, HttpErrorCode>> = {
  HPE_HEADER_OVERFLOW: 'HEADERS_TOO_LARGE',
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 'BODY_TOO_LARGE',
  ERR_HTTP_REQUEST_TIMEOUT: 'REQUEST_TIMEOUT',
};

/** The raw HTTP/1.1 answer for `code`, with `headers`; the connection is closed after it. */
function rawAnswer(code: HttpErrorCode, headers: Readonly<Record<string, string>>): Buffer {
  const status = HTTP_ERRORS[code][0];
  const body = Buffer.from(JSON.stringify(errorBody(code)));
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`,
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
    'content-type: application/json; charset=utf-8',
    `content-length: ${body.length}`,
    'connection: close',
  ];
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), body]);
}

/** Fastify's `clientErrorHandler`: answers with `headers` (the app's security headers). */
export function clientErrorHandler(
  headers: Readonly<Record<string, string>>,
  log: FastifyBaseLogger,
): (err: Error & { code?: string }, socket: Socket) => void {
  // A handful of answers, the same bytes every time: built once each.
  const answers = new Map<HttpErrorCode, Buffer>();
  return (err, socket) => {
    // A reset connection has no one to answer (as in Node's and Fastify's own handlers).
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const code = CODES[err.code ?? ''] ?? 'REQUEST_MALFORMED';
    log.debug({ err, code }, 'client error: answered on the socket');
    // Not into the middle of an answer already under way on this connection (a pipelined
    // request's), as Node's own handler.
    const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (socket.writable && inFlight?.headersSent !== true) {
      let answer = answers.get(code);
      if (!answer) answers.set(code, (answer = rawAnswer(code, headers)));
      socket.write(answer);
    }
    socket.destroy(err);
  };
}
