/**
 * Ethereum signing with micro-eth-signer (paulmillr, on the audited @noble/curves secp256k1 and
 * @noble/hashes keccak): EIP-191 personal_sign, EIP-712 v4 typed data, EIP-1559 and legacy
 * EIP-155 transactions. It is smaller than viem and already does RLP and EIP-712 encoding, so no
 * home-made encoder. Signatures are deterministic (RFC 6979, extraEntropy = false): the same
 * request gives the same signature, as on hardware wallets, and vectors reproduce byte for byte.
 * The caller owns and wipes `privateKey`.
 */
import { eip191Signer, signTyped } from 'micro-eth-signer';
import { WalletError } from '../../protocol/wallet/errors.js';
import { personalMessageBytes, prepareEthTransaction } from '../../protocol/wallet/eth-request.js';
import type { EthTransaction } from '../../protocol/wallet/requests.js';

export function signPersonalMessage(
  privateKey: Uint8Array,
  message: string,
): { signature: string } {
  return { signature: eip191Signer.sign(personalMessageBytes(message), privateKey, false) };
}

export function signTypedData(privateKey: Uint8Array, typedData: unknown): { signature: string } {
  try {
    // The library validates the types and the message against them.
    return {
      signature: signTyped(typedData as Parameters<typeof signTyped>[0], privateKey, false),
    };
  } catch {
    throw new WalletError('WALLET_REQUEST_INVALID');
  }
}

export function signEthTransaction(
  privateKey: Uint8Array,
  tx: EthTransaction,
): { signed_transaction: string; hash: string } {
  const prepared = prepareEthTransaction(tx);
  const signed = prepared.signBy(privateKey, false);
  return { signed_transaction: signed.toHex({ includeSignature: true }), hash: signed.hash };
}
