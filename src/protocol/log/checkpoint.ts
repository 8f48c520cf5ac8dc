/**
 * C2SP tlog-checkpoint (the note text: origin, decimal tree size, base64 root hash, optional
 * extension lines) and C2SP tlog-cosignature v1 (a witness's timestamped Ed25519 signature
 * over "cosignature/v1\ntime <t>\n" followed by the checkpoint text).
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { base64ToBytes, bytesToBase64, bytesToHex, concatBytes, utf8 } from '../encoding.js';
import {
  COSIGNATURE_SIG_TYPE,
  noteKeyId,
  parseNote,
  verifyNoteSignature,
  type NoteKey,
} from './note.js';

export interface Checkpoint {
  origin: string;
  size: number;
  rootHash: Uint8Array;
  extensions?: readonly string[];
}

export type ParsedCheckpoint = Required<Checkpoint>;

export function formatCheckpoint(cp: Checkpoint): string {
  if (!cp.origin || cp.origin.trim() !== cp.origin || cp.origin.includes('\n')) {
    throw new RangeError('invalid origin');
  }
  if (!Number.isSafeInteger(cp.size) || cp.size < 0) throw new RangeError('invalid size');
  if (cp.rootHash.length !== 32) throw new RangeError('root hash must be 32 bytes');
  const ext = (cp.extensions ?? []).map((l) => {
    if (!l || l.includes('\n')) throw new RangeError('invalid extension line');
    return `${l}\n`;
  });
  return `${cp.origin}\n${cp.size}\n${bytesToBase64(cp.rootHash)}\n${ext.join('')}`;
}

export function parseCheckpoint(text: string): ParsedCheckpoint {
  if (!text.endsWith('\n')) throw new RangeError('checkpoint must end with a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) throw new RangeError('checkpoint needs origin, size and root');
  const [origin, sizeText, rootText, ...extensions] = lines as [
    string,
    string,
    string,
    ...string[],
  ];
  if (!origin || origin.trim() !== origin) throw new RangeError('invalid origin');
  if (!/^(0|[1-9][0-9]*)$/.test(sizeText)) throw new RangeError('invalid tree size');
  const size = Number(sizeText);
  if (!Number.isSafeInteger(size)) throw new RangeError('tree size too large');
  const rootHash = base64ToBytes(rootText);
  if (rootHash.length !== 32) throw new RangeError('root hash must be 32 bytes');
  if (extensions.some((l) => l.length === 0)) throw new RangeError('empty extension line');
  return { origin, size, rootHash, extensions };
}

/** The message a cosigner signs (c2sp.org/tlog-cosignature, "Ed25519 signed message"). */
export function cosignatureMessage(checkpointText: string, timestamp: number): Uint8Array {
  return utf8.encode(`cosignature/v1\ntime ${timestamp}\n${checkpointText}`);
}

export function encodeCosignature(timestamp: number, signature: Uint8Array): Uint8Array {
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) throw new RangeError('invalid timestamp');
  if (signature.length !== 64) throw new RangeError('Ed25519 signature must be 64 bytes');
  const ts = new Uint8Array(8);
  new DataView(ts.buffer).setBigUint64(0, BigInt(timestamp), false);
  return concatBytes(ts, signature);
}

export function decodeCosignature(bytes: Uint8Array): { timestamp: number; signature: Uint8Array } {
  if (bytes.length !== 72) throw new RangeError('cosignature must be 72 bytes');
  const t = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, false);
  if (t > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError('timestamp out of range');
  return { timestamp: Number(t), signature: bytes.slice(8) };
}

/** Checks a cosignature (key id ‖ timestamp ‖ signature, as on its note line). Never throws. */
export function verifyCosignature(
  checkpointText: string,
  sig: { name: string; keyId: Uint8Array; signature: Uint8Array },
  witness: NoteKey,
): { valid: boolean; timestamp?: number } {
  try {
    const id = noteKeyId(witness.name, COSIGNATURE_SIG_TYPE, witness.publicKey);
    if (sig.name !== witness.name || bytesToHex(sig.keyId) !== bytesToHex(id))
      return { valid: false };
    const { timestamp, signature } = decodeCosignature(sig.signature);
    const ok = ed25519.verify(
      signature,
      cosignatureMessage(checkpointText, timestamp),
      witness.publicKey,
    );
    return ok ? { valid: true, timestamp } : { valid: false };
  } catch {
    return { valid: false };
  }
}

/**
 * How a reason of `verifyCheckpointNote` that is only a witness shortfall ends: fewer valid
 * cosignatures than the threshold (a witness missed a round, or has not seen it yet), which
 * says nothing against the log itself.
 */
export const WITNESS_SHORTFALL = 'required witness cosignatures';

export interface CheckpointNoteVerification {
  valid: boolean;
  checkpoint?: ParsedCheckpoint;
  reasons: string[];
  /** Names of the witnesses whose cosignatures verified. */
  witnessed: string[];
}

/**
 * Verifies a checkpoint note: the log's own Ed25519 signature, the checkpoint text, and (when
 * asked) at least `witnessThreshold` valid cosignatures from the listed witnesses. Signature
 * lines from unknown keys are ignored, as the signed-note spec requires. Never throws.
 */
export function verifyCheckpointNote(
  note: string,
  logKey: NoteKey,
  opts: { witnesses?: readonly NoteKey[]; witnessThreshold?: number } = {},
): CheckpointNoteVerification {
  let parsed: ReturnType<typeof parseNote>;
  let checkpoint: ParsedCheckpoint;
  try {
    parsed = parseNote(note);
    checkpoint = parseCheckpoint(parsed.text);
  } catch {
    return { valid: false, reasons: ['checkpoint: malformed note'], witnessed: [] };
  }
  const reasons: string[] = [];
  if (!verifyNoteSignature(parsed.text, parsed.signatures, logKey)) {
    reasons.push('checkpoint: no valid signature by the log key');
  }
  if (checkpoint.origin !== logKey.name)
    reasons.push('checkpoint: origin does not match the log key name');
  // Each witness counts once, however often it is listed: by name, and by key (the Ed25519
  // cosigned message does not commit to the name, so a copied line would verify under an alias).
  const seen = new Set<string>();
  const witnessed: string[] = [];
  for (const w of opts.witnesses ?? []) {
    const ids = [`name:${w.name}`, `key:${bytesToHex(w.publicKey)}`];
    if (ids.some((id) => seen.has(id))) continue;
    if (!parsed.signatures.some((s) => verifyCosignature(parsed.text, s, w).valid)) continue;
    ids.forEach((id) => seen.add(id));
    witnessed.push(w.name);
  }
  const threshold = opts.witnessThreshold ?? 0;
  if (!Number.isSafeInteger(threshold) || threshold < 0) {
    reasons.push('checkpoint: invalid witness threshold');
  } else if (witnessed.length < threshold) {
    reasons.push(`checkpoint: ${witnessed.length} of ${threshold} ${WITNESS_SHORTFALL}`);
  }
  return { valid: reasons.length === 0, checkpoint, reasons, witnessed };
}
