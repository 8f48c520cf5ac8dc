/**
 * Host↔enclave framing (docs/protocol/enclave-rpc.md): a 4-byte big-endian length, then that
 * many bytes of UTF-8 JSON. The length is checked against the limit before any byte of the body
 * is buffered or parsed, so a hostile peer cannot make the other side allocate or parse more.
 */
import { z } from 'zod';
import { utf8 } from '../encoding.js';
import { RpcError } from './errors.js';

export const MAX_FRAME_BYTES = 8 * 1024 * 1024;
export const MAX_CALLS_PER_FRAME = 1024;

export const CallSchema = z
  .object({
    id: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
    method: z.string().max(64),
    params: z.unknown(),
  })
  .strict();
export type Call = z.infer<typeof CallSchema>;

export const RequestFrameSchema = z
  .object({ calls: z.array(CallSchema).min(1).max(MAX_CALLS_PER_FRAME) })
  .strict();
export type RequestFrame = z.infer<typeof RequestFrameSchema>;

const ErrorBodySchema = z.object({ code: z.string(), message: z.string() }).strict();

export const ResultSchema = z.discriminatedUnion('ok', [
  z.object({ id: z.number().int(), ok: z.literal(true), result: z.unknown() }).strict(),
  z.object({ id: z.number().int(), ok: z.literal(false), error: ErrorBodySchema }).strict(),
]);
export type Result = z.infer<typeof ResultSchema>;

export const ResponseFrameSchema = z.union([
  z.object({ results: z.array(ResultSchema) }).strict(),
  /** A frame that could not be decoded at all: no ids to answer. */
  z.object({ error: ErrorBodySchema }).strict(),
]);
export type ResponseFrame = z.infer<typeof ResponseFrameSchema>;

export function encodeFrame(value: unknown, maxBytes = MAX_FRAME_BYTES): Uint8Array {
  const json = JSON.stringify(value) as string | undefined;
  if (json === undefined) throw new RpcError('FRAME_INVALID'); // undefined, a function, a symbol
  // At least one byte per character: a longer text cannot fit.
  if (json.length > maxBytes) throw new RpcError('FRAME_TOO_LARGE');
  // Frames are ASCII but for the odd string value: encoded straight behind the length prefix,
  // one buffer instead of the UTF-8 bytes and then their copy (issue 17: an auth.refresh frame
  // carries ~1.8 KB per result). A character outside ASCII takes 2-4 bytes, so the text only
  // fits `json.length` bytes when it is all ASCII; otherwise it is encoded the general way.
  let out = new Uint8Array(4 + json.length);
  const done = utf8.encodeInto(json, out.subarray(4));
  let length = done.written;
  if (done.read !== json.length) {
    const body = utf8.encode(json);
    if (body.length > maxBytes) throw new RpcError('FRAME_TOO_LARGE');
    length = body.length;
    out = new Uint8Array(4 + length);
    out.set(body, 4);
  }
  new DataView(out.buffer).setUint32(0, length, false);
  return out;
}

/** Why one item could not be encoded in a frame, even alone. */
export type FrameEncodeFailure = 'FRAME_TOO_LARGE' | 'FRAME_INVALID';

/**
 * Encodes `items` (a frame's calls, or its results) in as few frames as it can: all of them in
 * one (`wrap(items)`), encoded once on the common path; when that cannot be encoded (over
 * `maxBytes` together, or an item nested too deep for JSON.stringify), halved until the item at
 * fault is alone, and `alone(item, code)` says what goes out instead of it (a frame, or null for
 * nothing). So one item never costs the others their frame, on either side of the socket: the
 * host's client for calls, the enclave's server for results (matched by id, in whatever frame).
 */
export function encodeFrames<T>(
  items: readonly T[],
  wrap: (items: readonly T[]) => unknown,
  alone: (item: T, code: FrameEncodeFailure) => Uint8Array | null,
  maxBytes = MAX_FRAME_BYTES,
): Uint8Array[] {
  try {
    return [encodeFrame(wrap(items), maxBytes)];
  } catch (err) {
    if (items.length <= 1) {
      const tooLarge = err instanceof RpcError && err.code === 'FRAME_TOO_LARGE';
      const out =
        items.length === 0
          ? null
          : alone(items[0]!, tooLarge ? 'FRAME_TOO_LARGE' : 'FRAME_INVALID');
      return out === null ? [] : [out];
    }
    const half = Math.ceil(items.length / 2);
    return [
      ...encodeFrames(items.slice(0, half), wrap, alone, maxBytes),
      ...encodeFrames(items.slice(half), wrap, alone, maxBytes),
    ];
  }
}

/**
 * Incremental decoder for a byte stream. `push` returns the complete frame bodies parsed as
 * JSON (`unknown`: the caller validates). A length over the limit or bytes that are not JSON
 * throw RpcError; after FRAME_TOO_LARGE the stream cannot be resynchronised and must be closed.
 *
 * A frame that lies within one chunk is parsed from a view of it (no copy: the common case). One
 * that spans chunks is copied into a buffer of its announced length as its bytes arrive, so what
 * the decoder holds is bounded by the frame's bytes, however the peer cuts them: keeping every
 * chunk until the frame was complete let a peer that sent a frame a byte at a time make the
 * other side hold one object per byte (~100 bytes each, gigabytes for one 8 MiB frame).
 */
export class FrameDecoder {
  /** The bytes of a length prefix cut across chunks, and how many are in. */
  private readonly head = new Uint8Array(4);
  private headBytes = 0;
  /** The body of the frame being assembled across chunks, and how much of it is in. */
  private body: Uint8Array | null = null;
  private filled = 0;
  constructor(private readonly maxBytes = MAX_FRAME_BYTES) {}

  push(chunk: Uint8Array): unknown[] {
    const frames: unknown[] = [];
    let off = 0;
    while (off < chunk.length) {
      if (this.body) {
        const k = Math.min(this.body.length - this.filled, chunk.length - off);
        this.body.set(chunk.subarray(off, off + k), this.filled);
        this.filled += k;
        off += k;
        if (this.filled < this.body.length) break;
        const body = this.body;
        this.body = null;
        frames.push(parseBody(body));
        continue;
      }
      let len: number;
      if (this.headBytes === 0 && chunk.length - off >= 4) {
        len = new DataView(chunk.buffer, chunk.byteOffset + off, 4).getUint32(0, false);
        off += 4;
      } else {
        const k = Math.min(4 - this.headBytes, chunk.length - off);
        this.head.set(chunk.subarray(off, off + k), this.headBytes);
        this.headBytes += k;
        off += k;
        if (this.headBytes < 4) break;
        this.headBytes = 0;
        len = new DataView(this.head.buffer).getUint32(0, false);
      }
      if (len > this.maxBytes) throw new RpcError('FRAME_TOO_LARGE');
      if (chunk.length - off >= len) {
        // Within this chunk: a view, not a copy. Only read, at once (decode and JSON.parse).
        frames.push(parseBody(chunk.subarray(off, off + len)));
        off += len;
      } else {
        this.body = new Uint8Array(len);
        this.filled = 0;
      }
    }
    return frames;
  }
}

function parseBody(body: Uint8Array): unknown {
  try {
    return JSON.parse(utf8.decode(body));
  } catch {
    throw new RpcError('FRAME_INVALID');
  }
}
