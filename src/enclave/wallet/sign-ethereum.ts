/**
 * Ethereum signing with micro-eth-signer (paulmillr, on the audited @noble/curves secp256k1 and
 * @noble/hashes keccak): EIP-191 personal_sign, EIP-712 v4 typed data, EIP-1559 and legacy
 * EIP-155 transactions. It is smaller than viem and already does RLP and EIP-712 encoding, so no
 * home-made encoder. Signatures are deterministic (RFC 6979, extraEntropy = false): the same
 * request gives the same signature, as on hardware wallets, and vectors reproduce byte for byte.
 * The caller owns and wipes `privateKey`.
 */
import { Transaction, eip191Signer, signTyped } from 'micro-eth-signer';
import { hexToBytes } from '../../protocol/encoding.js';
import { WalletError } from '../../protocol/wallet/errors.js';
import type { EthTransaction } from '../../protocol/wallet/requests.js';

/** "0x" + even-length hex is bytes; anything else is signed as its UTF-8 text. */
export function personalMessageBytes(message: string): Uint8Array | string {
  return /^0x(?:[0-9a-fA-F]{2})*$/.test(message)
    ? hexToBytes(message.slice(2).toLowerCase())
    : message;
}

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
  const common = {
    to: tx.to ?? '0x',
    value: tx.value,
    data: tx.data,
    nonce: tx.nonce,
    chainId: tx.chainId,
    gasLimit: tx.gas,
  };
  let prepared: ReturnType<typeof Transaction.prepare>;
  try {
    // strict = false: the library's strict mode adds UI sanity caps (fees < 10000 gwei, value
    // < 1M ether) that are policy, not validity; our policies and schemas bound those instead.
    prepared =
      tx.gasPrice !== undefined
        ? Transaction.prepare({ type: 'legacy', ...common, gasPrice: tx.gasPrice }, false)
        : Transaction.prepare(
            {
              type: 'eip1559',
              ...common,
              maxFeePerGas: tx.maxFeePerGas!,
              maxPriorityFeePerGas: tx.maxPriorityFeePerGas!,
            },
            false,
          );
  } catch {
    throw new WalletError('WALLET_REQUEST_INVALID');
  }
  const signed = prepared.signBy(privateKey, false);
  return { signed_transaction: signed.toHex({ includeSignature: true }), hash: signed.hash };
}
