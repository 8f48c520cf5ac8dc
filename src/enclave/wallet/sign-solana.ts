/**
 * Solana signing: ed25519 (RFC 8032, @noble/curves) over the message bytes, the signature in
 * base58. A transaction must name the wallet's address among its signers; a plain message must
 * NOT parse as a transaction message, or `sol_message` would sign transactions past the policy.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { base58 } from '@scure/base';
import { base64ToBytes, bytesEqual } from '../../protocol/encoding.js';
import { WalletError } from '../../protocol/wallet/errors.js';
import {
  isSolanaTransactionMessage,
  parseSolanaMessage,
} from '../../protocol/wallet/solana-message.js';

export function signSolanaMessage(
  privateKey: Uint8Array,
  messageB64: string,
): { signature: string } {
  const message = base64ToBytes(messageB64);
  if (isSolanaTransactionMessage(message)) throw new WalletError('WALLET_REQUEST_INVALID');
  return { signature: base58.encode(ed25519.sign(message, privateKey)) };
}

export function signSolanaTransaction(
  privateKey: Uint8Array,
  publicKey: Uint8Array,
  messageB64: string,
): { signature: string } {
  const message = base64ToBytes(messageB64);
  let signers: Uint8Array[];
  try {
    signers = parseSolanaMessage(message).signers;
  } catch {
    throw new WalletError('WALLET_REQUEST_INVALID');
  }
  if (!signers.some((s) => bytesEqual(s, publicKey)))
    throw new WalletError('WALLET_REQUEST_INVALID');
  return { signature: base58.encode(ed25519.sign(message, privateKey)) };
}
