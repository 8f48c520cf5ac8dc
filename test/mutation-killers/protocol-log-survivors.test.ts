/**
 * Survivors of the first protocol-log run over src/protocol/log (docs/mutation-testing.md) that
 * protocol-log.test.ts left alive: each test fails when its check is removed. A file of its own
 * so that the incremental run keeps the results protocol-log.test.ts already decided.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToBase64, bytesToHex } from '../../src/protocol/encoding.js';
import {
  cosignatureMessage,
  encodeCosignature,
  verifyCheckpointNote,
} from '../../src/protocol/log/checkpoint.js';
import {
  MerkleTree,
  leafHash,
  nodeHash,
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
} from '../../src/protocol/log/note.js';

describe('merkle.ts: equal sizes compare whole roots', () => {
  it('a root that is a prefix of the other, or not bytes at all, is not consistent', () => {
    const t = MerkleTree.fromLeafHashes([1, 2, 3].map((i) => leafHash(Uint8Array.of(i))));
    const r = t.root();
    assert.ok(verifyConsistency(3, 3, r, r, []));
    assert.ok(!verifyConsistency(3, 3, r.subarray(0, 31), r, []));
    assert.ok(!verifyConsistency(3, 3, r, r.subarray(0, 31), []));
    assert.ok(!verifyConsistency(3, 3, [...r] as never, r, []));
    assert.ok(!verifyConsistency(3, 3, r, [...r] as never, []));
  });
});

describe('merkle.ts: each guard refuses what the arithmetic alone would accept', () => {
  const h = leafHash(Uint8Array.of(1));
  const c = leafHash(Uint8Array.of(2));
  const c31 = c.subarray(0, 31);
  const h31 = h.subarray(0, 31);

  it('inclusion: index outside the tree, a short proof hash, a proof longer than the path', () => {
    assert.ok(!verifyInclusion(1, 1, h, [], h));
    assert.ok(!verifyInclusion(-1, 1, h, [], h));
    assert.ok(verifyInclusion(1, 2, h, [c], nodeHash(c, h)));
    assert.ok(!verifyInclusion(1, 2, h, [c31], nodeHash(c31, h)));
    assert.ok(!verifyInclusion(0, 1, h, [c], nodeHash(c, h)));
  });

  it('consistency: sizes that are not sizes, short proof hashes, a short old root', () => {
    assert.ok(!verifyConsistency(0, 0, h, h, []));
    assert.ok(!verifyConsistency(-1, -1, h, h, []));
    assert.ok(!verifyConsistency(1.5, 1.5, h, h, []));
    assert.ok(verifyConsistency(1, 2, h, nodeHash(h, c), [c]));
    assert.ok(!verifyConsistency(1, 2, h, nodeHash(h, c31), [c31]));
    assert.ok(verifyConsistency(1, 4, h, nodeHash(nodeHash(h, c), c), [c, c]));
    assert.ok(!verifyConsistency(1, 4, h, nodeHash(nodeHash(h, c), c31), [c, c31]));
    assert.ok(!verifyConsistency(1, 2, h31, nodeHash(h31, c), [c]));
  });

  it('consistency: one size that is not a size is enough, though the arithmetic would accept', () => {
    // Each call passes the other checks: size1 is neither 0 nor above size2, and the folding
    // ends with sn at 0 and both roots matched.
    assert.ok(!verifyConsistency(1.5, 2, h, nodeHash(h, c), [c]));
    assert.ok(!verifyConsistency(-1, 2, h, nodeHash(h, c), [h, c]));
    // 2^53 is not a safe integer; 2^53 − 1 is, and has as many bits: the same 53-hash path.
    const proof = Array.from({ length: 53 }, () => c);
    const root2 = proof.reduce((r, x) => nodeHash(r, x), h);
    assert.ok(verifyConsistency(1, 2 ** 53 - 1, h, root2, proof));
    assert.ok(!verifyConsistency(1, 2 ** 53, h, root2, proof));
  });

  it('a stored subtree hash never leaves the tree as a view', () => {
    const leaves = [1, 2, 3, 4, 5, 6].map((i) => leafHash(Uint8Array.of(i)));
    const t = MerkleTree.fromLeafHashes(leaves);
    const root4 = t.root(4).slice();
    const root = t.root().slice();
    t.root(4).fill(0);
    assert.deepEqual(t.root(4), root4);
    t.consistencyProof(4)[0]!.fill(0);
    assert.deepEqual(t.root(), root);
    assert.throws(() => t.compactRange(7), /^RangeError: size is beyond the tree$/);
  });
});

describe('checkpoint.ts: a witness name never stands for a key', () => {
  it('a witness named like another witness key is still counted apart from it', async () => {
    const logSecret = new Uint8Array(32).fill(1);
    const logKey: NoteKey = { name: 'log.test', publicKey: ed25519.getPublicKey(logSecret) };
    const text = `log.test\n5\n${bytesToBase64(new Uint8Array(32).fill(9))}\n`;
    const note = await signNote(text, [{ ...logKey, sign: (m) => ed25519.sign(m, logSecret) }]);
    const secretB = new Uint8Array(32).fill(21);
    const pubB = ed25519.getPublicKey(secretB);
    const secretA = new Uint8Array(32).fill(22);
    const a: NoteKey = {
      name: `key:${bytesToHex(pubB)}`,
      publicKey: ed25519.getPublicKey(secretA),
    };
    const b: NoteKey = { name: 'b', publicKey: pubB };
    const line = (k: NoteKey, secret: Uint8Array) =>
      signatureLine(
        k.name,
        noteKeyId(k.name, COSIGNATURE_SIG_TYPE, k.publicKey),
        encodeCosignature(7, ed25519.sign(cosignatureMessage(text, 7), secret)),
      );
    const signed = appendSignatures(note, [line(a, secretA), line(b, secretB)]);
    const v = verifyCheckpointNote(signed, logKey, { witnesses: [a, b], witnessThreshold: 2 });
    assert.deepEqual(v.witnessed, [a.name, 'b']);
    assert.equal(v.valid, true);
  });
});
