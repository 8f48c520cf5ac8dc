/**
 * The bytes an Ethereum sign request stands for, shared by the enclave that signs them
 * (enclave/wallet/sign-ethereum.ts) and the SDK that checks the answer covers them
 * (client/wallet/verify-signature.ts): the EIP-191 message of `eth_personal_sign`, and the
 * unsigned EIP-1559 or legacy EIP-155 transaction of `eth_transaction` (micro-eth-signer's
 * encoder, so both sides build the same RLP).
 */
import { Transaction } from 'micro-eth-signer';
import { hexToBytes } from '../encoding.js';
import { WalletError } from './errors.js';
import type { EthTransaction } from './requests.js';

/** "0x" + even-length hex is bytes; anything else is signed as its UTF-8 text. */
export function personalMessageBytes(message: string): Uint8Array | string {
  return /^0x(?:[0-9a-fA-F]{2})*$/.test(message)
    ? hexToBytes(message.slice(2).toLowerCase())
    : message;
}

/** The unsigned transaction of a request; WALLET_REQUEST_INVALID when the encoder refuses it. */
export function prepareEthTransaction(tx: EthTransaction): ReturnType<typeof Transaction.prepare> {
  const common = {
    to: tx.to ?? '0x',
    value: tx.value,
    data: tx.data,
    nonce: tx.nonce,
    chainId: tx.chainId,
    gasLimit: tx.gas,
  };
  try {
    // strict = false: the library's strict mode adds UI sanity caps (fees < 10000 gwei, value
    // < 1M ether) that are policy, not validity; our policies and schemas bound those instead.
    return tx.gasPrice !== undefined
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
}
