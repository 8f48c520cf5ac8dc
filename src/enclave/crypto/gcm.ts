/**
 * AES-GCM with one byte layout, `nonce (12) ‖ ciphertext ‖ tag (16)`, a random nonce per seal.
 * Used for every enclave-internal blob (sealed state, sealed password hashes, sealed refresh
 * responses), so the layout is written once instead of hand-sliced at each use.
 */
import { nodePrimitives } from './node-primitives.js';

export const GCM_NONCE_BYTES = 12;
export const GCM_TAG_BYTES = 16;

export function gcmSeal(key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  const nonce = nodePrimitives.randomBytes(GCM_NONCE_BYTES);
  const { ciphertext, tag } = nodePrimitives.aesGcmSeal(key, nonce, plaintext, aad);
  const out = new Uint8Array(nonce.length + ciphertext.length + tag.length);
  out.set(nonce);
  out.set(ciphertext, nonce.length);
  out.set(tag, nonce.length + ciphertext.length);
  return out;
}

/** The plaintext (caller wipes); throws on a short input or a tag that does not verify. */
export function gcmOpen(key: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array {
  if (sealed.length < GCM_NONCE_BYTES + GCM_TAG_BYTES) throw new RangeError('sealed too short');
  return nodePrimitives.aesGcmOpen(
    key,
    sealed.subarray(0, GCM_NONCE_BYTES),
    sealed.subarray(GCM_NONCE_BYTES, -GCM_TAG_BYTES),
    sealed.subarray(-GCM_TAG_BYTES),
    aad,
  );
}
