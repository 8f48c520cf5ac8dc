/**
 * Properties of C2SP checkpoints, signed notes and cosignatures
 * (src/protocol/log/{checkpoint,note}.ts):
 *
 * - formatCheckpoint / parseCheckpoint round-trip any checkpoint, and the text form is
 *   canonical: any text that parses formats back to exactly itself;
 * - a signed checkpoint verifies, and flipping any single byte of the note (text, separator,
 *   signature line) or any bit of the signature makes verifyCheckpointNote refuse it;
 * - a cosignature verifies only for the checkpoint text and timestamp it was made over;
 * - the witness threshold holds exactly: valid iff at least k listed witnesses cosigned,
 *   whatever else (unknown witnesses, tampered lines, order) the note carries.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ed25519 } from '@noble/curves/ed25519.js';
import {
  cosignatureMessage,
  decodeCosignature,
  encodeCosignature,
  formatCheckpoint,
  parseCheckpoint,
  verifyCheckpointNote,
  verifyCosignature,
  type Checkpoint,
} from '../../src/protocol/log/checkpoint.js';
import {
  COSIGNATURE_SIG_TYPE,
  appendSignatures,
  noteKeyId,
  parseNote,
  signNote,
  signatureLine,
  type NoteKey,
} from '../../src/protocol/log/note.js';

interface TestKey extends NoteKey {
  seed: Uint8Array;
  sign(m: Uint8Array): Uint8Array;
}
function testKey(name: string, label = name): TestKey {
  const seed = new Uint8Array(createHash('sha256').update(`cloister test key: ${label}`).digest());
  return {
    name,
    seed,
    publicKey: ed25519.getPublicKey(seed),
    sign: (m) => ed25519.sign(m, seed),
  };
}
function cosign(text: string, t: number, w: TestKey): string {
  const sig = ed25519.sign(cosignatureMessage(text, t), w.seed);
  return signatureLine(
    w.name,
    noteKeyId(w.name, COSIGNATURE_SIG_TYPE, w.publicKey),
    encodeCosignature(t, sig),
  );
}
const enc = new TextEncoder();
const dec = new TextDecoder(); // non-fatal: invalid UTF-8 becomes U+FFFD, still a different note

// --- arbitraries ------------------------------------------------------------------------------

const CONTROL = /[\u0000-\u001f\u007f]/;
/** A checkpoint line: any graphemes, no control characters (newline included). */
const line = fc
  .string({ unit: 'grapheme', minLength: 1, maxLength: 24 })
  .filter((s) => !CONTROL.test(s));
const origin = line.filter((s) => s.trim() === s);
/** A key name (signed-note): no whitespace, no '+'. Used as the origin of signed checkpoints. */
const keyName = fc
  .string({ unit: 'grapheme', minLength: 1, maxLength: 24 })
  .filter((s) => !CONTROL.test(s) && !/[\s+]/u.test(s));
const checkpointArb = (o: fc.Arbitrary<string> = origin) =>
  fc.record({
    origin: o,
    size: fc.oneof(fc.nat(1000), fc.maxSafeNat()),
    rootHash: fc.uint8Array({ minLength: 32, maxLength: 32 }),
    extensions: fc.array(line, { maxLength: 3 }),
  });
const timestamp = fc.oneof(fc.integer({ min: 0, max: 2 ** 32 }), fc.maxSafeNat());

// --- fixtures ---------------------------------------------------------------------------------

const LOG_SEED_LABEL = 'property log';
const witnesses = [1, 2, 3, 4].map((i) => testKey(`witness.example/w${i}`));
const strangers = [1, 2].map((i) => testKey(`witness.example/w${i}`, `stranger ${i}`));

describe('checkpoint text', () => {
  it('formatCheckpoint / parseCheckpoint round-trip', () => {
    fc.assert(
      fc.property(checkpointArb(), (cp) => {
        const text = formatCheckpoint(cp);
        const back = parseCheckpoint(text);
        assert.deepEqual(back, { ...cp });
        assert.equal(formatCheckpoint(back), text);
        assert.equal(text.split('\n').length, 4 + cp.extensions.length);
      }),
      { numRuns: 300 },
    );
  });

  it('is canonical: after any one-character edit, it either fails to parse or formats back to itself', () => {
    const edit = fc.tuple(
      fc.nat(),
      fc.constantFrom('', '0', '1', '9', 'A', '=', '+', ' ', '\n', 'é'),
    );
    fc.assert(
      fc.property(checkpointArb(), edit, (cp, [at, ch]) => {
        const text = formatCheckpoint(cp);
        const i = at % text.length;
        const edited = text.slice(0, i) + ch + text.slice(i + 1);
        let parsed: Checkpoint | undefined;
        try {
          parsed = parseCheckpoint(edited);
        } catch {
          return; // refused: fine
        }
        assert.equal(formatCheckpoint(parsed), edited);
      }),
      { numRuns: 500 },
    );
  });
});

describe('signed checkpoints', () => {
  it('verify, and any single flipped byte of the note is refused', async () => {
    await fc.assert(
      fc.asyncProperty(
        checkpointArb(keyName),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        async (cp, at, mask) => {
          const log = testKey(cp.origin, LOG_SEED_LABEL);
          const text = formatCheckpoint(cp);
          const note = await signNote(text, [log]);
          const ok = verifyCheckpointNote(note, log);
          assert.equal(ok.valid, true, ok.reasons.join('; '));
          assert.deepEqual(ok.checkpoint, { ...cp });

          const bytes = enc.encode(note);
          const i = at % bytes.length;
          bytes[i] = bytes[i]! ^ mask;
          const flipped = dec.decode(bytes);
          fc.pre(flipped !== note);
          const v = verifyCheckpointNote(flipped, log);
          assert.equal(v.valid, false, `byte ${i} of ${bytes.length}`);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('any flipped bit of the key ID or signature is refused', async () => {
    const log = testKey('example.com/log', LOG_SEED_LABEL);
    await fc.assert(
      fc.asyncProperty(
        checkpointArb(fc.constant(log.name)),
        fc.nat(68 * 8 - 1),
        async (cp, bit) => {
          const text = formatCheckpoint(cp);
          const note = await signNote(text, [log]);
          const { signatures } = parseNote(note);
          const raw = new Uint8Array([...signatures[0]!.keyId, ...signatures[0]!.signature]);
          raw[bit >> 3] = raw[bit >> 3]! ^ (1 << (bit & 7));
          const bad = `${text}\n${signatureLine(log.name, raw.subarray(0, 4), raw.subarray(4))}`;
          assert.equal(verifyCheckpointNote(bad, log).valid, false);
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('cosignatures', () => {
  it('encodeCosignature / decodeCosignature round-trip', () => {
    fc.assert(
      fc.property(timestamp, fc.uint8Array({ minLength: 64, maxLength: 64 }), (t, sig) => {
        const bytes = encodeCosignature(t, sig);
        assert.equal(bytes.length, 72);
        assert.equal(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0), BigInt(t));
        const d = decodeCosignature(bytes);
        assert.equal(d.timestamp, t);
        assert.deepEqual(d.signature, sig);
      }),
      { numRuns: 200 },
    );
  });

  it('verify only for the timestamp and the checkpoint they were made over', () => {
    const w = witnesses[0]!;
    fc.assert(
      fc.property(checkpointArb(), checkpointArb(), timestamp, timestamp, (cp, other, t, t2) => {
        const text = formatCheckpoint(cp);
        const s = parseNote(`x\n\n${cosign(text, t, w)}`).signatures[0]!;
        assert.deepEqual(verifyCosignature(text, s, w), { valid: true, timestamp: t });
        // The message is exactly the tlog-cosignature v1 one.
        assert.equal(dec.decode(cosignatureMessage(text, t)), `cosignature/v1\ntime ${t}\n${text}`);
        const { signature } = decodeCosignature(s.signature);
        if (t2 !== t) {
          const moved = { ...s, signature: encodeCosignature(t2, signature) };
          assert.equal(verifyCosignature(text, moved, w).valid, false);
        }
        const otherText = formatCheckpoint(other);
        if (otherText !== text) assert.equal(verifyCosignature(otherText, s, w).valid, false);
      }),
      { numRuns: 100 },
    );
  });

  it('the witness threshold: valid iff at least k listed witnesses cosigned', async () => {
    const log = testKey('example.com/log', LOG_SEED_LABEL);
    const text = formatCheckpoint({
      origin: log.name,
      size: 7,
      rootHash: new Uint8Array(32).fill(7),
    });
    const note = await signNote(text, [log]);
    const other = formatCheckpoint({
      origin: log.name,
      size: 8,
      rootHash: new Uint8Array(32).fill(8),
    });
    // Lines per witness index: the genuine cosignature, and decoys that must never count.
    const genuine = witnesses.map((w, i) => cosign(text, 1_700_000_000 + i, w));
    const decoys = [
      ...strangers.map((s) => cosign(text, 1, s)), // same names as w1, w2, other keys
      cosign(other, 2, witnesses[2]!), // a real w3 cosignature, over another checkpoint
      genuine[3]!.replace(/.{6}\n$/, (tail) => `${tail[0] === 'A' ? 'B' : 'A'}${tail.slice(1)}`),
    ];
    fc.assert(
      fc.property(
        fc.subarray([0, 1, 2, 3]),
        fc.subarray(decoys),
        fc.shuffledSubarray([0, 1, 2, 3], { minLength: 0 }),
        fc.nat(5),
        fc.array(fc.nat(), { minLength: 8, maxLength: 8 }),
        (cosigned, noise, listed, k, order) => {
          // The signature lines in an arbitrary order.
          const lines = [...cosigned.map((i) => genuine[i]!), ...noise]
            .map((l, j) => [order[j]!, l] as const)
            .sort(([a], [b]) => a - b)
            .map(([, l]) => l);
          let withLines: string;
          try {
            withLines = lines.length ? appendSignatures(note, lines) : note;
          } catch {
            return; // a decoy that is not even well formed: nothing to check here
          }
          const v = verifyCheckpointNote(withLines, log, {
            witnesses: listed.map((i) => witnesses[i]!),
            witnessThreshold: k,
          });
          const counted = listed.filter((i) => cosigned.includes(i));
          assert.deepEqual(
            v.witnessed,
            counted.map((i) => witnesses[i]!.name),
          );
          assert.equal(v.valid, counted.length >= k, v.reasons.join('; '));
        },
      ),
      { numRuns: 60 },
    );
  });
});
