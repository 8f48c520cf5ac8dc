/**
 * The enclave's intake of a client share: the plaintext of an opened credential envelope (the
 * envelope layer has already applied replay and freshness rules) becomes share bytes only if it
 * is a wallet_share for this wallet, of a kind this action takes, bound to this very request.
 */
import { base64ToBytes, utf8 } from '../../protocol/encoding.js';
import {
  WalletSharePlaintextSchema,
  checkWalletShareFor,
  type WalletAction,
  type WalletSharePlaintext,
} from '../../protocol/wallet/binds.js';
import type { ClientShareKind } from '../../protocol/wallet/constants.js';
import { WalletError } from '../../protocol/wallet/errors.js';
import { wipe } from '../../protocol/wallet/wipe.js';

export interface AcceptedShare {
  kind: ClientShareKind;
  /** 33 bytes; hand it to a custody function, which consumes (zeroes) it. */
  share: Uint8Array;
  issuedAt: number;
}

/** Consumes `plaintext` (zeroed on return, whatever the outcome). */
export function acceptWalletShare(
  plaintext: Uint8Array,
  request: { action: WalletAction; walletId: string; body: Record<string, unknown> },
): AcceptedShare {
  try {
    let json: unknown;
    try {
      json = JSON.parse(utf8.decode(plaintext));
    } catch {
      throw new WalletError('WALLET_SHARE_INVALID');
    }
    const parsed = WalletSharePlaintextSchema.safeParse(json);
    if (!parsed.success) throw new WalletError('WALLET_SHARE_INVALID');
    return acceptParsedWalletShare(parsed.data, request);
  } finally {
    wipe(plaintext);
  }
}

/**
 * The same intake for a plaintext the one envelope-opening path (methods/open-envelope.ts,
 * purpose `wallet_share`) has already size-capped, parsed and will wipe.
 */
export function acceptParsedWalletShare(
  value: WalletSharePlaintext,
  request: { action: WalletAction; walletId: string; body: Record<string, unknown> },
): AcceptedShare {
  checkWalletShareFor(value, request);
  return { kind: value.kind, share: base64ToBytes(value.share), issuedAt: value.issued_at };
}
