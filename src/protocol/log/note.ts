/**
 * C2SP signed-note (c2sp.org/signed-note): a UTF-8 text ending in a newline, a blank line, then
 * one or more signature lines "— <key name> base64(4-byte key id ‖ signature)". Verifiers
 * ignore signature lines from keys they do not know. Ed25519 keys (type 0x01) are signed and
 * verified here; other types (e.g. witness cosignatures, 0x04) are parsed and left to callers.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '../sha256.js';
import { base64ToBytes, bytesToBase64, bytesToHex, concatBytes, utf8 } from '../encoding.js';

export const ED25519_SIG_TYPE = 0x01;
export const COSIGNATURE_SIG_TYPE = 0x04;
const EM_DASH = '\u2014';
const MAX_SIGNATURES = 100;

export interface NoteSignature {
  name: string;
  keyId: Uint8Array;
  signature: Uint8Array;
}

export interface NoteKey {
  name: string;
  publicKey: Uint8Array;
}

export interface NoteSigner extends NoteKey {
  sign(message: Uint8Array): Uint8Array | Promise<Uint8Array>;
}

/** A key name: non-empty, no whitespace, no "+" (c2sp.org/signed-note, "Signatures"). */
function isKeyName(name: string): boolean {
  return name.length > 0 && !/[\s+]/u.test(name);
}

export function noteKeyId(name: string, sigType: number, publicKey: Uint8Array): Uint8Array {
  return sha256(concatBytes(utf8.encode(`${name}\n`), Uint8Array.of(sigType), publicKey)).subarray(
    0,
    4,
  );
}

/** `<name>+<hex key id>+base64(type ‖ public key)`. */
export function formatVerifierKey(
  name: string,
  publicKey: Uint8Array,
  sigType = ED25519_SIG_TYPE,
): string {
  if (!isKeyName(name)) throw new RangeError('invalid key name');
  const id = bytesToHex(noteKeyId(name, sigType, publicKey));
  return `${name}+${id}+${bytesToBase64(concatBytes(Uint8Array.of(sigType), publicKey))}`;
}

export function parseVerifierKey(vkey: string): {
  name: string;
  keyId: Uint8Array;
  sigType: number;
  publicKey: Uint8Array;
} {
  // The base64 key may itself contain '+': split at the first two only (names cannot hold '+').
  const i = vkey.indexOf('+');
  const j = i < 0 ? -1 : vkey.indexOf('+', i + 1);
  if (j < 0) throw new RangeError('verifier key must be name+id+key');
  const [name, idHex, keyB64] = [vkey.slice(0, i), vkey.slice(i + 1, j), vkey.slice(j + 1)];
  if (!isKeyName(name) || !/^[0-9a-f]{8}$/.test(idHex))
    throw new RangeError('invalid verifier key');
  const raw = base64ToBytes(keyB64);
  const sigType = raw[0]!;
  const publicKey = raw.subarray(1);
  if (
    (sigType !== ED25519_SIG_TYPE && sigType !== COSIGNATURE_SIG_TYPE) ||
    publicKey.length !== 32
  ) {
    throw new RangeError('unsupported verifier key type');
  }
  const keyId = noteKeyId(name, sigType, publicKey);
  if (bytesToHex(keyId) !== idHex) throw new RangeError('verifier key id does not match its key');
  return { name, keyId, sigType, publicKey };
}

/** Splits a note into its text and signatures. Throws RangeError on anything malformed. */
export function parseNote(note: string): { text: string; signatures: NoteSignature[] } {
  if (note.includes('\r') || /[\u0000-\u0009\u000b-\u001f\u007f]/.test(note)) {
    throw new RangeError('note contains control characters');
  }
  const split = note.lastIndexOf('\n\n');
  if (split < 0) throw new RangeError('note has no signature block');
  const text = note.slice(0, split + 1);
  const block = note.slice(split + 2);
  if (!block.endsWith('\n')) throw new RangeError('signature block must end with a newline');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) throw new RangeError('too many signatures');
  const signatures = lines.map((line) => {
    if (!line.startsWith(`${EM_DASH} `)) throw new RangeError('malformed signature line');
    const rest = line.slice(2);
    const space = rest.indexOf(' ');
    const name = rest.slice(0, space);
    const b64 = rest.slice(space + 1);
    if (space <= 0 || !isKeyName(name) || b64.includes(' '))
      throw new RangeError('malformed signature line');
    const raw = base64ToBytes(b64);
    if (raw.length < 5) throw new RangeError('signature too short');
    return { name, keyId: raw.slice(0, 4), signature: raw.slice(4) };
  });
  if (signatures.length === 0) throw new RangeError('note has no signatures');
  return { text, signatures };
}

export function signatureLine(name: string, keyId: Uint8Array, signature: Uint8Array): string {
  return `${EM_DASH} ${name} ${bytesToBase64(concatBytes(keyId, signature))}\n`;
}

/** Signs `text` (which must end in a newline) with each Ed25519 signer. */
export async function signNote(text: string, signers: readonly NoteSigner[]): Promise<string> {
  if (!text.endsWith('\n')) throw new RangeError('note text must end with a newline');
  if (signers.length === 0) throw new RangeError('a note needs at least one signature');
  const message = utf8.encode(text);
  let out = `${text}\n`;
  for (const s of signers) {
    if (!isKeyName(s.name)) throw new RangeError('invalid key name');
    const sig = await s.sign(message);
    out += signatureLine(s.name, noteKeyId(s.name, ED25519_SIG_TYPE, s.publicKey), sig);
  }
  return out;
}

/** Adds signature lines (e.g. witness cosignatures, each ending in "\n") to a signed note. */
export function appendSignatures(note: string, lines: readonly string[]): string {
  parseNote(note);
  const extra = lines.join('');
  parseNote(`x\n\n${extra}`); // each line must itself be well formed
  return note + extra;
}

/** Does `signatures` hold a valid Ed25519 signature of `text` by `key`? Never throws. */
export function verifyNoteSignature(
  text: string,
  signatures: readonly NoteSignature[],
  key: NoteKey,
): boolean {
  try {
    const id = noteKeyId(key.name, ED25519_SIG_TYPE, key.publicKey);
    const message = utf8.encode(text);
    return signatures.some(
      (s) =>
        s.name === key.name &&
        bytesToHex(s.keyId) === bytesToHex(id) &&
        s.signature.length === 64 &&
        ed25519.verify(s.signature, message, key.publicKey),
    );
  } catch {
    return false;
  }
}
