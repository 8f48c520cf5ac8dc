/**
 * Byte encodings shared by every zone: strict base64 / base64url / hex with exact lengths.
 *
 * "Strict" means canonical: padding required for base64, no whitespace, no trailing bits.
 * A lax decoder would let two different strings name the same bytes, which breaks replay
 * checks keyed on the string and signatures over re-serialized values. Pure, no `node:` imports.
 */
import { z } from 'zod';

const B64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const B64URL_RE = /^[A-Za-z0-9_-]*$/;
const HEX_RE = /^(?:[0-9a-f]{2})*$/;

/**
 * Node's Buffer when there is one (the host, the enclave, the CLI): its base64 is native code,
 * several times faster than btoa over a char-code string, which the browser keeps using.
 * Typed loosely so this module stays isomorphic (no Node types in the browser build).
 */
const NodeBuffer = (
  globalThis as {
    Buffer?: {
      from(
        data: ArrayBufferLike | string,
        offsetOrEncoding?: number | string,
        length?: number,
      ): Uint8Array & { toString(encoding: string): string };
    };
  }
).Buffer;

/** The portable encoder (browsers): btoa over a char-code string, in 32 KiB chunks. */
export function bytesToBase64Portable(bytes: Uint8Array): string {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin);
}

export function bytesToBase64(bytes: Uint8Array): string {
  return NodeBuffer
    ? NodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
    : bytesToBase64Portable(bytes);
}

/** The portable decoder (browsers), with the same checks as base64ToBytes. */
export function base64ToBytesPortable(s: string): Uint8Array {
  if (typeof s !== 'string' || !B64_RE.test(s)) throw new TypeError('invalid base64');
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  if (bytesToBase64Portable(out) !== s) throw new TypeError('non-canonical base64');
  return out;
}

/** Decodes canonical base64; throws TypeError on anything else. */
export function base64ToBytes(s: string): Uint8Array {
  if (!NodeBuffer) return base64ToBytesPortable(s);
  if (typeof s !== 'string' || !B64_RE.test(s)) throw new TypeError('invalid base64');
  // A plain Uint8Array of its own (not a Buffer, not a view into Buffer's shared pool).
  const decoded = NodeBuffer.from(s, 'base64');
  const out = new Uint8Array(decoded.length);
  out.set(decoded);
  // Reject non-zero trailing bits (e.g. "AB==" vs "AA=="), which both decoders ignore.
  if (bytesToBase64(out) !== s) throw new TypeError('non-canonical base64');
  return out;
}

export function bytesToBase64url(bytes: Uint8Array): string {
  return bytesToBase64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function base64urlToBytes(s: string): Uint8Array {
  if (typeof s !== 'string' || !B64URL_RE.test(s) || s.length % 4 === 1) {
    throw new TypeError('invalid base64url');
  }
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/');
  return base64ToBytes(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
}

/** The portable encoder (browsers). */
export function bytesToHexPortable(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

/** Lower-case hex; Node's Buffer where there is one (a leaf hash per log entry goes here). */
export function bytesToHex(bytes: Uint8Array): string {
  return NodeBuffer
    ? NodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
    : bytesToHexPortable(bytes);
}

export function hexToBytes(s: string): Uint8Array {
  if (typeof s !== 'string' || !HEX_RE.test(s)) throw new TypeError('invalid hex');
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

// One of each: both are stateless for one-shot calls (no `stream` option), and making one per
// call cost more than encoding a short string (every RPC frame, seal and MAC input goes here).
const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

export const utf8 = {
  encode: (s: string): Uint8Array => utf8Encoder.encode(s),
  /** As much of `s` as fits into `dest`: characters read, bytes written. */
  encodeInto: (s: string, dest: Uint8Array) => utf8Encoder.encodeInto(s, dest),
  decode: (b: Uint8Array): string => utf8Decoder.decode(b),
};

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Constant-time equality for equal-length byte strings (lengths are not secret here). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

export function isAllZero(bytes: Uint8Array): boolean {
  let acc = 0;
  for (const b of bytes) acc |= b;
  return acc === 0;
}

function decodesTo(s: string, decode: (s: string) => Uint8Array, check: (n: number) => boolean) {
  try {
    return check(decode(s).length);
  } catch {
    return false;
  }
}

/**
 * Canonical base64 of exactly `n` bytes as one regular expression, without decoding: the full
 * groups of 3 bytes, then for 1 byte left two characters and "==", the second with its low 4
 * bits zero (A, Q, g, w), for 2 bytes left three characters and "=", the third with its low 2
 * bits zero (every fourth of the alphabet). Those zero bits are what base64ToBytes' round trip
 * checks; tests compare the two on any string.
 */
export function base64OfLength(n: number): RegExp {
  const tail = ['', '[A-Za-z0-9+/][AQgw]==', '[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]='][n % 3]!;
  return new RegExp(`^(?:[A-Za-z0-9+/]{4}){${Math.floor(n / 3)}}${tail}$`);
}

/** zod: canonical base64 string whose decoded length is exactly `n` bytes. */
export const base64Bytes = (n: number) => {
  const re = base64OfLength(n);
  return z
    .string()
    .max(Math.ceil(n / 3) * 4)
    .refine((s) => re.test(s), {
      message: `must be canonical base64 of exactly ${n} bytes`,
    });
};

/** zod: canonical base64 string decoding to between `min` and `max` bytes. */
export const base64Range = (min: number, max: number) =>
  z
    .string()
    .max(Math.ceil(max / 3) * 4)
    .refine((s) => decodesTo(s, base64ToBytes, (len) => len >= min && len <= max), {
      message: `must be canonical base64 of ${min} to ${max} bytes`,
    });

export const base64urlBytes = (n: number) =>
  z
    .string()
    .max(Math.ceil((n * 4) / 3))
    .refine((s) => decodesTo(s, base64urlToBytes, (len) => len === n), {
      message: `must be base64url of exactly ${n} bytes`,
    });

export const hexBytes = (n: number) =>
  z
    .string()
    .length(2 * n)
    .regex(/^[0-9a-f]+$/, { message: 'must be lowercase hex' });
