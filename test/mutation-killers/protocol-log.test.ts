/**
 * src/protocol/log (entries, checkpoints, cosignatures, Merkle trees) for the mutation run
 * (MUTATION_SCOPE=protocol-log, docs/mutation-testing.md): the entry schema at each bound and
 * its type list against docs/protocol/transparency-log.md, the subjects recomputed from their
 * definition, each checkpoint and cosignature refusal by its message, the note verifier's
 * reasons one at a time, and each guard of the proof verifiers and trees on its own. The
 * vectors and property tests prove the formats; these prove every check is needed.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToBase64 } from '../../src/protocol/encoding.js';
import {
  cosignatureMessage,
  decodeCosignature,
  encodeCosignature,
  formatCheckpoint,
  parseCheckpoint,
  verifyCheckpointNote,
  verifyCosignature,
} from '../../src/protocol/log/checkpoint.js';
import {
  LOG_ENTRY_TYPES,
  LogEntrySchema,
  logEntryBytes,
  logEntryLeafHash,
  sessionLogSubject,
  walletLogSubject,
} from '../../src/protocol/log/entry.js';
import {
  CompactRange,
  EMPTY_ROOT,
  leafHash,
  MerkleTree,
  nodeHash,
  rootFromLeafHashes,
  verifyConsistency,
  verifyInclusion,
} from '../../src/protocol/log/merkle.js';
import {
  appendSignatures,
  COSIGNATURE_SIG_TYPE,
  noteKeyId,
  signatureLine,
  signNote,
  type NoteKey,
  type NoteSigner,
} from '../../src/protocol/log/note.js';

const sha = (...parts: (Uint8Array | string | number[])[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(typeof p === 'string' ? p : Uint8Array.from(p));
  return new Uint8Array(h.digest());
};
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const msg = (re: RegExp) => (e: unknown) => e instanceof RangeError && re.test(e.message);
const h32 = (i: number) => sha([i & 0xff, i >> 8]);

describe('entry.ts', () => {
  const entry = { v: 1, type: 'credential.submitted', subject: 'abc', time: 0 };

  it('the entry types are exactly the documented ones', () => {
    const doc = readFileSync(
      new URL('../../docs/protocol/transparency-log.md', import.meta.url),
      'utf8',
    );
    const documented = [...doc.matchAll(/^\| `([a-z_]+\.[a-z_]+)` +\|/gm)].map((m) => m[1]);
    assert.deepEqual([...new Set(documented)].sort(), [...LOG_ENTRY_TYPES].sort());
    assert.equal(LOG_ENTRY_TYPES.length, 32);
    for (const type of LOG_ENTRY_TYPES)
      assert.ok(LogEntrySchema.safeParse({ ...entry, type }).success);
    assert.ok(!LogEntrySchema.safeParse({ ...entry, type: '' }).success);
  });

  it('subject: 1 to 64 of [A-Za-z0-9_-]', () => {
    const ok = (subject: string) => LogEntrySchema.safeParse({ ...entry, subject }).success;
    assert.ok(ok('a'));
    assert.ok(ok('A'.repeat(64)));
    assert.ok(!ok(''));
    assert.ok(!ok('A'.repeat(65)));
    for (const c of ['A', 'Z', 'a', 'z', '0', '9', '_', '-']) {
      assert.ok(ok(c), c);
      assert.ok(ok('x' + c), c);
    }
    for (const c of ['@', '[', '`', '{', '/', ':', '.', ' ', '+']) {
      assert.ok(!ok(c), c);
      assert.ok(!ok('x' + c), c);
    }
    assert.ok(!ok(' ' + 'a'.repeat(64)));
    assert.ok(!ok('a'.repeat(64) + ' '));
  });

  it('time, version, strictness, digests', () => {
    const ok = (e: object) => LogEntrySchema.safeParse(e).success;
    assert.ok(!ok({ ...entry, time: -1 }));
    assert.ok(!ok({ ...entry, time: 1.5 }));
    assert.ok(!ok({ ...entry, v: 2 }));
    assert.ok(!ok({ ...entry, x: 1 }));
    const d = 'ab'.repeat(32);
    assert.ok(ok({ ...entry, digests: {} }));
    assert.ok(ok({ ...entry, digests: { envelope: d } }));
    assert.ok(ok({ ...entry, digests: { payload: d } }));
    assert.ok(ok({ ...entry, digests: { envelope: d, payload: d } }));
    assert.ok(!ok({ ...entry, digests: { envelope: d, x: d } }));
    assert.ok(!ok({ ...entry, digests: { envelope: d.slice(2) } }));
    assert.ok(!ok({ ...entry, digests: { payload: d.toUpperCase() } }));
  });

  it('wallet: generation, address (either form), verdict, rule', () => {
    const ok = (wallet: object) => LogEntrySchema.safeParse({ ...entry, wallet }).success;
    assert.ok(ok({ generation: 1 }));
    assert.ok(!ok({ generation: 0 }));
    assert.ok(!ok({ generation: 1, x: 1 }));
    assert.ok(!ok({}));
    const addr = (address: string) => ok({ generation: 1, address });
    // Solana: 32 to 44 alphanumerics.
    assert.ok(addr('A'.repeat(32)));
    assert.ok(addr('z'.repeat(44)));
    assert.ok(!addr('A'.repeat(31)));
    assert.ok(!addr('A'.repeat(45)));
    for (const c of ['0', '9', 'A', 'Z', 'a', 'z']) assert.ok(addr(c + 'A'.repeat(31)), c);
    for (const c of ['/', ':', '@', '[', '`', '{', '_', '-'])
      assert.ok(!addr(c + 'A'.repeat(31)) && !addr('A'.repeat(31) + c), c);
    assert.ok(!addr(' ' + 'A'.repeat(44)));
    assert.ok(!addr('A'.repeat(44) + ' '));
    // Ethereum: 0x and 40 hex digits. Every such text is also 42 alphanumerics, which the Solana
    // branch accepts: the second branch decides nothing (docs/mutation-testing.md).
    assert.ok(addr('0x' + 'a'.repeat(40)));
    assert.ok(ok({ generation: 1, verdict: 'allowed' }));
    assert.ok(ok({ generation: 1, verdict: 'denied' }));
    assert.ok(!ok({ generation: 1, verdict: '' }));
    const rule = (r: string) => ok({ generation: 1, rule: r });
    assert.ok(rule('a'));
    assert.ok(rule('z'.repeat(32)));
    assert.ok(rule('_'));
    assert.ok(!rule(''));
    assert.ok(!rule('a'.repeat(33)));
    for (const c of ['A', '0', '-', '`', '{', ' ']) assert.ok(!rule(c) && !rule('a' + c), c);
    assert.ok(!rule(' ' + 'a'.repeat(32)));
    assert.ok(!rule('a'.repeat(32) + ' '));
  });

  it('subjects: domain-separated SHA-256 of the lower-case id', () => {
    const id = '0B5F8A0E-1C2D-4E3F-8A9B-0C1D2E3F4A5B';
    assert.equal(sessionLogSubject(id), hex(sha(`cloister/log/session/v1\n${id.toLowerCase()}`)));
    assert.equal(sessionLogSubject(id), sessionLogSubject(id.toLowerCase()));
    assert.equal(walletLogSubject(id), hex(sha(`cloister/log/wallet/v1\n${id.toLowerCase()}`)));
    assert.equal(walletLogSubject(id), walletLogSubject(id.toLowerCase()));
  });

  it('the leaf: SHA-256(0x00 ‖ JCS(entry))', () => {
    const e = { v: 1 as const, type: 'session.revoked' as const, subject: 'b', time: 5 };
    const jcs = '{"subject":"b","time":5,"type":"session.revoked","v":1}';
    assert.equal(Buffer.from(logEntryBytes(e)).toString(), jcs);
    assert.deepEqual(logEntryLeafHash(e), sha([0], jcs));
  });
});

describe('checkpoint.ts', async () => {
  const root = new Uint8Array(32).fill(9);
  const b64root = bytesToBase64(root);

  it('formatCheckpoint: the text, and each refusal', () => {
    assert.equal(formatCheckpoint({ origin: 'o', size: 3, rootHash: root }), `o\n3\n${b64root}\n`);
    assert.equal(
      formatCheckpoint({ origin: 'o', size: 0, rootHash: root, extensions: ['a', 'b c'] }),
      `o\n0\n${b64root}\na\nb c\n`,
    );
    const f = (cp: object) => () =>
      formatCheckpoint({ origin: 'o', size: 1, rootHash: root, ...cp });
    assert.throws(f({ origin: '' }), msg(/^invalid origin$/));
    assert.throws(f({ origin: ' o' }), msg(/^invalid origin$/));
    assert.throws(f({ origin: 'o ' }), msg(/^invalid origin$/));
    assert.throws(f({ origin: 'o\np' }), msg(/^invalid origin$/));
    assert.throws(f({ size: -1 }), msg(/^invalid size$/));
    assert.throws(f({ size: 1.5 }), msg(/^invalid size$/));
    assert.throws(f({ size: 2 ** 53 }), msg(/^invalid size$/));
    assert.equal(f({ size: 2 ** 53 - 1 })(), `o\n${2 ** 53 - 1}\n${b64root}\n`);
    assert.throws(f({ rootHash: new Uint8Array(31) }), msg(/^root hash must be 32 bytes$/));
    assert.throws(f({ rootHash: new Uint8Array(33) }), msg(/^root hash must be 32 bytes$/));
    assert.throws(f({ extensions: [''] }), msg(/^invalid extension line$/));
    assert.throws(f({ extensions: ['a\nb'] }), msg(/^invalid extension line$/));
  });

  it('parseCheckpoint: each refusal by its message', () => {
    const p = (t: string) => () => parseCheckpoint(t);
    const good = `o\n12\n${b64root}\n`;
    assert.deepEqual(parseCheckpoint(good), {
      origin: 'o',
      size: 12,
      rootHash: root,
      extensions: [],
    });
    assert.deepEqual(parseCheckpoint(`o\n0\n${b64root}\nx\ny\n`).extensions, ['x', 'y']);
    assert.throws(p(good.slice(0, -1)), msg(/^checkpoint must end with a newline$/));
    assert.throws(p('o\n12\n'), msg(/^checkpoint needs origin, size and root$/));
    assert.throws(p(`\n12\n${b64root}\n`), msg(/^invalid origin$/));
    assert.throws(p(` o\n12\n${b64root}\n`), msg(/^invalid origin$/));
    assert.throws(p(`o \n12\n${b64root}\n`), msg(/^invalid origin$/));
    for (const size of ['01', '', '1a', 'a1', '-1', '+1', ' 1', '1 ', '1.0', '1e3'])
      assert.throws(p(`o\n${size}\n${b64root}\n`), msg(/^invalid tree size$/), size);
    for (const size of ['0', '1', '9', '10', '90', '9007199254740991'])
      assert.equal(parseCheckpoint(`o\n${size}\n${b64root}\n`).size, Number(size));
    assert.throws(p(`o\n9007199254740992\n${b64root}\n`), msg(/^tree size too large$/));
    assert.throws(
      p(`o\n1\n${bytesToBase64(new Uint8Array(31))}\n`),
      msg(/^root hash must be 32 bytes$/),
    );
    assert.throws(p(`o\n1\n${b64root}\na\n\nb\n`), msg(/^empty extension line$/));
    assert.throws(p(`o\n1\n${b64root}\n\n`), msg(/^empty extension line$/));
  });

  it('cosignatures: the signed message, the encoding, each refusal', () => {
    assert.equal(
      Buffer.from(cosignatureMessage('T\n', 7)).toString(),
      'cosignature/v1\ntime 7\nT\n',
    );
    const sig = new Uint8Array(64).fill(3);
    const enc = encodeCosignature(0x0102030405, sig);
    assert.deepEqual([...enc.subarray(0, 8)], [0, 0, 0, 1, 2, 3, 4, 5]);
    assert.deepEqual(enc.subarray(8), sig);
    assert.equal(enc.length, 72);
    assert.equal(encodeCosignature(0, sig).length, 72);
    assert.equal(encodeCosignature(Number.MAX_SAFE_INTEGER, sig).length, 72);
    assert.throws(() => encodeCosignature(-1, sig), msg(/^invalid timestamp$/));
    assert.throws(() => encodeCosignature(1.5, sig), msg(/^invalid timestamp$/));
    assert.throws(() => encodeCosignature(2 ** 53, sig), msg(/^invalid timestamp$/));
    assert.throws(
      () => encodeCosignature(1, new Uint8Array(63)),
      msg(/^Ed25519 signature must be 64 bytes$/),
    );
    assert.throws(
      () => encodeCosignature(1, new Uint8Array(65)),
      msg(/^Ed25519 signature must be 64 bytes$/),
    );
    const dec = decodeCosignature(enc);
    assert.equal(dec.timestamp, 0x0102030405);
    assert.deepEqual(dec.signature, sig);
    dec.signature[0] = 99;
    assert.equal(enc[8], 3, 'the signature is a copy');
    assert.throws(
      () => decodeCosignature(new Uint8Array(71)),
      msg(/^cosignature must be 72 bytes$/),
    );
    assert.throws(
      () => decodeCosignature(new Uint8Array(73)),
      msg(/^cosignature must be 72 bytes$/),
    );
    const max = encodeCosignature(Number.MAX_SAFE_INTEGER, sig);
    assert.equal(decodeCosignature(max).timestamp, Number.MAX_SAFE_INTEGER);
    const over = max.slice();
    over[7] = 0; // 2^53 - 1 + 1 = 0x0020_0000_0000_0000
    over.set([0, 0x20, 0, 0, 0, 0, 0, 0], 0);
    assert.throws(() => decodeCosignature(over), msg(/^timestamp out of range$/));
    // An offset view decodes from its own first byte.
    const padded = new Uint8Array(80);
    padded.set(enc, 8);
    assert.equal(decodeCosignature(padded.subarray(8)).timestamp, 0x0102030405);
  });

  const logSecret = new Uint8Array(32).fill(1);
  const logKey: NoteKey = { name: 'log.test', publicKey: ed25519.getPublicKey(logSecret) };
  const logSigner: NoteSigner = { ...logKey, sign: (m) => ed25519.sign(m, logSecret) };
  const witness = (n: number, name = `w${n}`) => {
    const secret = new Uint8Array(32).fill(10 + n);
    const key: NoteKey = { name, publicKey: ed25519.getPublicKey(secret) };
    const line = (text: string, ts = 1000 + n) => {
      const s = ed25519.sign(cosignatureMessage(text, ts), secret);
      const id = noteKeyId(name, COSIGNATURE_SIG_TYPE, key.publicKey);
      return signatureLine(name, id, encodeCosignature(ts, s));
    };
    return { key, line };
  };
  const text = `log.test\n5\n${b64root}\n`;
  const note = await signNote(text, [logSigner]);

  it('verifyCosignature: name, key id, signature, malformed bytes', () => {
    const w = witness(1);
    const full = appendSignatures(note, [w.line(text)]);
    const sigLine = full.split('\n').at(-2)!;
    const bytes = Buffer.from(sigLine.split(' ')[2]!, 'base64');
    const sig = { name: 'w1', keyId: bytes.subarray(0, 4), signature: bytes.subarray(4) };
    assert.deepEqual(verifyCosignature(text, sig, w.key), { valid: true, timestamp: 1001 });
    assert.deepEqual(verifyCosignature(text, { ...sig, name: 'w2' }, w.key), { valid: false });
    assert.deepEqual(verifyCosignature(text, { ...sig, keyId: new Uint8Array(4) }, w.key), {
      valid: false,
    });
    assert.deepEqual(verifyCosignature(text + 'x\n', sig, w.key), { valid: false });
    assert.deepEqual(
      verifyCosignature(text, { ...sig, signature: sig.signature.subarray(1) }, w.key),
      {
        valid: false,
      },
    );
    assert.deepEqual(verifyCosignature(text, sig, witness(2, 'w1').key), { valid: false });
  });

  it('verifyCheckpointNote: each reason on its own', async () => {
    const v = verifyCheckpointNote(note, logKey);
    assert.deepEqual(v, {
      valid: true,
      checkpoint: { origin: 'log.test', size: 5, rootHash: root, extensions: [] },
      reasons: [],
      witnessed: [],
    });
    assert.deepEqual(verifyCheckpointNote('junk', logKey), {
      valid: false,
      reasons: ['checkpoint: malformed note'],
      witnessed: [],
    });
    // Signed note but not a checkpoint.
    assert.deepEqual(verifyCheckpointNote(await signNote('a\nb\n', [logSigner]), logKey).reasons, [
      'checkpoint: malformed note',
    ]);
    const other = { name: 'log.test', publicKey: ed25519.getPublicKey(new Uint8Array(32).fill(2)) };
    assert.deepEqual(verifyCheckpointNote(note, other).reasons, [
      'checkpoint: no valid signature by the log key',
    ]);
    const otherOrigin = await signNote(`elsewhere\n5\n${b64root}\n`, [logSigner]);
    assert.deepEqual(verifyCheckpointNote(otherOrigin, logKey).reasons, [
      'checkpoint: origin does not match the log key name',
    ]);
    assert.equal(verifyCheckpointNote(otherOrigin, logKey).valid, false);
  });

  it('verifyCheckpointNote: witnesses counted once by name and by key; the threshold', () => {
    const [a, b] = [witness(1), witness(2)];
    const signed = appendSignatures(note, [a.line(text), b.line(text)]);
    const opts = (witnesses: NoteKey[], witnessThreshold?: number) =>
      verifyCheckpointNote(signed, logKey, { witnesses, witnessThreshold });
    assert.deepEqual(opts([a.key, b.key], 2).witnessed, ['w1', 'w2']);
    assert.equal(opts([a.key, b.key], 2).valid, true);
    assert.deepEqual(opts([a.key, a.key, b.key], 3).reasons, [
      'checkpoint: 2 of 3 required witness cosignatures',
    ]);
    // The same key under another name: the cosigned message does not commit to the name.
    const alias = witness(1, 'alias');
    const aliasSigned = appendSignatures(note, [a.line(text), alias.line(text)]);
    const r = verifyCheckpointNote(aliasSigned, logKey, {
      witnesses: [a.key, alias.key],
      witnessThreshold: 2,
    });
    assert.deepEqual(r.witnessed, ['w1']);
    assert.equal(r.valid, false);
    // The same name with another key: counted once.
    const sameName = witness(3, 'w1');
    const nameSigned = appendSignatures(note, [a.line(text), sameName.line(text)]);
    assert.deepEqual(
      verifyCheckpointNote(nameSigned, logKey, { witnesses: [a.key, sameName.key] }).witnessed,
      ['w1'],
    );
    // A witness listed but not cosigning does not block a later one.
    const c = witness(4);
    assert.deepEqual(opts([c.key, b.key], 1).witnessed, ['w2']);
    assert.equal(opts([c.key, b.key], 1).valid, true);
    assert.deepEqual(opts([c.key], 0).reasons, []);
    assert.deepEqual(opts([c.key]).reasons, []);
    assert.deepEqual(opts([c.key], 1).reasons, [
      'checkpoint: 0 of 1 required witness cosignatures',
    ]);
    for (const t of [-1, 1.5, Number.NaN])
      assert.deepEqual(
        opts([a.key], t).reasons,
        ['checkpoint: invalid witness threshold'],
        String(t),
      );
    assert.deepEqual(verifyCheckpointNote(signed, logKey).witnessed, []);
  });
});

describe('merkle.ts', () => {
  const leaves = Array.from({ length: 1100 }, (_, i) => h32(i));

  it('leaf and node hashes carry their prefixes; the empty root', () => {
    assert.deepEqual(leafHash(Uint8Array.of(7)), sha([0, 7]));
    assert.deepEqual(nodeHash(Uint8Array.of(1), Uint8Array.of(2, 3)), sha([1, 1, 2, 3]));
    assert.deepEqual(EMPTY_ROOT, sha([]));
    assert.deepEqual(rootFromLeafHashes([]), EMPTY_ROOT);
    assert.deepEqual(rootFromLeafHashes([leaves[0]!]), leaves[0]);
    assert.deepEqual(
      rootFromLeafHashes(leaves.slice(0, 3)),
      nodeHash(nodeHash(leaves[0]!, leaves[1]!), leaves[2]!),
    );
  });

  it('a tree beyond its first buffer (1024 hashes) keeps every hash', () => {
    const t = MerkleTree.fromLeafHashes(leaves);
    assert.equal(t.size, 1100);
    assert.deepEqual(t.root(), rootFromLeafHashes(leaves));
    assert.deepEqual(t.leafHash(1099), leaves[1099]);
    assert.deepEqual(t.leafHash(0), leaves[0]);
    assert.deepEqual(t.root(1025), rootFromLeafHashes(leaves.slice(0, 1025)));
    const c = CompactRange.empty();
    for (const l of leaves) c.append(l);
    assert.deepEqual(c.root(), t.root());
    assert.deepEqual(c.hashes(), t.compactRange());
  });

  it('verifyInclusion: each guard', () => {
    const t = MerkleTree.fromLeafHashes(leaves.slice(0, 7));
    const root = t.root();
    for (let i = 0; i < 7; i++)
      assert.ok(verifyInclusion(i, 7, leaves[i]!, t.inclusionProof(i), root), String(i));
    const proof = t.inclusionProof(6);
    assert.ok(!verifyInclusion(7, 7, leaves[6]!, proof, root));
    assert.ok(!verifyInclusion(-1, 7, leaves[6]!, proof, root));
    assert.ok(!verifyInclusion(6.5, 7, leaves[6]!, proof, root));
    assert.ok(!verifyInclusion(6, 2 ** 53, leaves[6]!, proof, root));
    assert.ok(!verifyInclusion(6, 7, leaves[6]!.subarray(1), proof, root));
    assert.ok(!verifyInclusion(6, 7, leaves[6]!, proof, root.subarray(1)));
    assert.ok(!verifyInclusion(6, 7, leaves[6]!, [...proof, leaves[0]!], root));
    assert.ok(!verifyInclusion(6, 7, leaves[6]!, proof.slice(1), root));
    assert.ok(!verifyInclusion(6, 7, leaves[6]!, [proof[0]!.subarray(1), ...proof.slice(1)], root));
    assert.ok(!verifyInclusion(5, 7, leaves[6]!, proof, root));
    assert.ok(!verifyInclusion(6, 7, leaves[5]!, proof, root));
    assert.ok(verifyInclusion(0, 1, leaves[0]!, [], leaves[0]!));
    assert.ok(!verifyInclusion(0, 1, leaves[0]!, [], leaves[1]!));
    assert.ok(!verifyInclusion(0, 0, leaves[0]!, [], leaves[0]!));
  });

  it('verifyConsistency: each guard', () => {
    const t = MerkleTree.fromLeafHashes(leaves.slice(0, 11));
    for (const [m, n] of [
      [1, 11],
      [4, 11],
      [7, 11],
      [8, 9],
      [3, 4],
    ] as const)
      assert.ok(
        verifyConsistency(m, n, t.root(m), t.root(n), t.consistencyProof(m, n)),
        `${m} ${n}`,
      );
    const p = t.consistencyProof(7, 11);
    const [r7, r11] = [t.root(7), t.root(11)];
    assert.ok(!verifyConsistency(0, 11, EMPTY_ROOT, r11, p));
    assert.ok(!verifyConsistency(11, 7, r11, r7, p));
    assert.ok(!verifyConsistency(-1, 11, r7, r11, p));
    assert.ok(!verifyConsistency(7, 2 ** 53, r7, r11, p));
    assert.ok(!verifyConsistency(7, 11, [...r7] as never, r11, p));
    assert.ok(!verifyConsistency(7, 11, r7, [...r11] as never, p));
    assert.ok(!verifyConsistency(7, 11, r7, r11, []));
    assert.ok(!verifyConsistency(7, 11, r7, r11, [...p, r7]));
    assert.ok(!verifyConsistency(7, 11, r7, r11, p.slice(1)));
    assert.ok(!verifyConsistency(7, 11, r7, r11, [p[0]!.subarray(1), ...p.slice(1)]));
    assert.ok(!verifyConsistency(7, 11, r7.subarray(1), r11, p));
    assert.ok(!verifyConsistency(7, 11, r7, r11.subarray(1), p));
    assert.ok(!verifyConsistency(7, 11, r11, r11, p));
    assert.ok(!verifyConsistency(7, 11, r7, r7, p));
    assert.ok(verifyConsistency(7, 7, r7, r7, []));
    assert.ok(!verifyConsistency(7, 7, r7, r11, []));
    assert.ok(!verifyConsistency(7, 7, r7, r7, [r7]));
    const p8 = t.consistencyProof(8, 11);
    assert.ok(verifyConsistency(8, 11, t.root(8), r11, p8));
    assert.ok(!verifyConsistency(8, 11, r7, r11, p8));
  });

  it('CompactRange: state checks, copies, the empty root', () => {
    assert.deepEqual(CompactRange.empty().root(), EMPTY_ROOT);
    assert.equal(CompactRange.empty().size, 0);
    assert.deepEqual(CompactRange.empty().hashes(), []);
    assert.throws(
      () => CompactRange.fromState(-1, []),
      msg(/^size must be a non-negative safe integer$/),
    );
    assert.throws(
      () => CompactRange.fromState(1.5, []),
      msg(/^size must be a non-negative safe integer$/),
    );
    const err = /^a compact range of this size needs one 32-byte hash per set bit$/;
    assert.throws(() => CompactRange.fromState(3, [leaves[0]!]), msg(err));
    assert.throws(() => CompactRange.fromState(2, [leaves[0]!, leaves[1]!]), msg(err));
    assert.throws(() => CompactRange.fromState(1, [leaves[0]!.subarray(1)]), msg(err));
    const t = MerkleTree.fromLeafHashes(leaves.slice(0, 5));
    const state = t.compactRange();
    const c = CompactRange.fromState(5, state);
    assert.equal(c.size, 5);
    state[0]!.fill(0);
    assert.deepEqual(c.root(), t.root(), 'fromState keeps its own copies');
    c.hashes()[0]!.fill(0);
    assert.deepEqual(c.root(), t.root(), 'hashes() hands out copies');
    c.append(leaves[5]!);
    assert.deepEqual(c.root(), rootFromLeafHashes(leaves.slice(0, 6)));
    assert.throws(() => c.append(leaves[0]!.subarray(1)), msg(/^leaf hash must be 32 bytes$/));
    assert.equal(c.size, 6);
  });

  it('MerkleTree: range checks and copies', () => {
    const t = MerkleTree.fromLeafHashes(leaves.slice(0, 6));
    assert.throws(() => t.append(leaves[0]!.subarray(1)), msg(/^leaf hash must be 32 bytes$/));
    assert.equal(t.size, 6);
    assert.throws(() => t.leafHash(6), msg(/^index is outside the tree$/));
    assert.throws(() => t.leafHash(-1), msg(/^index is outside the tree$/));
    assert.throws(() => t.root(7), msg(/^size is beyond the tree$/));
    assert.throws(() => t.root(-1), msg(/^size is beyond the tree$/));
    assert.deepEqual(t.root(0), EMPTY_ROOT);
    assert.throws(() => t.inclusionProof(3, 3), msg(/^index is outside the tree$/));
    assert.throws(() => t.inclusionProof(0, 7), msg(/^size is beyond the tree$/));
    assert.throws(() => t.consistencyProof(0, 6), msg(/^need 0 < size1 <= size2$/));
    assert.throws(() => t.consistencyProof(5, 4), msg(/^need 0 < size1 <= size2$/));
    assert.throws(() => t.consistencyProof(1.5, 4), msg(/^need 0 < size1 <= size2$/));
    assert.throws(() => t.consistencyProof(1, 7), msg(/^size is beyond the tree$/));
    assert.deepEqual(t.consistencyProof(6, 6), []);
    assert.deepEqual(t.consistencyProof(4, 4), []);
    assert.deepEqual(t.compactRange(0), []);
    assert.deepEqual(t.compactRange(1), [leaves[0]]);
    assert.deepEqual(t.compactRange(6), [t.root(4), nodeHash(leaves[4]!, leaves[5]!)]);
    t.leafHash(0).fill(0);
    t.root().fill(0);
    t.inclusionProof(0)[0]!.fill(0);
    t.consistencyProof(3)[0]!.fill(0);
    t.compactRange()[0]!.fill(0);
    assert.deepEqual(t.leafHash(0), leaves[0]);
    assert.deepEqual(t.root(), rootFromLeafHashes(leaves.slice(0, 6)));
    assert.deepEqual(
      t.inclusionProof(0),
      MerkleTree.fromLeafHashes(leaves.slice(0, 6)).inclusionProof(0),
    );
  });
});
