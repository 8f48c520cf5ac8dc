/**
 * BIP-32 path strings ("m/44'/60'/0'/0/0") and the two account paths of a wallet. `'` marks a
 * hardened level (index + 2^31).
 */
import { MAX_ACCOUNT_INDEX, type Chain } from './constants.js';

export const HARDENED = 0x80000000;

export function parsePath(path: string): number[] {
  if (!/^m(\/\d{1,10}'?)*$/.test(path)) throw new RangeError('invalid derivation path');
  return path
    .split('/')
    .slice(1)
    .map((level) => {
      const hardened = level.endsWith("'");
      const n = Number(hardened ? level.slice(0, -1) : level);
      if (!Number.isSafeInteger(n) || n >= HARDENED) throw new RangeError('invalid path index');
      return hardened ? n + HARDENED : n;
    });
}

function checkIndex(index: number): void {
  if (!Number.isInteger(index) || index < 0 || index > MAX_ACCOUNT_INDEX)
    throw new RangeError('invalid account index');
}

/** BIP-44 Ethereum, the path MetaMask and Trezor use: m/44'/60'/0'/0/i. */
export const ETHEREUM_ACCOUNT_PARENT = "m/44'/60'/0'/0";
/** Solana as Phantom and Solflare derive it (SLIP-0010, all hardened): m/44'/501'/i'/0'. */
export function accountPath(chain: Chain, index: number): string {
  checkIndex(index);
  return chain === 'ethereum' ? `${ETHEREUM_ACCOUNT_PARENT}/${index}` : `m/44'/501'/${index}'/0'`;
}
