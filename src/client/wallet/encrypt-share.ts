/**
 * Sending a share to the enclave: the wallet_share plaintext, bound to the one request it
 * authorizes, sealed to the attested enclave key in credential envelope v1 (or HPKE) with the
 * same sealing functions CryptoHelper.encryptCredentials uses.
 */
import { base64ToBytes, utf8 } from '../../protocol/encoding.js';
import { sealEnvelopeHpke, type HpkeAlg, type HpkeEnvelope } from '../../protocol/envelope/hpke.js';
import { sealEnvelopeV1, type EnvelopeV1 } from '../../protocol/envelope/v1.js';
import type { ClientShareKind } from '../../protocol/wallet/constants.js';
import {
  WalletSharePlaintextSchema,
  bindableBody,
  computeBinds,
  type WalletAction,
} from '../../protocol/wallet/binds.js';
import { shareToBase64 } from '../../protocol/wallet/sealed-share.js';
import { wipe } from '../../protocol/wallet/wipe.js';
import { ClientError } from '../errors.js';
import { noblePrimitives } from '../noble-primitives.js';

export interface WalletShareRequest {
  walletId: string;
  kind: ClientShareKind;
  share: Uint8Array;
  action: WalletAction;
  /** The HTTP body this share goes into (its `share` field, if any, is left out of `binds`). */
  body: Record<string, unknown>;
}

export interface WalletShareOptions {
  keyId?: string;
  issuedAt?: number;
  /** Seal as HPKE instead of envelope v1. */
  hpke?: HpkeAlg;
}

function plaintextFor(req: WalletShareRequest, issuedAt?: number): Uint8Array {
  const parsed = WalletSharePlaintextSchema.safeParse({
    purpose: 'wallet_share',
    wallet_id: req.walletId,
    kind: req.kind,
    share: shareToBase64(req.share),
    binds: computeBinds(req.action, req.walletId, bindableBody(req.body)),
    issued_at: issuedAt ?? Math.floor(Date.now() / 1000),
  });
  if (!parsed.success) {
    const fields = [...new Set(parsed.error.issues.map((i) => i.path.join('.')))].join(', ');
    throw new ClientError('INPUT_INVALID', `invalid wallet share: ${fields}`);
  }
  return utf8.encode(JSON.stringify(parsed.data));
}

export async function encryptWalletShare(
  req: WalletShareRequest,
  enclavePubkey: string,
  options: WalletShareOptions = {},
): Promise<EnvelopeV1 | HpkeEnvelope> {
  const key = base64ToBytes(enclavePubkey);
  if (key.length !== 32) throw new ClientError('INPUT_INVALID', 'enclavePubkey must be 32 bytes');
  const plaintext = plaintextFor(req, options.issuedAt);
  const keyOpt = options.keyId ? { keyId: options.keyId } : {};
  try {
    return options.hpke
      ? await sealEnvelopeHpke(options.hpke, key, plaintext, keyOpt)
      : sealEnvelopeV1(noblePrimitives, key, plaintext, keyOpt);
  } finally {
    wipe(plaintext);
  }
}
