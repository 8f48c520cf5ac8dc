/**
 * The client's side of a sealed share: a fresh X25519 reply key per request (its public half is
 * the `reply_pub` the client sends), and opening what the enclave sealed to it.
 */
import { x25519 } from '@noble/curves/ed25519.js';
import { base64ToBytes, bytesToBase64 } from '../../protocol/encoding.js';
import type { X25519Recipient } from '../../protocol/envelope/primitives.js';
import { WalletError } from '../../protocol/wallet/errors.js';
import { openShare, type OpenedShare } from '../../protocol/wallet/sealed-share.js';
import { noblePrimitives } from '../noble-primitives.js';

export interface ReplyKeyPair {
  /** Keep it only until the reply is opened, then wipe it. */
  privateKey: Uint8Array;
  /** base64, the `reply_pub` field of the request. */
  replyPub: string;
}

export function newReplyKeyPair(): ReplyKeyPair {
  const privateKey = x25519.utils.randomSecretKey();
  return { privateKey, replyPub: bytesToBase64(x25519.getPublicKey(privateKey)) };
}

function recipientOf(privateKey: Uint8Array): X25519Recipient {
  if (!(privateKey instanceof Uint8Array) || privateKey.length !== 32)
    throw new WalletError('WALLET_SEALED_SHARE_INVALID');
  return {
    keyId: 'reply',
    publicKey: x25519.getPublicKey(privateKey),
    agree: (peer) => noblePrimitives.x25519(privateKey, peer),
    privateKey: () => privateKey,
  };
}

/** Opens one sealed share; throws WalletError('WALLET_SEALED_SHARE_INVALID') on any failure. */
export function openSealedShare(sealed: unknown, replyPrivateKey: Uint8Array): OpenedShare {
  return openShare(noblePrimitives, recipientOf(replyPrivateKey), sealed);
}

/** A share as bytes, from an opened share or its base64 (e.g. read back from storage). */
export function shareBytes(share: OpenedShare | Uint8Array | string): Uint8Array {
  if (typeof share === 'string') return base64ToBytes(share);
  return share instanceof Uint8Array ? share : share.share;
}
