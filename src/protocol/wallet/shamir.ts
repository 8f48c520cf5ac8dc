/**
 * Combining wallet shares: `shamir-secret-sharing` (Privy's audited GF(2^8) implementation) in
 * HashiCorp Vault's format, each share = y bytes ‖ one x byte. Splitting draws randomness and so
 * lives in the enclave (src/enclave/wallet/split.ts); combining is pure and the client needs it
 * too (export, checking a creation response), so it is here.
 *
 * Shamir has no integrity: a corrupted or foreign share still combines, to a different secret.
 * Callers must check the result against a commitment (the enclave: the commitment sealed in the
 * server-share record; the client: the wallet's addresses). See docs/protocol/wallet-shares.md.
 */
import { combine } from 'shamir-secret-sharing';
import { WALLET_SHARE_BYTES, WALLET_THRESHOLD } from './constants.js';
import { WalletError } from './errors.js';

/** The x coordinate of a Vault-format share (its last byte). */
export function shareX(share: Uint8Array): number {
  return share[share.length - 1]!;
}

/** Format checks the library would otherwise report with messages we do not control. */
export function checkShare(share: Uint8Array): void {
  if (!(share instanceof Uint8Array) || share.length !== WALLET_SHARE_BYTES || shareX(share) === 0)
    throw new WalletError('WALLET_SHARE_INVALID');
}

/**
 * Combines exactly the threshold number of wallet shares into the 32-byte entropy. The result
 * is unauthenticated (see above); the caller checks it and wipes it.
 */
export async function combineShares(shares: readonly Uint8Array[]): Promise<Uint8Array> {
  if (shares.length !== WALLET_THRESHOLD) throw new WalletError('WALLET_SHARE_INVALID');
  shares.forEach(checkShare);
  if (shareX(shares[0]!) === shareX(shares[1]!)) throw new WalletError('WALLET_SHARE_INVALID');
  // The library insists on exact Uint8Array instances (a node Buffer is refused): copy, then wipe.
  const copies = shares.map((s) => Uint8Array.from(s));
  try {
    return await combine(copies);
  } catch {
    throw new WalletError('WALLET_SHARE_INVALID');
  } finally {
    for (const c of copies) c.fill(0);
  }
}
