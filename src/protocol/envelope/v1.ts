/**
 * Credential envelope v1 (docs/protocol/envelope-v1.md), the seed's format:
 *   key = HKDF-SHA256(IKM = X25519(eph, enclave), salt = ephemeral_pub ‖ enclave_pub,
 *                     info = "cloister/credentials/v1", L = 32)
 *   ciphertext ‖ tag = AES-256-GCM(key, nonce, plaintext), no associated data.
 * A fresh ephemeral key per envelope makes the derived key single-use, so the random 96-bit
 * nonce never repeats under one key.
 */
import { z } from 'zod';
import {
  base64Bytes,
  base64Range,
  base64ToBytes,
  bytesToBase64,
  concatBytes,
  isAllZero,
  utf8,
} from '../encoding.js';
import { KeyIdSchema } from '../key-id.js';
import { MAX_CREDENTIAL_PLAINTEXT_BYTES } from '../credentials.js';
import { EnvelopeError } from './errors.js';
import type { EnvelopePrimitives, X25519Recipient } from './primitives.js';

export const ENVELOPE_V1_ALG = 'X25519-HKDF-SHA256-A256GCM';
export const ENVELOPE_V1_INFO = utf8.encode('cloister/credentials/v1');

export const EnvelopeV1Schema = z
  .object({
    alg: z.literal(ENVELOPE_V1_ALG).optional(),
    ephemeral_pub: base64Bytes(32),
    nonce: base64Bytes(12),
    ciphertext: base64Range(1, MAX_CREDENTIAL_PLAINTEXT_BYTES),
    tag: base64Bytes(16),
    key_id: KeyIdSchema.optional(),
  })
  .strict();
export type EnvelopeV1 = z.infer<typeof EnvelopeV1Schema>;

export function deriveEnvelopeKeyV1(
  prims: Pick<EnvelopePrimitives, 'hkdfSha256'>,
  shared: Uint8Array,
  ephemeralPub: Uint8Array,
  recipientPub: Uint8Array,
  info: Uint8Array = ENVELOPE_V1_INFO,
): Uint8Array {
  // RFC 7748 §6.1: an all-zero output means a low-order peer point; refuse it.
  if (shared.length !== 32 || isAllZero(shared)) throw new EnvelopeError('ENVELOPE_INVALID');
  return prims.hkdfSha256(shared, concatBytes(ephemeralPub, recipientPub), info, 32);
}

export interface SealV1Options {
  keyId?: string;
  /** HKDF info; another format on the same construction (the wallet's sealed share) sets its own. */
  info?: Uint8Array;
  /** Test vectors only: fixed ephemeral scalar and nonce. */
  ephemeralPrivateKey?: Uint8Array;
  nonce?: Uint8Array;
}

export function sealEnvelopeV1(
  prims: EnvelopePrimitives,
  recipientPub: Uint8Array,
  plaintext: Uint8Array,
  opts: SealV1Options = {},
): EnvelopeV1 {
  if (recipientPub.length !== 32) throw new RangeError('recipientPub must be 32 bytes');
  const ephPriv = opts.ephemeralPrivateKey ?? prims.randomBytes(32);
  const ephPub = prims.x25519PublicKey(ephPriv);
  const shared = prims.x25519(ephPriv, recipientPub);
  const key = deriveEnvelopeKeyV1(prims, shared, ephPub, recipientPub, opts.info);
  const nonce = opts.nonce ?? prims.randomBytes(12);
  try {
    const { ciphertext, tag } = prims.aesGcmSeal(key, nonce, plaintext);
    return {
      alg: ENVELOPE_V1_ALG,
      ephemeral_pub: bytesToBase64(ephPub),
      nonce: bytesToBase64(nonce),
      ciphertext: bytesToBase64(ciphertext),
      tag: bytesToBase64(tag),
      ...(opts.keyId ? { key_id: opts.keyId } : {}),
    };
  } finally {
    shared.fill(0);
    key.fill(0);
    if (!opts.ephemeralPrivateKey) ephPriv.fill(0);
  }
}

/** Returns the plaintext; the caller owns it and must wipe it. */
export function openEnvelopeV1(
  prims: EnvelopePrimitives,
  recipient: X25519Recipient,
  env: Pick<EnvelopeV1, 'ephemeral_pub' | 'nonce' | 'ciphertext' | 'tag'>,
  info: Uint8Array = ENVELOPE_V1_INFO,
): Uint8Array {
  const ephPub = base64ToBytes(env.ephemeral_pub);
  let shared: Uint8Array | undefined;
  let key: Uint8Array | undefined;
  try {
    shared = recipient.agree(ephPub);
    key = deriveEnvelopeKeyV1(prims, shared, ephPub, recipient.publicKey, info);
    return prims.aesGcmOpen(
      key,
      base64ToBytes(env.nonce),
      base64ToBytes(env.ciphertext),
      base64ToBytes(env.tag),
    );
  } catch {
    // One code for every failure (bad point, zero secret, wrong tag): no oracle.
    throw new EnvelopeError('ENVELOPE_INVALID');
  } finally {
    shared?.fill(0);
    key?.fill(0);
  }
}
