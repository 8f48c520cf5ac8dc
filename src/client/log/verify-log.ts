/**
 * Client-side verification of the transparency log: checkpoints (the enclave's log-key
 * signature, optional witness cosignatures), inclusion of entries, and consistency between
 * checkpoints. The log key comes from a verified attestation (`signingKeys.log`); nothing the
 * log server says is trusted. Leaves are recomputed from the entry text.
 */
import { base64ToBytes, bytesEqual, bytesToBase64 } from '../../protocol/encoding.js';
import { verifyCheckpointNote } from '../../protocol/log/checkpoint.js';
import { leafHashOfText, verifyConsistency, verifyInclusion } from '../../protocol/log/merkle.js';
import { logOrigin } from '../../protocol/log/origin.js';

export interface WitnessKey {
  /** The witness's key name, as in its signed-note verifier key. */
  name: string;
  /** Ed25519 public key, base64. */
  publicKey: string;
}

export interface LogTrust {
  /** The enclave's log key (base64), from `verification.signingKeys.log`. */
  logPublicKey: string;
  /** Witnesses whose cosignatures count, and how many must have cosigned (default 0). */
  witnesses?: readonly WitnessKey[];
  witnessThreshold?: number;
}

export interface VerifiedCheckpoint {
  origin: string;
  size: number;
  /** Root hash, base64. */
  rootHash: string;
  /** The signed note as received. */
  note: string;
  /** Names of the witnesses whose cosignatures verified. */
  witnessed: string[];
}

export type CheckpointVerification =
  | { valid: true; checkpoint: VerifiedCheckpoint; reasons: [] }
  | { valid: false; reasons: string[] };

/** Verifies a checkpoint note against the log key (and the witness policy). Never throws. */
export function verifyLogCheckpoint(note: string, trust: LogTrust): CheckpointVerification {
  try {
    const publicKey = base64ToBytes(trust.logPublicKey);
    const origin = logOrigin(publicKey);
    const v = verifyCheckpointNote(
      note,
      { name: origin, publicKey },
      {
        witnesses: (trust.witnesses ?? []).map((w) => ({
          name: w.name,
          publicKey: base64ToBytes(w.publicKey),
        })),
        witnessThreshold: trust.witnessThreshold ?? 0,
      },
    );
    if (!v.valid || !v.checkpoint)
      return { valid: false, reasons: v.reasons.length ? v.reasons : ['checkpoint: invalid'] };
    if (v.checkpoint.origin !== origin)
      return { valid: false, reasons: ['checkpoint: origin is not this log'] };
    return {
      valid: true,
      reasons: [],
      checkpoint: {
        origin,
        size: v.checkpoint.size,
        rootHash: bytesToBase64(v.checkpoint.rootHash),
        note,
        witnessed: v.witnessed,
      },
    };
  } catch {
    return { valid: false, reasons: ['checkpoint: malformed'] };
  }
}

/** Is `entryText` (the exact leaf text) at `index` in the tree of `checkpoint`? */
export function verifyEntryInclusion(
  entryText: string,
  index: number,
  proof: readonly string[],
  checkpoint: Pick<VerifiedCheckpoint, 'size' | 'rootHash'>,
): boolean {
  try {
    return verifyInclusion(
      index,
      checkpoint.size,
      leafHashOfText(entryText),
      proof.map(base64ToBytes),
      base64ToBytes(checkpoint.rootHash),
    );
  } catch {
    return false;
  }
}

/** Does `newer` extend `older`? Equal sizes need equal roots; a smaller newer size never does. */
export function verifyCheckpointConsistency(
  older: Pick<VerifiedCheckpoint, 'size' | 'rootHash'>,
  newer: Pick<VerifiedCheckpoint, 'size' | 'rootHash'>,
  proof: readonly string[],
): boolean {
  try {
    const r1 = base64ToBytes(older.rootHash);
    const r2 = base64ToBytes(newer.rootHash);
    if (older.size === 0) return true; // the empty tree is a prefix of every tree
    if (older.size === newer.size) return proof.length === 0 && bytesEqual(r1, r2);
    return verifyConsistency(older.size, newer.size, r1, r2, proof.map(base64ToBytes));
  } catch {
    return false;
  }
}
