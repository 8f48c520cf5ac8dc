/**
 * C2SP signed-note, tlog-checkpoint and tlog-cosignature (src/protocol/log/{note,checkpoint}.ts).
 *
 * merkle/signed-note-examples.json holds 8 published notes with their verifier keys: the C2SP
 * spec examples, golang/mod's PeterNeumann/EnochRoot notes (with PeterNeumann's published
 * *test* private key), and real checkpoints of sum.golang.org (Ed25519), Sigstore Rekor and the
 * Pixel transparency log (both ECDSA P-256, note signature type 0x02, which we do not verify:
 * they are parse and key-ID checks only). The Ed25519 ones must verify, and re-signing the
 * PeterNeumann text with its skey must give the example note byte for byte (Ed25519 is
 * deterministic). Around them: modified texts, wrong keys and malformed lines must be refused.
 *
 * There is no published tlog-cosignature vector with a key, so the cosignature part checks the
 * wire format against the example in C2SP tlog-cosignature.md (timestamp and signed message)
 * and checks verification with keys made up here.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { ed25519 } from '@noble/curves/ed25519.js';
import {
  cosignatureMessage,
  decodeCosignature,
  encodeCosignature,
  formatCheckpoint,
  parseCheckpoint,
  verifyCheckpointNote,
  verifyCosignature,
} from '../../src/protocol/log/checkpoint.js';
import { leafHash } from '../../src/protocol/log/merkle.js';
import {
  COSIGNATURE_SIG_TYPE,
  ED25519_SIG_TYPE,
  appendSignatures,
  formatVerifierKey,
  noteKeyId,
  parseNote,
  parseVerifierKey,
  signNote,
  signatureLine,
  verifyNoteSignature,
  type NoteKey,
  type NoteSigner,
} from '../../src/protocol/log/note.js';
import { logOrigin } from '../../src/protocol/log/origin.js';
import { Tally, readVectorJson, tohex } from './helpers.js';

interface NoteExample {
  id: string;
  vkey: string | null;
  skey?: string;
  signature_type: string;
  text: string;
  note: string;
  expect: string;
  checkpoint?: { origin: string; tree_size: number; root_hash_b64: string };
  negative?: { note: string; expect: string };
}
interface NoteExamples {
  examples: NoteExample[];
  sumdb_tree_encoding: { record_data_ascii: string; tree_size: number; golden_text: string };
}

const file = readVectorJson<NoteExamples>('merkle/signed-note-examples.json');
const byId = (id: string): NoteExample => {
  const e = file.examples.find((x) => x.id === id);
  assert.ok(e, id);
  return e;
};
const ED25519_IDS = [
  'c2sp-signed-note-example',
  'golang-mod-note-peterneumann',
  'golang-mod-note-enochroot',
  'sum-golang-org-checkpoint-6476701',
];
const ECDSA_IDS = ['rekor-sigstore-checkpoint-798034', 'pixel6-transparency-log-checkpoint-10'];

/** Test-side vkey split (independent of parseVerifierKey): name, hex id, raw key bytes. */
function splitVkey(vkey: string): { name: string; id: string; raw: Buffer } {
  const m = /^([^+\s]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/]+=*)$/.exec(vkey);
  assert.ok(m, vkey);
  return { name: m[1]!, id: m[2]!, raw: Buffer.from(m[3]!, 'base64') };
}
const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest();
const keyOf = (vkey: string): NoteKey => {
  const k = parseVerifierKey(vkey);
  return { name: k.name, publicKey: k.publicKey };
};
const EM_DASH = '\u2014';

/** A deterministic Ed25519 key for tests: seed = SHA-256(label). */
function testKey(name: string, label = name): NoteSigner & { seed: Uint8Array } {
  const seed = new Uint8Array(sha256(`cloister test key: ${label}`));
  return {
    name,
    seed,
    publicKey: ed25519.getPublicKey(seed),
    sign: (m: Uint8Array) => ed25519.sign(m, seed),
  };
}

/** A tlog-cosignature/v1 signature line by `w` over `text` at time `t`. */
function cosign(text: string, t: number, w: ReturnType<typeof testKey>): string {
  const sig = ed25519.sign(cosignatureMessage(text, t), w.seed);
  const id = noteKeyId(w.name, COSIGNATURE_SIG_TYPE, w.publicKey);
  return signatureLine(w.name, id, encodeCosignature(t, sig));
}

describe('C2SP signed-note examples', () => {
  it('the vector file is the one expected', () => {
    assert.deepEqual(
      file.examples.map((e) => e.id),
      [
        'c2sp-signed-note-example',
        'c2sp-signed-note-intro-quasimodo',
        'c2sp-tlog-checkpoint-example',
        'golang-mod-note-peterneumann',
        'golang-mod-note-enochroot',
        'sum-golang-org-checkpoint-6476701',
        'rekor-sigstore-checkpoint-798034',
        'pixel6-transparency-log-checkpoint-10',
      ],
    );
    for (const id of ED25519_IDS) assert.equal(byId(id).signature_type, 'ed25519');
  });

  it('Ed25519 verifier keys parse, their key ID recomputes, and format back byte for byte', () => {
    const vkeys = ED25519_IDS.map((id) => byId(id).vkey!);
    let n = 0;
    for (const vkey of vkeys) {
      const { name, id, raw } = splitVkey(vkey);
      const k = parseVerifierKey(vkey);
      assert.equal(k.name, name, vkey);
      assert.equal(k.sigType, ED25519_SIG_TYPE, vkey);
      assert.equal(tohex(k.publicKey), raw.subarray(1).toString('hex'), vkey);
      assert.equal(tohex(k.keyId), id, vkey);
      // key ID = SHA-256(name || 0x0A || 0x01 || pk)[:4], recomputed here independently.
      const want = sha256(Buffer.concat([Buffer.from(`${name}\n`), raw])).subarray(0, 4);
      assert.equal(tohex(noteKeyId(name, ED25519_SIG_TYPE, k.publicKey)), want.toString('hex'));
      assert.equal(formatVerifierKey(name, k.publicKey), vkey);
      n++;
    }
    assert.equal(n, 4);
    // The base64 of sum.golang.org's key contains '+', the vkey field separator.
    assert.ok(
      splitVkey(byId('sum-golang-org-checkpoint-6476701').vkey!)
        .raw.toString('base64')
        .includes('+'),
    );
  });

  it('ECDSA (type 0x02) verifier keys are refused, and their key ID is SHA-256(SPKI)[:4]', () => {
    for (const id of ECDSA_IDS) {
      const e = byId(id);
      const { id: keyId, raw } = splitVkey(e.vkey!);
      assert.equal(raw[0], 0x02, id);
      assert.equal(sha256(raw.subarray(1)).subarray(0, 4).toString('hex'), keyId, id);
      assert.throws(() => parseVerifierKey(e.vkey!), /unsupported verifier key type/, id);
    }
  });

  it('every note splits into the given text; signature key IDs are those of the vkeys', () => {
    const tally = new Tally();
    for (const e of file.examples) {
      const { text, signatures } = parseNote(e.note);
      assert.equal(text, e.text, e.id);
      assert.ok(signatures.length >= 1, e.id);
      if (e.vkey) {
        const { name, id } = splitVkey(e.vkey);
        assert.ok(
          signatures.some((s) => s.name === name && tohex(s.keyId) === id),
          `${e.id}: a signature by ${name}+${id}`,
        );
      }
      const sigLen = signatures[0]!.signature.length;
      tally.add(sigLen === 64 ? 'ed25519-sized' : 'other');
    }
    // Rekor and Pixel carry DER ECDSA signatures (70, 71 bytes); the rest are Ed25519.
    assert.deepEqual(tally.toJSON(), { 'ed25519-sized': 6, other: 2 });
  });

  it('the text of the quasimodo note contains an empty line: the LAST one separates', () => {
    const e = byId('c2sp-signed-note-intro-quasimodo');
    const { text, signatures } = parseNote(e.note);
    assert.ok(text.includes('\n\n'));
    assert.equal(text, e.text);
    assert.equal(signatures.length, 1);
    assert.equal(signatures[0]!.name, 'quasimodo.example/salvatore');
  });

  it('every Ed25519 example signature verifies under its vkey', () => {
    let n = 0;
    for (const id of ED25519_IDS) {
      const e = byId(id);
      const { text, signatures } = parseNote(e.note);
      assert.ok(verifyNoteSignature(text, signatures, keyOf(e.vkey!)), id);
      n++;
    }
    // The EnochRoot note is signed by both PeterNeumann and EnochRoot.
    const both = parseNote(byId('golang-mod-note-enochroot').note);
    assert.ok(
      verifyNoteSignature(
        both.text,
        both.signatures,
        keyOf(byId('golang-mod-note-peterneumann').vkey!),
      ),
    );
    assert.equal(n, 4);
  });

  it('re-signing the PeterNeumann text with the published test skey gives the note byte for byte', async () => {
    const e = byId('golang-mod-note-peterneumann');
    // Go sumdb/note skey: PRIVATE+KEY+<name>+<hex id>+base64(0x01 || 32-byte Ed25519 seed).
    const m = /^PRIVATE\+KEY\+([^+]+)\+([0-9a-f]{8})\+(.+)$/.exec(e.skey!);
    assert.ok(m);
    const [, name, id, b64] = m as unknown as [string, string, string, string];
    const raw = new Uint8Array(Buffer.from(b64, 'base64'));
    assert.equal(raw.length, 33);
    assert.equal(raw[0], ED25519_SIG_TYPE);
    const seed = raw.subarray(1);
    const publicKey = ed25519.getPublicKey(seed);
    const vkey = parseVerifierKey(e.vkey!);
    assert.equal(tohex(publicKey), tohex(vkey.publicKey));
    assert.equal(tohex(vkey.keyId), id);
    const signer: NoteSigner = { name, publicKey, sign: (msg) => ed25519.sign(msg, seed) };
    assert.equal(await signNote(e.text, [signer]), e.note);
    // The same signer, twice, gives two identical lines; the note still verifies.
    const twice = await signNote(e.text, [signer, signer]);
    assert.equal(twice, e.note + e.note.slice(e.text.length + 1));
  });

  it('a modified text fails (same signature lines)', () => {
    const tally = new Tally();
    for (const id of ED25519_IDS) {
      const e = byId(id);
      const { text, signatures } = parseNote(e.note);
      const key = keyOf(e.vkey!);
      const edits = [
        `${text}x\n`,
        `x${text}`,
        text.slice(1),
        text.replace(/\n$/, ' \n'),
        text.toUpperCase(),
      ];
      assert.ok(verifyNoteSignature(text, signatures, key), id);
      for (const t of edits) {
        assert.notEqual(t, text);
        assert.equal(verifyNoteSignature(t, signatures, key), false, `${id}: ${JSON.stringify(t)}`);
        // The whole note, rebuilt around the edited text, fails too.
        const note = t + e.note.slice(e.text.length);
        const r = (() => {
          try {
            const p = parseNote(note);
            return verifyNoteSignature(p.text, p.signatures, key);
          } catch {
            return false;
          }
        })();
        assert.equal(r, false, `${id}: note ${JSON.stringify(t)}`);
        tally.add('rejected');
      }
    }
    assert.equal(tally.get('rejected'), 20);
  });

  it('a wrong key fails, and signatures from unknown keys are ignored', () => {
    const peter = keyOf(byId('golang-mod-note-peterneumann').vkey!);
    const enoch = keyOf(byId('golang-mod-note-enochroot').vkey!);
    const sumdb = keyOf(byId('sum-golang-org-checkpoint-6476701').vkey!);
    const p = parseNote(byId('golang-mod-note-peterneumann').note);
    // Another known key: its name (and key ID) match no line.
    assert.equal(verifyNoteSignature(p.text, p.signatures, enoch), false);
    assert.equal(verifyNoteSignature(p.text, p.signatures, sumdb), false);
    // The right name with another public key: the key ID does not match, so the line is unknown.
    assert.equal(
      verifyNoteSignature(p.text, p.signatures, { name: peter.name, publicKey: enoch.publicKey }),
      false,
    );
    // The right name and key ID with another key's signature bytes: verified, and fails.
    const both = parseNote(byId('golang-mod-note-enochroot').note);
    const forged = [{ ...both.signatures[0]!, signature: both.signatures[1]!.signature }];
    assert.equal(verifyNoteSignature(both.text, forged, peter), false);
    // EnochRoot's line is from an unknown key for a verifier that only knows PeterNeumann.
    assert.ok(verifyNoteSignature(both.text, both.signatures, peter));
    assert.ok(verifyNoteSignature(both.text, both.signatures, enoch));
    // No known key at all: the quasimodo and C2SP checkpoint notes are unverifiable.
    for (const id of ['c2sp-signed-note-intro-quasimodo', 'c2sp-tlog-checkpoint-example']) {
      const q = parseNote(byId(id).note);
      for (const k of [peter, enoch, sumdb])
        assert.equal(verifyNoteSignature(q.text, q.signatures, k), false);
    }
    // An Ed25519 key that borrows the Rekor name is not the Rekor (ECDSA) key.
    const rekor = parseNote(byId('rekor-sigstore-checkpoint-798034').note);
    const impostor = testKey('rekor.sigstore.dev');
    assert.equal(verifyNoteSignature(rekor.text, rekor.signatures, impostor), false);
  });

  it('the Rekor negative example carries a key ID that is not the Rekor key', () => {
    const e = byId('rekor-sigstore-checkpoint-798034');
    const neg = parseNote(e.negative!.note);
    assert.equal(neg.text, e.text);
    assert.notEqual(tohex(neg.signatures[0]!.keyId), splitVkey(e.vkey!).id);
  });

  it('malformed notes and signature lines are refused', () => {
    const good = byId('golang-mod-note-peterneumann').note;
    const text = byId('golang-mod-note-peterneumann').text;
    const line = good.slice(text.length + 1, -1); // "— PeterNeumann x08go…=" without "\n"
    const b64 = line.split(' ')[2]!;
    const bad: Array<[string, string]> = [
      ['no blank line', good.replace('\n\n', '\n')],
      ['no final newline', good.slice(0, -1)],
      ['empty signature block', `${text}\n`],
      ['hyphen instead of em dash', `${text}\n${line.replace(EM_DASH, '-')}\n`],
      ['en dash instead of em dash', `${text}\n${line.replace(EM_DASH, '\u2013')}\n`],
      ['no space after the dash', `${text}\n${line.replace(`${EM_DASH} `, EM_DASH)}\n`],
      ['two spaces before the name', `${text}\n${line.replace(`${EM_DASH} `, `${EM_DASH}  `)}\n`],
      ['two spaces before the signature', `${text}\n${line.replace(' x08go', '  x08go')}\n`],
      ['no signature', `${text}\n${EM_DASH} PeterNeumann\n`],
      ['empty signature', `${text}\n${EM_DASH} PeterNeumann \n`],
      ['trailing space', `${text}\n${line} \n`],
      ['key name with +', `${text}\n${line.replace('PeterNeumann', 'Peter+Neumann')}\n`],
      [
        'key name with a non-ASCII space',
        `${text}\n${line.replace('PeterNeumann', 'Peter\u00a0Neumann')}\n`,
      ],
      ['signature not base64', `${text}\n${line.replace(b64, `${b64.slice(0, -4)}!!!=`)}\n`],
      ['signature without padding', `${text}\n${line.replace(b64, b64.replace(/=+$/, ''))}\n`],
      [
        'non-canonical base64 (trailing bits)',
        `${text}\n${line.replace(b64, b64.replace(/M=$/, 'N='))}\n`,
      ],
      ['signature shorter than a key ID', `${text}\n${EM_DASH} PeterNeumann AAAAAA==\n`],
      ['CRLF line endings', good.replace(/\n/g, '\r\n')],
      ['a NUL in the text', `\u0000${good}`],
      ['a tab in the text', `\t${good}`],
      ['an escape in the text', good.replace('answer', '\u001banswer')],
    ];
    // Bad base64 surfaces as the TypeError of base64ToBytes; everything else as a RangeError.
    const refused = (e: unknown) => e instanceof RangeError || e instanceof TypeError;
    for (const [what, note] of bad) assert.throws(() => parseNote(note), refused, what);
    // A blank line after a signature line is not malformed: the LAST blank line separates, so
    // the first signature line becomes part of the text, which then no longer verifies.
    const shifted = parseNote(`${good}\n${line}\n`);
    assert.equal(shifted.text, good);
    const peter = keyOf(byId('golang-mod-note-peterneumann').vkey!);
    assert.equal(verifyNoteSignature(shifted.text, shifted.signatures, peter), false);
    // appendSignatures refuses malformed lines too, and takes well-formed ones.
    assert.throws(() => appendSignatures(good, [`${line}`]), RangeError);
    assert.throws(() => appendSignatures(good, [`-${line.slice(1)}\n`]), RangeError);
    assert.equal(appendSignatures(good, [`${line}\n`]), `${good}${line}\n`);
  });

  it('signNote refuses what it cannot sign', async () => {
    const k = testKey('example.com/k');
    await assert.rejects(signNote('no newline', [k]), RangeError);
    await assert.rejects(signNote('text\n', []), RangeError);
    await assert.rejects(signNote('text\n', [{ ...k, name: 'a b' }]), RangeError);
    await assert.rejects(signNote('text\n', [{ ...k, name: 'a+b' }]), RangeError);
    assert.throws(() => formatVerifierKey('', k.publicKey), RangeError);
    assert.throws(
      () =>
        parseVerifierKey(
          'example.com/k+00000000+' + Buffer.from([1, ...k.publicKey]).toString('base64'),
        ),
      /id does not match/,
    );
    assert.throws(() => parseVerifierKey('example.com/k'), RangeError);
    assert.throws(() => parseVerifierKey('example.com/k+1234'), RangeError);
  });
});

describe('C2SP tlog-checkpoint', () => {
  it('the example checkpoints parse to their fields and format back byte for byte', () => {
    const ids = [
      'c2sp-tlog-checkpoint-example',
      'sum-golang-org-checkpoint-6476701',
      'rekor-sigstore-checkpoint-798034',
    ];
    for (const id of ids) {
      const e = byId(id);
      const cp = parseCheckpoint(parseNote(e.note).text);
      assert.equal(cp.origin, e.checkpoint!.origin, id);
      assert.equal(cp.size, e.checkpoint!.tree_size, id);
      assert.equal(Buffer.from(cp.rootHash).toString('base64'), e.checkpoint!.root_hash_b64, id);
      assert.deepEqual(cp.extensions, [], id);
      assert.equal(formatCheckpoint(cp), e.text, id);
    }
    const pixel = parseCheckpoint(byId('pixel6-transparency-log-checkpoint-10').text);
    assert.deepEqual([pixel.origin, pixel.size], ['DEFAULT', 10]);
  });

  it('golang/mod sumdb FormatTree golden text', () => {
    const t = file.sumdb_tree_encoding;
    const text = formatCheckpoint({
      origin: 'go.sum database tree',
      size: t.tree_size,
      rootHash: leafHash(new Uint8Array(Buffer.from(t.record_data_ascii))),
    });
    assert.equal(text, t.golden_text);
  });

  it('the sum.golang.org note: signature valid; refused only because its origin is not the key name', () => {
    const e = byId('sum-golang-org-checkpoint-6476701');
    const v = verifyCheckpointNote(e.note, keyOf(e.vkey!));
    assert.equal(v.valid, false);
    assert.deepEqual(v.reasons, ['checkpoint: origin does not match the log key name']);
    assert.equal(v.checkpoint?.size, 6476701);
    // Any other key: also no valid log signature.
    const other = verifyCheckpointNote(e.note, keyOf(byId('golang-mod-note-peterneumann').vkey!));
    assert.ok(other.reasons.includes('checkpoint: no valid signature by the log key'));
    // Not a checkpoint at all.
    const notCp = verifyCheckpointNote(
      byId('golang-mod-note-peterneumann').note,
      keyOf(byId('golang-mod-note-peterneumann').vkey!),
    );
    assert.deepEqual(notCp, {
      valid: false,
      reasons: ['checkpoint: malformed note'],
      witnessed: [],
    });
  });

  it('formatCheckpoint / parseCheckpoint round-trip, with extension lines', () => {
    const rootHash = new Uint8Array(32).map((_, i) => i * 7);
    for (const cp of [
      { origin: 'example.com/log', size: 0, rootHash },
      { origin: 'example.com/log', size: Number.MAX_SAFE_INTEGER, rootHash },
      { origin: 'a log with spaces', size: 20852163, rootHash, extensions: ['ext one', '— x y'] },
    ]) {
      const text = formatCheckpoint(cp);
      const back = parseCheckpoint(text);
      assert.deepEqual(back, { extensions: [], ...cp });
      assert.equal(formatCheckpoint(back), text);
    }
  });

  it('malformed checkpoints are refused', () => {
    const root = Buffer.alloc(32, 1).toString('base64');
    const ok = `example.com/log\n5\n${root}\n`;
    assert.equal(parseCheckpoint(ok).size, 5);
    const bad: Array<[string, string]> = [
      ['no trailing newline', ok.slice(0, -1)],
      ['two lines', `example.com/log\n5\n`],
      ['empty origin', `\n5\n${root}\n`],
      ['origin with a leading space', ` example.com/log\n5\n${root}\n`],
      ['origin with a trailing space', `example.com/log \n5\n${root}\n`],
      ['empty size', `example.com/log\n\n${root}\n`],
      ['hex size', `example.com/log\n0x5\n${root}\n`],
      ['signed size', `example.com/log\n+5\n${root}\n`],
      ['negative size', `example.com/log\n-5\n${root}\n`],
      ['exponent size', `example.com/log\n5e0\n${root}\n`],
      ['fractional size', `example.com/log\n5.0\n${root}\n`],
      ['size with a space', `example.com/log\n 5\n${root}\n`],
      ['leading zero', `example.com/log\n05\n${root}\n`],
      ['zero with a leading zero', `example.com/log\n00\n${root}\n`],
      ['non-ASCII digit', `example.com/log\n\u0665\n${root}\n`],
      ['size above 2^53 - 1', `example.com/log\n9007199254740992\n${root}\n`],
      ['root not base64', `example.com/log\n5\n${root.slice(0, -2)}!=\n`],
      [
        'root in base64url',
        `example.com/log\n5\n${Buffer.alloc(32, 0xfb).toString('base64url')}=\n`,
      ],
      ['root without padding', `example.com/log\n5\n${root.replace(/=$/, '')}\n`],
      ['root of 31 bytes', `example.com/log\n5\n${Buffer.alloc(31, 1).toString('base64')}\n`],
      ['root of 33 bytes', `example.com/log\n5\n${Buffer.alloc(33, 1).toString('base64')}\n`],
      ['empty root', `example.com/log\n5\n\n`],
      ['empty extension line', `example.com/log\n5\n${root}\n\n`],
      ['empty line between extensions', `example.com/log\n5\n${root}\na\n\nb\n`],
    ];
    for (const [what, text] of bad) assert.throws(() => parseCheckpoint(text), Error, what);
  });

  it('formatCheckpoint refuses what it could not parse back', () => {
    const rootHash = new Uint8Array(32);
    for (const cp of [
      { origin: '', size: 1, rootHash },
      { origin: ' x', size: 1, rootHash },
      { origin: 'a\nb', size: 1, rootHash },
      { origin: 'x', size: -1, rootHash },
      { origin: 'x', size: 1.5, rootHash },
      { origin: 'x', size: 2 ** 53, rootHash },
      { origin: 'x', size: 1, rootHash: new Uint8Array(31) },
      { origin: 'x', size: 1, rootHash, extensions: [''] },
      { origin: 'x', size: 1, rootHash, extensions: ['a\nb'] },
    ]) {
      assert.throws(
        () => formatCheckpoint(cp),
        RangeError,
        JSON.stringify({ ...cp, rootHash: undefined }),
      );
    }
  });
});

describe('C2SP tlog-cosignature v1', () => {
  // From C2SP/C2SP tlog-cosignature.md: the example note's second signature line, and the
  // signed message the spec shows for that checkpoint ("time 1679315147"). No key published.
  const SPEC_CHECKPOINT =
    'example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n';
  const SPEC_COSIG_LINE = `${EM_DASH} witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n`;
  const SPEC_MESSAGE = `cosignature/v1\ntime 1679315147\n${SPEC_CHECKPOINT}`;

  const log = testKey('placeholder', 'log');
  const logKey: NoteKey = { name: logOrigin(log.publicKey), publicKey: log.publicKey };
  const logSigner = { ...log, name: logKey.name };
  const w1 = testKey('witness.example.com/w1');
  const w2 = testKey('witness.example.com/w2');
  const w3 = testKey('witness.example.com/w3');
  const stranger = testKey('witness.example.com/stranger');
  const T = 1_700_000_000;
  const text = formatCheckpoint({
    origin: logKey.name,
    size: 42,
    rootHash: new Uint8Array(32).fill(9),
  });

  it('the spec example: timestamp, key-ID layout and signed message', () => {
    const note = parseNote(`${byId('c2sp-tlog-checkpoint-example').note}${SPEC_COSIG_LINE}`);
    assert.equal(note.text, SPEC_CHECKPOINT);
    const sig = note.signatures[1]!;
    assert.equal(sig.name, 'witness.example.com/w1');
    assert.equal(sig.signature.length, 8 + 64);
    const { timestamp, signature } = decodeCosignature(sig.signature);
    assert.equal(timestamp, 1679315147);
    assert.equal(signature.length, 64);
    assert.equal(
      Buffer.from(cosignatureMessage(note.text, timestamp)).toString('utf8'),
      SPEC_MESSAGE,
    );
    assert.equal(tohex(encodeCosignature(timestamp, signature)), tohex(sig.signature));
  });

  it('encodeCosignature / decodeCosignature: big-endian u64 timestamp then the signature', () => {
    const sig = new Uint8Array(64).fill(0xab);
    const enc = encodeCosignature(0x0102030405, sig);
    assert.equal(tohex(enc.subarray(0, 8)), '0000000102030405');
    assert.equal(tohex(enc.subarray(8)), tohex(sig));
    for (const t of [0, 1, 1679315147, Number.MAX_SAFE_INTEGER]) {
      const d = decodeCosignature(encodeCosignature(t, sig));
      assert.equal(d.timestamp, t);
      assert.equal(tohex(d.signature), tohex(sig));
    }
    assert.throws(() => decodeCosignature(new Uint8Array(71)), RangeError);
    assert.throws(() => decodeCosignature(new Uint8Array(73)), RangeError);
    const big = new Uint8Array(72);
    big[1] = 0x20; // 2^53
    assert.throws(() => decodeCosignature(big), RangeError);
    for (const t of [-1, 1.5, 2 ** 53, Number.NaN]) {
      assert.throws(() => encodeCosignature(t, sig), RangeError, String(t));
    }
    assert.throws(() => encodeCosignature(0, new Uint8Array(63)), RangeError);
  });

  it('verifyCosignature: the key ID is SHA-256(name || 0x0A || 0x04 || pk)[:4]', () => {
    const line = cosign(text, T, w1);
    const { signatures } = parseNote(`x\n\n${line}`);
    const s = signatures[0]!;
    const want = sha256(Buffer.concat([Buffer.from(`${w1.name}\n\x04`), w1.publicKey])).subarray(
      0,
      4,
    );
    assert.equal(tohex(s.keyId), want.toString('hex'));
    assert.deepEqual(verifyCosignature(text, s, w1), { valid: true, timestamp: T });
    // A verifier key for the witness is a type-0x04 vkey.
    const vkey = formatVerifierKey(w1.name, w1.publicKey, COSIGNATURE_SIG_TYPE);
    assert.equal(parseVerifierKey(vkey).sigType, COSIGNATURE_SIG_TYPE);
  });

  it('verifyCosignature refuses another time, another checkpoint, another key or type', () => {
    const s = parseNote(`x\n\n${cosign(text, T, w1)}`).signatures[0]!;
    const { signature } = decodeCosignature(s.signature);
    const other = formatCheckpoint({ ...parseCheckpoint(text), size: 43 });
    const no = { valid: false };
    // The same signature presented with another timestamp.
    for (const t of [T - 1, T + 1, 0]) {
      assert.deepEqual(
        verifyCosignature(text, { ...s, signature: encodeCosignature(t, signature) }, w1),
        no,
      );
    }
    assert.deepEqual(verifyCosignature(other, s, w1), no);
    assert.deepEqual(verifyCosignature(`${text}ext\n`, s, w1), no);
    assert.deepEqual(verifyCosignature(text, s, w2), no);
    assert.deepEqual(verifyCosignature(text, s, { name: w2.name, publicKey: w1.publicKey }), no);
    assert.deepEqual(verifyCosignature(text, s, { name: w1.name, publicKey: w2.publicKey }), no);
    assert.deepEqual(
      verifyCosignature(text, { ...s, signature: s.signature.subarray(0, 71) }, w1),
      no,
    );
    // A plain Ed25519 (type 0x01) note signature by the witness key is not a cosignature.
    const plain = ed25519.sign(cosignatureMessage(text, T), w1.seed);
    const as01 = {
      name: w1.name,
      keyId: noteKeyId(w1.name, ED25519_SIG_TYPE, w1.publicKey),
      signature: encodeCosignature(T, plain),
    };
    assert.deepEqual(verifyCosignature(text, as01, w1), no);
  });

  it('verifyCheckpointNote: log signature, then witness threshold met / not met', async () => {
    const note = await signNote(text, [logSigner]);
    assert.deepEqual(verifyCheckpointNote(note, logKey), {
      valid: true,
      checkpoint: parseCheckpoint(text),
      reasons: [],
      witnessed: [],
    });
    const cosigned = appendSignatures(note, [cosign(text, T, w1), cosign(text, T + 5, w2)]);
    const witnesses = [w1, w2, w3];
    const at = (k: number) =>
      verifyCheckpointNote(cosigned, logKey, { witnesses, witnessThreshold: k });
    for (const k of [0, 1, 2]) {
      const v = at(k);
      assert.equal(v.valid, true, `threshold ${k}`);
      assert.deepEqual(v.witnessed, [w1.name, w2.name]);
    }
    const v3 = at(3);
    assert.equal(v3.valid, false);
    assert.deepEqual(v3.reasons, ['checkpoint: 2 of 3 required witness cosignatures']);
    // The witness lines do not disturb a verifier that does not ask for witnesses.
    assert.equal(verifyCheckpointNote(cosigned, logKey).valid, true);
  });

  it('verifyCheckpointNote: unknown witnesses and tampered cosignatures do not count', async () => {
    const note = await signNote(text, [logSigner]);
    const good = cosign(text, T, w1);
    const raw = Buffer.from(good.trim().split(' ')[2]!, 'base64');
    const tampered = (i: number) => {
      const b = Buffer.from(raw);
      b[i] = b[i]! ^ 0x01;
      return `${EM_DASH} ${w2.name} ${b.toString('base64')}\n`;
    };
    // w2's line rebuilt from w1's bytes is w2-named but under w1's key ID: unknown.
    const lines = [cosign(text, T, stranger), tampered(0), tampered(4), tampered(11), tampered(40)];
    const v = verifyCheckpointNote(appendSignatures(note, lines), logKey, {
      witnesses: [w1, w2],
      witnessThreshold: 1,
    });
    assert.equal(v.valid, false);
    assert.deepEqual(v.witnessed, []);
    // w2's own cosignature, tampered in the timestamp, the signature or the key ID.
    const own = Buffer.from(cosign(text, T, w2).trim().split(' ')[2]!, 'base64');
    for (const i of [0, 3, 4, 11, 12, 40, 75]) {
      const b = Buffer.from(own);
      b[i] = b[i]! ^ 0x80;
      const line = `${EM_DASH} ${w2.name} ${b.toString('base64')}\n`;
      const r = verifyCheckpointNote(appendSignatures(note, [line]), logKey, {
        witnesses: [w2],
        witnessThreshold: 1,
      });
      assert.equal(r.valid, false, `byte ${i}`);
    }
    // A cosignature over another checkpoint of the same log.
    const other = formatCheckpoint({ ...parseCheckpoint(text), size: 41 });
    const r = verifyCheckpointNote(appendSignatures(note, [cosign(other, T, w1)]), logKey, {
      witnesses: [w1],
      witnessThreshold: 1,
    });
    assert.equal(r.valid, false);
    // With the genuine line added, it counts.
    const ok = verifyCheckpointNote(appendSignatures(note, [...lines, good]), logKey, {
      witnesses: [w1, w2],
      witnessThreshold: 1,
    });
    assert.equal(ok.valid, true);
    assert.deepEqual(ok.witnessed, [w1.name]);
  });

  it('verifyCheckpointNote: a witness listed twice (by name or by key) counts once', async () => {
    const note = appendSignatures(await signNote(text, [logSigner]), [cosign(text, T, w1)]);
    const twice = verifyCheckpointNote(note, logKey, { witnesses: [w1, w1], witnessThreshold: 2 });
    assert.equal(twice.valid, false);
    assert.deepEqual(twice.witnessed, [w1.name]);
    // The Ed25519 cosigned message does not commit to the witness name, so anyone can copy
    // w1's signature under a second name. One key listed under two names is still one witness.
    const alias = { name: 'witness.example.com/alias', publicKey: w1.publicKey };
    const raw = parseNote(note).signatures[1]!.signature;
    const copied = signatureLine(
      alias.name,
      noteKeyId(alias.name, COSIGNATURE_SIG_TYPE, w1.publicKey),
      raw,
    );
    const v = verifyCheckpointNote(appendSignatures(note, [copied]), logKey, {
      witnesses: [w1, alias],
      witnessThreshold: 2,
    });
    assert.equal(v.valid, false);
  });

  it('verifyCheckpointNote: an invalid threshold fails closed', async () => {
    const note = await signNote(text, [logSigner]);
    for (const k of [Number.NaN, -1, 0.5, Number.POSITIVE_INFINITY]) {
      const v = verifyCheckpointNote(note, logKey, { witnesses: [w1], witnessThreshold: k });
      assert.equal(v.valid, false, String(k));
    }
  });

  it('verifyCheckpointNote: cosignatures cannot stand in for the log signature', async () => {
    // Only a type-0x04 line from the log key itself: not an Ed25519 note signature.
    const cosig = cosign(text, T, logSigner);
    const note = `${text}\n${cosig}`;
    const v = verifyCheckpointNote(note, logKey);
    assert.equal(v.valid, false);
    assert.deepEqual(v.reasons, ['checkpoint: no valid signature by the log key']);
    // A note by another log key with the same origin.
    const impostor = await signNote(text, [{ ...testKey(logKey.name, 'impostor') }]);
    assert.equal(verifyCheckpointNote(impostor, logKey).valid, false);
  });
});
