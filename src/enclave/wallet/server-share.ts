/**
 * The server share at rest. Per-user DEK = HKDF-SHA256(IKM = the keyring's wallet master key,
 * salt = none, info = "cloister/wallet-dek/v1" ‖ user id, 32 bytes); AES-256-GCM with a random
 * 96-bit nonce (one record per split, far below the 2^32 bound per key) and associated data
 * JCS({generation, user_id, wallet_id}). The associated data keeps the host from reattaching a
 * record to another user or wallet, or presenting it under another generation.
 *
 * The plaintext is the 33-byte share, the 32-byte entropy commitment, then the x coordinates of
 * the device and recovery shares (one byte each). Shamir has no integrity, so the commitment
 * (sealed with the share, out of the host's reach) is what lets the enclave refuse a corrupted,
 * foreign or old-generation client share before deriving; the x coordinates are what lets it
 * tell the device share from the recovery share (the kind in a wallet_share envelope is only
 * the sender's claim, and a recovery share posing as the device share would skip the time-lock).
 */
import { sha256 } from '../../protocol/sha256.js';
import {
  base64ToBytes,
  bytesEqual,
  bytesToBase64,
  concatBytes,
  utf8,
} from '../../protocol/encoding.js';
import { jcsBytes } from '../../protocol/jcs.js';
import {
  WALLET_COMMIT_TAG,
  WALLET_DEK_INFO,
  WALLET_SHARE_BYTES,
} from '../../protocol/wallet/constants.js';
import { WalletError } from '../../protocol/wallet/errors.js';
import { wipe } from '../../protocol/wallet/wipe.js';
import { nodePrimitives } from '../crypto/node-primitives.js';

/** What the host stores for a wallet's server share (base64 fields, ciphertext only). */
export interface ServerShareRecord {
  nonce: string;
  ciphertext: string;
  tag: string;
}

/** The x coordinates (last byte, Vault format) of the two client shares of one split. */
export interface ClientShareXs {
  device: number;
  recovery: number;
}

const PLAINTEXT_BYTES = WALLET_SHARE_BYTES + 32 + 2;

export interface ServerShareContext {
  userId: string;
  walletId: string;
  generation: number;
}

export function deriveWalletDek(masterKey: Uint8Array, userId: string): Uint8Array {
  if (masterKey.length !== 32) throw new RangeError('wallet master key must be 32 bytes');
  const info = concatBytes(utf8.encode(WALLET_DEK_INFO), utf8.encode(userId));
  return nodePrimitives.hkdfSha256(masterKey, new Uint8Array(0), info, 32);
}

function associatedData(ctx: ServerShareContext): Uint8Array {
  return jcsBytes({ generation: ctx.generation, user_id: ctx.userId, wallet_id: ctx.walletId });
}

/**
 * SHA-256("cloister/wallet-commit/v1" ‖ 0x00 ‖ wallet id ‖ 0x00 ‖ entropy). Binds the secret
 * to the wallet id; 256 bits of entropy make it unguessable even if it were ever read.
 */
export function entropyCommitment(walletId: string, entropy: Uint8Array): Uint8Array {
  const pre = concatBytes(
    utf8.encode(WALLET_COMMIT_TAG),
    new Uint8Array([0]),
    utf8.encode(walletId),
    new Uint8Array([0]),
    entropy,
  );
  try {
    return sha256(pre);
  } finally {
    wipe(pre);
  }
}

export function sealServerShare(
  masterKey: Uint8Array,
  ctx: ServerShareContext,
  share: Uint8Array,
  commitment: Uint8Array,
  clientXs: ClientShareXs,
  /** Worked examples only: a fixed nonce. */
  fixedNonce?: Uint8Array,
): ServerShareRecord {
  if (share.length !== WALLET_SHARE_BYTES || commitment.length !== 32)
    throw new RangeError('bad server share');
  const dek = deriveWalletDek(masterKey, ctx.userId);
  const plaintext = concatBytes(
    share,
    commitment,
    Uint8Array.of(clientXs.device, clientXs.recovery),
  );
  const nonce = fixedNonce ?? nodePrimitives.randomBytes(12);
  try {
    const { ciphertext, tag } = nodePrimitives.aesGcmSeal(
      dek,
      nonce,
      plaintext,
      associatedData(ctx),
    );
    return {
      nonce: bytesToBase64(nonce),
      ciphertext: bytesToBase64(ciphertext),
      tag: bytesToBase64(tag),
    };
  } finally {
    wipe(dek, plaintext);
  }
}

export interface OpenedServerShare {
  share: Uint8Array;
  commitment: Uint8Array;
  clientXs: ClientShareXs;
}

/** Opens a record; any failure (tampering, another user/wallet/generation) is one code. */
export function openServerShare(
  masterKey: Uint8Array,
  ctx: ServerShareContext,
  record: ServerShareRecord,
): OpenedServerShare {
  const dek = deriveWalletDek(masterKey, ctx.userId);
  let plaintext: Uint8Array | undefined;
  try {
    plaintext = nodePrimitives.aesGcmOpen(
      dek,
      base64ToBytes(record.nonce),
      base64ToBytes(record.ciphertext),
      base64ToBytes(record.tag),
      associatedData(ctx),
    );
    if (plaintext.length !== PLAINTEXT_BYTES) throw new RangeError('bad length');
    return {
      share: plaintext.slice(0, WALLET_SHARE_BYTES),
      commitment: plaintext.slice(WALLET_SHARE_BYTES, WALLET_SHARE_BYTES + 32),
      clientXs: {
        device: plaintext[PLAINTEXT_BYTES - 2]!,
        recovery: plaintext[PLAINTEXT_BYTES - 1]!,
      },
    };
  } catch {
    throw new WalletError('WALLET_SHARE_INVALID');
  } finally {
    wipe(dek, plaintext);
  }
}

export function commitmentMatches(walletId: string, entropy: Uint8Array, expected: Uint8Array) {
  const actual = entropyCommitment(walletId, entropy);
  try {
    return bytesEqual(actual, expected);
  } finally {
    wipe(actual);
  }
}
