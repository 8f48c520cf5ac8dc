/**
 * The enclave's half of Shamir: drawing the wallet entropy and splitting it 2-of-3 in Vault's
 * format with `shamir-secret-sharing`. Every split (creation, recovery, reshare) draws a fresh
 * polynomial AND fresh x coordinates, so shares of two generations never combine to the secret.
 */
import { randomBytes } from 'node:crypto';
import { split } from 'shamir-secret-sharing';
import {
  WALLET_ENTROPY_BYTES,
  WALLET_SHARES,
  WALLET_THRESHOLD,
} from '../../protocol/wallet/constants.js';
import { wipe } from '../../protocol/wallet/wipe.js';

export interface WalletShares {
  server: Uint8Array;
  device: Uint8Array;
  recovery: Uint8Array;
}

/** 32 bytes of BIP-39 entropy from the OS CSPRNG. The caller wipes it. */
export function drawWalletEntropy(): Uint8Array {
  const buf = randomBytes(WALLET_ENTROPY_BYTES);
  const out = Uint8Array.from(buf);
  buf.fill(0);
  return out;
}

/** Splits `entropy` (not wiped here: the caller owns it) into the three shares. */
export async function splitEntropy(entropy: Uint8Array): Promise<WalletShares> {
  // The library checks `constructor === Uint8Array`; a Buffer would be refused.
  const secret = Uint8Array.from(entropy);
  try {
    const [server, device, recovery] = await split(secret, WALLET_SHARES, WALLET_THRESHOLD);
    return { server: server!, device: device!, recovery: recovery! };
  } finally {
    wipe(secret);
  }
}

export function wipeShares(shares: WalletShares): void {
  wipe(shares.server, shares.device, shares.recovery);
}
