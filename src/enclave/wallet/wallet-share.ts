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
    checkWalletShareFor(parsed.data, request);
    return {
      kind: parsed.data.kind,
      share: base64ToBytes(parsed.data.share),
      issuedAt: parsed.data.issued_at,
    };
  } finally {
    wipe(plaintext);
  }
}
