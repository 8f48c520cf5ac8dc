/**
 * The answer of POST /wallets/:id/sign is checked before the SDK hands it back: the signature
 * must be by the requested address over exactly the requested message, typed data or
 * transaction (and a transaction's `hash` its own). The host relays that answer, so without this
 * it could hand back a signature it kept from an earlier request of this wallet (another
 * transaction, which the client would then broadcast believing it the one it asked for), one by
 * another key, or garbage. Signatures are deterministic (RFC 6979, RFC 8032), so a genuine
 * answer for the same request is the same answer. Refusal: WalletError('WALLET_SIGNATURE_MISMATCH').
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { base58 } from '@scure/base';
import { Transaction, eip191Signer, recoverAddressTyped } from 'micro-eth-signer';
import { base64ToBytes } from '../../protocol/encoding.js';
import { WalletError } from '../../protocol/wallet/errors.js';
import { personalMessageBytes, prepareEthTransaction } from '../../protocol/wallet/eth-request.js';
import { SignRequestSchema, type SignRequest } from '../../protocol/wallet/requests.js';

export type SignResult = { signature: string } | { signed_transaction: string; hash: string };

const HEX_SIGNATURE = /^0x[0-9a-fA-F]{130}$/;

/** Same Ethereum address, whatever the case it is written in. */
const sameAddress = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

function covers(request: SignRequest, address: string, answer: Record<string, unknown>): boolean {
  const { signature } = answer;
  switch (request.type) {
    case 'eth_personal_sign':
      return (
        typeof signature === 'string' &&
        HEX_SIGNATURE.test(signature) &&
        sameAddress(
          eip191Signer.recoverAddress(signature, personalMessageBytes(request.message)),
          address,
        )
      );
    case 'eth_typed_data':
      return (
        typeof signature === 'string' &&
        HEX_SIGNATURE.test(signature) &&
        sameAddress(
          recoverAddressTyped(
            signature,
            request.typed_data as Parameters<typeof recoverAddressTyped>[1],
          ),
          address,
        )
      );
    case 'eth_transaction': {
      const { signed_transaction: raw, hash } = answer;
      if (typeof raw !== 'string' || typeof hash !== 'string') return false;
      const signed = Transaction.fromHex(raw, false);
      const unsigned = prepareEthTransaction(request.transaction);
      return (
        signed.isSigned &&
        signed.verifySignature() &&
        signed.toHex({ includeSignature: false }) === unsigned.toHex({ includeSignature: false }) &&
        sameAddress(signed.sender, address) &&
        signed.hash.toLowerCase() === hash.toLowerCase()
      );
    }
    case 'sol_message':
    case 'sol_transaction':
      return (
        typeof signature === 'string' &&
        ed25519.verify(
          base58.decode(signature),
          base64ToBytes(request.message),
          base58.decode(address),
          { zip215: false },
        )
      );
  }
}

/** The answer as a SignResult when it covers `request` by `address`; else throws. */
export function verifySignResult(request: unknown, address: string, answer: unknown): SignResult {
  const parsed = SignRequestSchema.safeParse(request);
  let ok = false;
  try {
    ok =
      parsed.success &&
      typeof answer === 'object' &&
      answer !== null &&
      covers(parsed.data, address, answer as Record<string, unknown>);
  } catch {
    ok = false;
  }
  if (!ok) throw new WalletError('WALLET_SIGNATURE_MISMATCH');
  const a = answer as Record<string, string>;
  return 'signed_transaction' in a
    ? { signed_transaction: a.signed_transaction!, hash: a.hash! }
    : { signature: a.signature! };
}
