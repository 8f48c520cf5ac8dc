/**
 * The sealed share: how the enclave returns a device or recovery share to the client that asked
 * for it (docs/protocol/wallet-shares.md). The construction is credential envelope v1's with
 * its own HKDF info ("cloister/wallet-share/v1") and the client's fresh `reply_pub` as recipient:
 *   key = HKDF-SHA256(X25519(ephemeral, reply_pub), salt = ephemeral_pub ‖ reply_pub, info, 32)
 *   ciphertext ‖ tag = AES-256-GCM(key, nonce, JSON plaintext), no associated data.
 * The different info keeps a sealed share from ever opening as a credential envelope and back.
 */
import { z } from 'zod';
import { base64Bytes, base64Range, base64ToBytes, bytesToBase64, utf8 } from '../encoding.js';
import { openEnvelopeV1, sealEnvelopeV1 } from '../envelope/v1.js';
import type { EnvelopePrimitives, X25519Recipient } from '../envelope/primitives.js';
import {
  CLIENT_SHARE_KINDS,
  SEALED_SHARE_INFO,
  WALLET_SHARE_BYTES,
  WALLET_SHARES,
  WALLET_THRESHOLD,
} from './constants.js';
import { WalletError } from './errors.js';

/** Wallet ids are UUIDs, written in lowercase (the host assigns them). */
export const WalletIdSchema = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);

export const GenerationSchema = z
  .number()
  .int()
  .min(1)
  .max(2 ** 31);

/** The share plaintext is ~200 bytes; this bound refuses anything else before decrypting. */
const MAX_SEALED_PLAINTEXT = 1024;

export const SealedShareSchema = z
  .object({
    ephemeral_pub: base64Bytes(32),
    nonce: base64Bytes(12),
    ciphertext: base64Range(1, MAX_SEALED_PLAINTEXT),
    tag: base64Bytes(16),
  })
  .strict();
export type SealedShare = z.infer<typeof SealedShareSchema>;

export const SharePlaintextSchema = z
  .object({
    wallet_id: WalletIdSchema,
    kind: z.enum(CLIENT_SHARE_KINDS),
    share: base64Bytes(WALLET_SHARE_BYTES),
    threshold: z.literal(WALLET_THRESHOLD),
    shares: z.literal(WALLET_SHARES),
    generation: GenerationSchema,
  })
  .strict();
export type SharePlaintext = z.infer<typeof SharePlaintextSchema>;

/** Seals one share plaintext to `replyPub` (32-byte X25519). */
export function sealShare(
  prims: EnvelopePrimitives,
  replyPub: Uint8Array,
  plaintext: SharePlaintext,
  /** Worked examples only: fixed ephemeral scalar and nonce. */
  fixed: { ephemeralPrivateKey?: Uint8Array; nonce?: Uint8Array } = {},
): SealedShare {
  const bytes = utf8.encode(JSON.stringify(SharePlaintextSchema.parse(plaintext)));
  try {
    const { ephemeral_pub, nonce, ciphertext, tag } = sealEnvelopeV1(prims, replyPub, bytes, {
      ...fixed,
      info: SEALED_SHARE_INFO,
    });
    return { ephemeral_pub, nonce, ciphertext, tag };
  } finally {
    bytes.fill(0);
  }
}

/** The opened share: the plaintext fields, and the share as bytes the caller wipes. */
export interface OpenedShare extends Omit<SharePlaintext, 'share'> {
  share: Uint8Array;
}

/** Opens a sealed share; one error code for every failure (shape, key, tag, plaintext). */
export function openShare(
  prims: EnvelopePrimitives,
  recipient: X25519Recipient,
  sealed: unknown,
): OpenedShare {
  const env = SealedShareSchema.safeParse(sealed);
  if (!env.success) throw new WalletError('WALLET_SEALED_SHARE_INVALID');
  let bytes: Uint8Array | undefined;
  try {
    bytes = openEnvelopeV1(prims, recipient, env.data, SEALED_SHARE_INFO);
    const parsed = SharePlaintextSchema.parse(JSON.parse(utf8.decode(bytes)));
    return { ...parsed, share: base64ToBytes(parsed.share) };
  } catch {
    throw new WalletError('WALLET_SEALED_SHARE_INVALID');
  } finally {
    bytes?.fill(0);
  }
}

export function shareToBase64(share: Uint8Array): string {
  return bytesToBase64(share);
}
