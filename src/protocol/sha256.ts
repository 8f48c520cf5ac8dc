/**
 * SHA-256 for every zone, one definition: node:crypto's one-shot `hash` where the runtime has it
 * (the host, the enclave, the CLI, the SDK under Node), @noble/hashes elsewhere (browsers).
 * Both are SHA-256 (FIPS 180-4), so the bytes are the same; the native one costs ~30–40 % less
 * CPU per call on the 100–300-byte inputs of the transparency log, which hashes one leaf and
 * about one node per entry on each side (bench/README.md, log-append).
 *
 * No `node:` import, so this module stays isomorphic (scripts/check-zones.mjs): Node's crypto is
 * taken from `process.getBuiltinModule` at load when there is one, as encoding.ts takes Node's
 * Buffer. A bundler for the browser sees no import to resolve and leaves the fallback in.
 */
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';

type NativeHash = (algorithm: 'sha256', data: Uint8Array, outputEncoding: 'buffer') => Uint8Array;

const nativeHash = (
  (
    globalThis as {
      process?: { getBuiltinModule?: (id: string) => { hash?: NativeHash } | undefined };
    }
  ).process?.getBuiltinModule?.('node:crypto') as { hash?: NativeHash } | undefined
)?.hash;

/** The portable SHA-256 (browsers): @noble/hashes. */
export function sha256Portable(data: Uint8Array): Uint8Array {
  return nobleSha256(data);
}

/** SHA-256 of `data`: a plain Uint8Array of 32 bytes of its own (not a Buffer). */
export function sha256(data: Uint8Array): Uint8Array {
  if (!nativeHash) return nobleSha256(data);
  // As @noble refuses anything but bytes: node:crypto would hash a string's UTF-8 instead.
  if (!(data instanceof Uint8Array)) throw new TypeError('sha256: expected a Uint8Array');
  const d = nativeHash('sha256', data, 'buffer');
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/** Whether `sha256` is the native one here (the property test checks it is under Node). */
export const SHA256_NATIVE = nativeHash !== undefined;
