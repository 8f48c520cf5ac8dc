/**
 * HTTP/1.1 over a raw TCP socket (node:net), for what no HTTP client sends: a malformed request
 * line, an oversized header block, a request written while the server closes.
 */
import { connect } from 'node:net';

export interface RawResponse {
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: string;
}

/** The responses in `bytes`, in order (each sized by its content-length, else to the end). */
export function parseResponses(bytes: Buffer): RawResponse[] {
  const text = bytes.toString('latin1');
  const out: RawResponse[] = [];
  let at = 0;
  while (at < text.length) {
    const end = text.indexOf('\r\n\r\n', at);
    if (end < 0) throw new Error(`an incomplete response: ${JSON.stringify(text.slice(at))}`);
    const [statusLine, ...lines] = text.slice(at, end).split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const length = headers['content-length'];
    const bodyEnd = length === undefined ? text.length : end + 4 + Number(length);
    out.push({
      status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1]),
      headers,
      body: Buffer.from(text.slice(end + 4, bodyEnd), 'latin1').toString('utf8'),
    });
    at = bodyEnd;
  }
  return out;
}

export interface RawConnection {
  write(text: string): void;
  /** Everything the server sent, once it closed the connection. */
  closed: Promise<Buffer>;
}

export function rawConnection(port: number, host = '127.0.0.1'): RawConnection {
  const socket = connect(port, host);
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  const closed = new Promise<Buffer>((resolve) => {
    // A reset after the answer (the server closes with request bytes unread) still counts.
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(Buffer.concat(chunks)));
  });
  return { write: (text) => void socket.write(text, 'latin1'), closed };
}

/** Sends `request` on a new connection; the responses, once the server closed it. */
export async function rawExchange(port: number, request: string): Promise<RawResponse[]> {
  const c = rawConnection(port);
  c.write(request);
  return parseResponses(await c.closed);
}
