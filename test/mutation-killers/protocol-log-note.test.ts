/**
 * Signed notes (src/protocol/log/note.ts) and the log origin for the mutation run
 * (docs/mutation-testing.md): each parsing rule refuses on its own, at its exact limit, and a
 * signature counts only under the key's own name, id and length. The vectors in
 * test/vectors/signed-note.test.ts prove the format; these prove every check is needed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToBase64, bytesToHex, utf8 } from '../../src/protocol/encoding.js';
import {
  appendSignatures,
  COSIGNATURE_SIG_TYPE,
  ED25519_SIG_TYPE,
  formatVerifierKey,
  noteKeyId,
  parseNote,
  parseVerifierKey,
  signatureLine,
  signNote,
  verifyNoteSignature,
  type NoteSigner,
} from '../../src/protocol/log/note.js';
import { logOrigin } from '../../src/protocol/log/origin.js';

const secret = new Uint8Array(32).fill(5);
const publicKey = ed25519.getPublicKey(secret);
const signer: NoteSigner = {
  name: 'log.example',
  publicKey,
  sign: (m) => ed25519.sign(m, secret),
};
const TEXT = 'origin\n1\nAAAA\n';
const line = (name: string, bytes: Uint8Array) => `\u2014 ${name} ${bytesToBase64(bytes)}\n`;

describe('note key ids and verifier keys', () => {
  it('the key id is the first 4 bytes of SHA-256(name \\n type key)', () => {
    const expected = sha256(
      new Uint8Array([...utf8.encode('log.example\n'), ED25519_SIG_TYPE, ...publicKey]),
    ).subarray(0, 4);
    assert.deepEqual(noteKeyId('log.example', ED25519_SIG_TYPE, publicKey), expected);
    assert.equal(ED25519_SIG_TYPE, 1);
    assert.equal(COSIGNATURE_SIG_TYPE, 4);
  });

  it('a verifier key round-trips, for both signature types', () => {
    for (const type of [ED25519_SIG_TYPE, COSIGNATURE_SIG_TYPE]) {
      const vkey = formatVerifierKey('log.example', publicKey, type);
      const id = bytesToHex(noteKeyId('log.example', type, publicKey));
      assert.ok(vkey.startsWith(`log.example+${id}+`), vkey);
      const parsed = parseVerifierKey(vkey);
      assert.equal(parsed.name, 'log.example');
      assert.equal(parsed.sigType, type);
      assert.deepEqual(parsed.publicKey, publicKey);
      assert.equal(bytesToHex(parsed.keyId), id);
    }
    assert.equal(parseVerifierKey(formatVerifierKey('n', publicKey)).sigType, ED25519_SIG_TYPE);
  });

  it('refuses each malformed verifier key', () => {
    const good = formatVerifierKey('log.example', publicKey);
    const [name, id, key] = [
      good.split('+')[0]!,
      good.split('+')[1]!,
      good.slice(good.indexOf('+', good.indexOf('+') + 1) + 1),
    ];
    const raw = (type: number, pk: Uint8Array) => bytesToBase64(new Uint8Array([type, ...pk]));
    const bad = [
      'no-plus-at-all',
      `${name}+${id}`,
      `+${id}+${key}`,
      `a b+${id}+${key}`,
      `${name}+${id.slice(0, 7)}+${key}`,
      `${name}+${id.toUpperCase()}+${key}`,
      `${name}+${id}0+${key}`,
      `${name}+${id}+${raw(2, publicKey)}`,
      `${name}+${id}+${raw(ED25519_SIG_TYPE, publicKey.subarray(0, 31))}`,
      `${name}+${id}+${raw(ED25519_SIG_TYPE, new Uint8Array([...publicKey, 0]))}`,
      `${name}+00000000+${key}`,
      `other+${id}+${key}`,
    ];
    for (const v of bad) assert.throws(() => parseVerifierKey(v), RangeError, v);
    assert.throws(() => formatVerifierKey('', publicKey), RangeError);
    assert.throws(() => formatVerifierKey('a+b', publicKey), RangeError);
    assert.throws(() => formatVerifierKey('a\tb', publicKey), RangeError);
  });
});

describe('parseNote', () => {
  const sig = new Uint8Array(68).fill(1);

  it('splits text and signature lines at the last blank line', async () => {
    const note = await signNote(TEXT, [signer]);
    const { text, signatures } = parseNote(note);
    assert.equal(text, TEXT);
    assert.equal(signatures.length, 1);
    assert.equal(signatures[0]!.name, 'log.example');
    assert.deepEqual(signatures[0]!.keyId, noteKeyId('log.example', ED25519_SIG_TYPE, publicKey));
    assert.equal(signatures[0]!.signature.length, 64);
  });

  it('refuses control characters, a carriage return, no block, no final newline', () => {
    const ok = `${TEXT}\n${line('a', sig)}`;
    assert.doesNotThrow(() => parseNote(ok));
    for (const bad of [
      ok.replace('origin', 'ori\u0000gin'),
      ok.replace('origin', 'ori\tgin'),
      ok.replace('origin', 'ori\u001fgin'),
      ok.replace('origin', 'ori\u007fgin'),
      ok.replace('origin\n', 'origin\r\n'),
      `${TEXT}${line('a', sig)}`,
      ok.slice(0, -1),
      `${TEXT}\n`,
    ])
      assert.throws(() => parseNote(bad), RangeError, JSON.stringify(bad));
  });

  it('at most 100 signatures', () => {
    const many = (n: number) => `${TEXT}\n${line('a', sig).repeat(n)}`;
    assert.equal(parseNote(many(100)).signatures.length, 100);
    assert.throws(() => parseNote(many(101)), /too many signatures/);
  });

  it('each signature line: em dash, space, a key name, one space, base64 of id and signature', () => {
    const note = (l: string) => `${TEXT}\n${l}`;
    assert.equal(parseNote(note(line('a', new Uint8Array(5)))).signatures[0]!.signature.length, 1);
    for (const bad of [
      `- a ${bytesToBase64(sig)}\n`,
      `\u2014a ${bytesToBase64(sig)}\n`,
      `\u2014  ${bytesToBase64(sig)}\n`,
      `\u2014 a+b ${bytesToBase64(sig)}\n`,
      `\u2014 a ${bytesToBase64(sig)} x\n`,
      `\u2014 a\n`,
      line('a', new Uint8Array(4)),
      `\u2014 a not-base64!\n`,
    ])
      assert.throws(() => parseNote(note(bad)), JSON.stringify(bad));
  });
});

describe('signing and verifying', () => {
  it('signNote refuses text without a final newline, no signer, a bad signer name', async () => {
    await assert.rejects(signNote('no newline', [signer]), /must end with a newline/);
    await assert.rejects(signNote(TEXT, []), /at least one signature/);
    await assert.rejects(signNote(TEXT, [{ ...signer, name: 'a b' }]), /invalid key name/);
  });

  it('a signature counts only under its own name, key id and a 64-byte length', async () => {
    const note = await signNote(TEXT, [signer]);
    const { text, signatures } = parseNote(note);
    const key = { name: signer.name, publicKey };
    assert.equal(verifyNoteSignature(text, signatures, key), true);
    assert.equal(verifyNoteSignature(`${text}x\n`, signatures, key), false, 'other text');
    const [s] = signatures as [(typeof signatures)[0]];
    assert.equal(verifyNoteSignature(text, [{ ...s, name: 'other' }], key), false);
    const otherId = new Uint8Array(s.keyId);
    otherId[0]! ^= 1;
    assert.equal(verifyNoteSignature(text, [{ ...s, keyId: otherId }], key), false);
    const long = new Uint8Array([...s.signature, 0]);
    assert.equal(verifyNoteSignature(text, [{ ...s, signature: long }], key), false);
    assert.equal(
      verifyNoteSignature(text, [{ ...s, signature: s.signature.subarray(0, 63) }], key),
      false,
    );
    const other = ed25519.getPublicKey(new Uint8Array(32).fill(6));
    assert.equal(
      verifyNoteSignature(text, signatures, { name: signer.name, publicKey: other }),
      false,
    );
    // A malformed key makes no exception escape.
    assert.equal(
      verifyNoteSignature(text, signatures, { name: signer.name, publicKey: new Uint8Array(3) }),
      false,
    );
    // Any one good signature among others is enough.
    assert.equal(verifyNoteSignature(text, [{ ...s, name: 'x' }, s], key), true);
  });

  it('appendSignatures keeps the note and adds well-formed lines only', async () => {
    const note = await signNote(TEXT, [signer]);
    const extra = signatureLine('witness', new Uint8Array(4), new Uint8Array(64));
    const both = appendSignatures(note, [extra]);
    assert.equal(both, note + extra);
    assert.equal(parseNote(both).signatures.length, 2);
    assert.throws(() => appendSignatures(note, ['not a line\n']), RangeError);
    assert.throws(() => appendSignatures('no block', [extra]), RangeError);
    assert.equal(extra, `\u2014 witness ${bytesToBase64(new Uint8Array(68))}\n`);
  });

  it('each refusal of a verifier key says which rule it broke', () => {
    const good = formatVerifierKey('log.example', publicKey);
    const [, id, b64] = good.split(/\+(.*)/s)[1]!.match(/^([0-9a-f]{8})\+(.*)$/s)!;
    const refuses = (vkey: string, message: string) =>
      assert.throws(() => parseVerifierKey(vkey), { name: 'RangeError', message }, vkey);
    refuses('no-separators', 'verifier key must be name+id+key');
    refuses(`log.example+${id}`, 'verifier key must be name+id+key');
    // A '+' first: an empty name (the second '+' is there; only the name is wrong).
    refuses(`+${id}+${b64}`, 'invalid verifier key');
    refuses(`log.example+${id}x+${b64}`, 'invalid verifier key');
    refuses(`log.example+x${id}+${b64}`, 'invalid verifier key');
    refuses(`log.example+${id.toUpperCase()}+${b64}`, 'invalid verifier key');
    // A supported type with a 31-byte key, an unsupported type with a 32-byte key.
    refuses(
      `log.example+${id}+${bytesToBase64(new Uint8Array([ED25519_SIG_TYPE, ...publicKey.subarray(1)]))}`,
      'unsupported verifier key type',
    );
    refuses(
      `log.example+${id}+${bytesToBase64(new Uint8Array([0x02, ...publicKey]))}`,
      'unsupported verifier key type',
    );
    assert.throws(() => formatVerifierKey('bad name', publicKey), {
      name: 'RangeError',
      message: 'invalid key name',
    });
  });

  it('each refusal of a note says which rule it broke', async () => {
    const note = await signNote(TEXT, [signer]);
    const refuses = (n: string, message: string) =>
      assert.throws(() => parseNote(n), { name: 'RangeError', message }, JSON.stringify(n));
    refuses(note.replace('origin', 'ori\u0001gin'), 'note contains control characters');
    refuses('origin\n1\n', 'note has no signature block');
    refuses(note.slice(0, -1), 'signature block must end with a newline');
    refuses(`${TEXT}\n- log.example AAAAAAAA\n`, 'malformed signature line');
    refuses(`${TEXT}\n\u2014 log.example AAAA AAAA\n`, 'malformed signature line');
    refuses(
      `${TEXT}\n\u2014 log.example ${bytesToBase64(new Uint8Array(4))}\n`,
      'signature too short',
    );
    // A note whose text is a bare newline still has a signature block at index 0.
    const bare = parseNote(`\n\n${signatureLine('w', new Uint8Array(4), new Uint8Array(64))}`);
    assert.equal(bare.text, '\n');
    assert.equal(bare.signatures.length, 1);
  });

  it('a signature of the wrong length under the right name and id is skipped, not fatal', async () => {
    const note = await signNote(TEXT, [signer]);
    const { text, signatures } = parseNote(note);
    const s = signatures[0]!;
    const key = { name: signer.name, publicKey };
    // First a 63-byte signature under the same name and key id, then the real one: still valid.
    assert.equal(
      verifyNoteSignature(text, [{ ...s, signature: s.signature.subarray(0, 63) }, s], key),
      true,
    );
    // A key of the wrong size whose id matches: the verifier throws inside, the answer is false.
    const short = publicKey.subarray(0, 31);
    const forShort = { ...s, keyId: noteKeyId(signer.name, ED25519_SIG_TYPE, short) };
    assert.equal(
      verifyNoteSignature(text, [forShort], { name: signer.name, publicKey: short }),
      false,
    );
  });

  it('the origin names the first 8 bytes of SHA-256 of the log key', () => {
    assert.equal(
      logOrigin(publicKey),
      `cloister.log/${bytesToHex(sha256(publicKey).subarray(0, 8))}`,
    );
  });
});
