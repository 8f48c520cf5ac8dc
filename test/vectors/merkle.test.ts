/**
 * RFC 6962 / RFC 9162 §2.1 Merkle trees (src/protocol/log/merkle.ts) against standard data:
 *
 * - merkle/rfc6962-reference-tree.json: the 8-leaf Certificate Transparency reference tree
 *   (transparency-dev/merkle testonly/constants.go): hasher known answers, every complete
 *   subtree hash, the root of every size 0..8, and the 5+5 base inclusion/consistency proofs
 *   from cmd/proofgen. Each base proof must verify AND be exactly what MerkleTree generates.
 * - merkle/transparency-dev-testdata/{inclusion,consistency}/**.json: the files
 *   transparency-dev/merkle's cmd/proofgen writes from those base proofs: one `happy-path.json`
 *   per base proof plus mutations of it (bit flips, wrong index or size, components added or
 *   removed, garbage before or after) and some hand-written edge cases. Each file says whether
 *   the reference verifier must fail on it: `wantErr: true`. Our verifiers never throw, so
 *   "error" here means `false`. Hashes in these files are standard base64 and are deliberately
 *   not always 32 bytes long ("V3JvbmdMZWFm" is the 9 bytes "WrongLeaf"); `proof` may be null.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  CompactRange,
  EMPTY_ROOT,
  MerkleTree,
  leafHash,
  nodeHash,
  rootFromLeafHashes,
  verifyConsistency,
  verifyInclusion,
} from '../../src/protocol/log/merkle.js';
import { Tally, readVectorJson, tohex, unhex } from './helpers.js';

interface ReferenceTree {
  leaf_inputs_hex: string[];
  node_hashes_by_level: string[][];
  root_hashes_by_tree_size: Record<string, string>;
  hasher_known_answers: Array<{
    desc: string;
    op: 'empty_root' | 'hash_leaf' | 'hash_children';
    input_hex?: string;
    input_ascii?: string;
    left_ascii?: string;
    right_ascii?: string;
    want: string;
  }>;
  inclusion_proofs: {
    vectors: Array<{ leaf_index_1based: number; tree_size: number; proof: string[] }>;
  };
  consistency_proofs: { vectors: Array<{ size1: number; size2: number; proof: string[] }> };
}

interface InclusionCase {
  leafIdx: number;
  treeSize: number;
  root: string;
  leafHash: string;
  proof: string[] | null;
  desc: string;
  wantErr: boolean;
}

interface ConsistencyCase {
  size1: number;
  size2: number;
  root1: string;
  root2: string;
  proof: string[] | null;
  desc: string;
  wantErr: boolean;
}

const ref = readVectorJson<ReferenceTree>('merkle/rfc6962-reference-tree.json');
const leaves = ref.leaf_inputs_hex.map((h) => leafHash(unhex(h)));
const tree = MerkleTree.fromLeafHashes(leaves);
const refRoot = (n: number): string => ref.root_hashes_by_tree_size[String(n)]!;

const TESTDATA = 'merkle/transparency-dev-testdata';
/** Every .json file under test/vectors/data/<dir>, as paths relative to data/, sorted. */
function jsonFilesUnder(dir: string): string[] {
  const names = readdirSync(new URL(`./data/${dir}/`, import.meta.url), { recursive: true });
  return names
    .map((n) => String(n).split('\\').join('/'))
    .filter((n) => n.endsWith('.json'))
    .map((n) => `${dir}/${n}`)
    .sort();
}
const flipBit = (h: Uint8Array, bit: number): Uint8Array => {
  const c = h.slice();
  c[bit >> 3] = c[bit >> 3]! ^ (1 << (bit & 7));
  return c;
};
/** Test-side base64: the testdata holds deliberately odd-length "hashes", so no checks here. */
const b64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));

describe('RFC 6962 reference tree (transparency-dev/merkle testonly)', () => {
  it('the vector file is the one expected', () => {
    assert.equal(ref.leaf_inputs_hex.length, 8);
    assert.equal(Object.keys(ref.root_hashes_by_tree_size).length, 9);
    assert.deepEqual(
      ref.node_hashes_by_level.map((l) => l.length),
      [8, 4, 2, 1],
    );
    assert.equal(ref.hasher_known_answers.length, 4);
    assert.equal(ref.inclusion_proofs.vectors.length, 5);
    assert.equal(ref.consistency_proofs.vectors.length, 5);
  });

  it('EMPTY_ROOT is SHA-256 of the empty string', () => {
    const sha = createHash('sha256').update(Buffer.alloc(0)).digest('hex');
    assert.equal(sha, 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    assert.equal(tohex(EMPTY_ROOT), sha);
    assert.equal(refRoot(0), sha);
    assert.equal(tohex(rootFromLeafHashes([])), sha);
    assert.equal(tohex(new MerkleTree().root()), sha);
    assert.equal(tohex(tree.root(0)), sha);
    assert.equal(tohex(CompactRange.empty().root()), sha);
  });

  it('hasher known answers (rfc6962_test.go)', () => {
    const tally = new Tally();
    for (const k of ref.hasher_known_answers) {
      const input = (hex?: string, ascii?: string) =>
        hex !== undefined ? unhex(hex) : new Uint8Array(Buffer.from(ascii!, 'ascii'));
      let got: Uint8Array;
      if (k.op === 'empty_root') got = EMPTY_ROOT;
      else if (k.op === 'hash_leaf') got = leafHash(input(k.input_hex, k.input_ascii));
      else got = nodeHash(input(undefined, k.left_ascii), input(undefined, k.right_ascii));
      assert.equal(tohex(got), k.want, k.desc);
      tally.add(k.op);
    }
    assert.deepEqual(tally.toJSON(), { empty_root: 1, hash_children: 1, hash_leaf: 2 });
  });

  it('leaf hashes and every complete subtree hash', () => {
    let checked = 0;
    ref.node_hashes_by_level.forEach((level, k) => {
      level.forEach((want, j) => {
        const span = leaves.slice(j * 2 ** k, (j + 1) * 2 ** k);
        assert.equal(tohex(rootFromLeafHashes(span)), want, `level ${k} node ${j}`);
        assert.equal(tohex(MerkleTree.fromLeafHashes(span).root()), want, `level ${k} node ${j}`);
        checked++;
      });
    });
    assert.equal(checked, 15);
    leaves.forEach((_, i) =>
      assert.equal(tohex(tree.leafHash(i)), ref.node_hashes_by_level[0]![i]),
    );
  });

  it('the root of every tree size 0..8, by every way we compute one', () => {
    const range = CompactRange.empty();
    for (let n = 0; n <= 8; n++) {
      const want = refRoot(n);
      assert.equal(tohex(rootFromLeafHashes(leaves.slice(0, n))), want, `rootFromLeafHashes ${n}`);
      assert.equal(tohex(tree.root(n)), want, `MerkleTree(8).root(${n})`);
      assert.equal(tohex(MerkleTree.fromLeafHashes(leaves.slice(0, n)).root()), want, `size ${n}`);
      assert.equal(tohex(range.root()), want, `CompactRange ${n}`);
      assert.equal(range.size, n);
      // The compact range the signer keeps is the tree's right edge, and restores the root.
      assert.deepEqual(range.hashes().map(tohex), tree.compactRange(n).map(tohex), `edge ${n}`);
      const restored = CompactRange.fromState(n, tree.compactRange(n));
      assert.equal(tohex(restored.root()), want, `fromState ${n}`);
      assert.equal(restored.size, n);
      if (n < 8) range.append(leaves[n]!);
    }
  });

  it('CompactRange.fromState refuses a state that cannot be a compact range', () => {
    const edge = tree.compactRange(7); // 3 hashes: 4 + 2 + 1
    assert.equal(edge.length, 3);
    assert.throws(() => CompactRange.fromState(7, edge.slice(1)), RangeError);
    assert.throws(() => CompactRange.fromState(8, edge), RangeError);
    assert.throws(() => CompactRange.fromState(-1, []), RangeError);
    assert.throws(() => CompactRange.fromState(1.5, [edge[0]!]), RangeError);
    assert.throws(
      () => CompactRange.fromState(7, [edge[0]!, edge[1]!, edge[2]!.subarray(1)]),
      RangeError,
    );
    assert.throws(() => CompactRange.empty().append(new Uint8Array(31)), RangeError);
  });

  it('base inclusion proofs (cmd/proofgen) verify and are exactly what MerkleTree generates', () => {
    for (const v of ref.inclusion_proofs.vectors) {
      const index = v.leaf_index_1based - 1;
      const ctx = `leaf ${index} of ${v.tree_size}`;
      const proof = v.proof.map(unhex);
      assert.ok(
        verifyInclusion(index, v.tree_size, leaves[index]!, proof, unhex(refRoot(v.tree_size))),
        ctx,
      );
      assert.deepEqual(tree.inclusionProof(index, v.tree_size).map(tohex), v.proof, ctx);
      assert.deepEqual(
        MerkleTree.fromLeafHashes(leaves.slice(0, v.tree_size)).inclusionProof(index).map(tohex),
        v.proof,
        ctx,
      );
    }
  });

  it('base consistency proofs (cmd/proofgen) verify and are exactly what MerkleTree generates', () => {
    for (const v of ref.consistency_proofs.vectors) {
      const ctx = `${v.size1} -> ${v.size2}`;
      const [r1, r2] = [unhex(refRoot(v.size1)), unhex(refRoot(v.size2))];
      assert.ok(verifyConsistency(v.size1, v.size2, r1, r2, v.proof.map(unhex)), ctx);
      assert.deepEqual(tree.consistencyProof(v.size1, v.size2).map(tohex), v.proof, ctx);
    }
  });

  it('every (index, size) and every (size1, size2) proof in the 8-leaf tree verifies', () => {
    let inclusion = 0;
    let consistency = 0;
    for (let n = 1; n <= 8; n++) {
      const root = unhex(refRoot(n));
      for (let i = 0; i < n; i++) {
        assert.ok(verifyInclusion(i, n, leaves[i]!, tree.inclusionProof(i, n), root), `${i}/${n}`);
        inclusion++;
      }
      for (let m = 1; m <= n; m++) {
        const proof = tree.consistencyProof(m, n);
        assert.ok(verifyConsistency(m, n, unhex(refRoot(m)), root, proof), `${m} -> ${n}`);
        consistency++;
      }
    }
    assert.equal(inclusion, 36);
    assert.equal(consistency, 36);
  });

  it('MerkleTree refuses proofs it cannot answer', () => {
    assert.throws(() => tree.inclusionProof(8), RangeError);
    assert.throws(() => tree.inclusionProof(0, 9), RangeError);
    assert.throws(() => tree.inclusionProof(3, 3), RangeError);
    assert.throws(() => tree.inclusionProof(-1), RangeError);
    assert.throws(() => tree.consistencyProof(0, 8), RangeError);
    assert.throws(() => tree.consistencyProof(5, 4), RangeError);
    assert.throws(() => tree.consistencyProof(1, 9), RangeError);
    assert.throws(() => tree.root(9), RangeError);
    assert.throws(() => new MerkleTree().append(new Uint8Array(33)), RangeError);
  });
});

describe('transparency-dev/merkle testdata: inclusion', () => {
  const files = jsonFilesUnder(`${TESTDATA}/inclusion`);
  const cases = files.map((f) => [f, readVectorJson<InclusionCase>(f)] as const);

  it('the vector files are the ones expected', () => {
    assert.equal(files.length, 98);
    const accepted = cases.filter(([, c]) => !c.wantErr).map(([f]) => f.slice(TESTDATA.length));
    assert.deepEqual(accepted, [
      ...[0, 1, 2, 3, 4].map((i) => `/inclusion/${i}/happy-path.json`),
      '/inclusion/single-entry/matching-root-and-leaf.json',
    ]);
    for (const [f, c] of cases) assert.equal(typeof c.wantErr, 'boolean', f);
  });

  it('verifyInclusion accepts exactly the files that do not want an error', () => {
    const tally = new Tally();
    for (const [f, c] of cases) {
      const got = verifyInclusion(
        c.leafIdx,
        c.treeSize,
        b64(c.leafHash),
        (c.proof ?? []).map(b64),
        b64(c.root),
      );
      assert.equal(got, !c.wantErr, `${f} (${c.desc})`);
      tally.add(c.wantErr ? 'rejected' : 'accepted');
      tally.add(
        f
          .split('/')
          .pop()!
          .replace(/(@|\[).*$/, '')
          .replace(/\.json$/, ''),
      );
    }
    console.log('transparency-dev inclusion:', JSON.stringify(tally));
    assert.equal(tally.get('accepted'), 6);
    assert.equal(tally.get('rejected'), 92);
  });

  it('each happy path is a reference-tree proof that MerkleTree generates byte for byte', () => {
    const happy = cases.filter(([f]) => f.endsWith('/happy-path.json'));
    assert.equal(happy.length, 5);
    for (const [f, c] of happy) {
      assert.equal(tohex(b64(c.root)), refRoot(c.treeSize), f);
      assert.equal(tohex(b64(c.leafHash)), tohex(leaves[c.leafIdx]!), f);
      assert.deepEqual(
        tree.inclusionProof(c.leafIdx, c.treeSize).map(tohex),
        (c.proof ?? []).map((p) => tohex(b64(p))),
        f,
      );
    }
  });

  it('each happy path with one bit flipped in a 32-byte hash is rejected', () => {
    // The testdata's wrong leaves and roots are mostly not 32 bytes long, so a length check
    // alone rejects them; flipping a bit keeps the length and reaches the hash comparison.
    let n = 0;
    for (const [f, c] of cases.filter(([p]) => p.endsWith('/happy-path.json'))) {
      const [leaf, root, proof] = [b64(c.leafHash), b64(c.root), (c.proof ?? []).map(b64)];
      const run = (l: Uint8Array, r: Uint8Array, p: Uint8Array[]) =>
        verifyInclusion(c.leafIdx, c.treeSize, l, p, r);
      assert.ok(run(leaf, root, proof), f);
      for (const bit of [0, 7, 128, 255]) {
        assert.equal(run(flipBit(leaf, bit), root, proof), false, `${f} leaf bit ${bit}`);
        assert.equal(run(leaf, flipBit(root, bit), proof), false, `${f} root bit ${bit}`);
        proof.forEach((h, j) => {
          const bad = proof.map((x, k) => (k === j ? flipBit(h, bit) : x));
          assert.equal(run(leaf, root, bad), false, `${f} proof[${j}] bit ${bit}`);
        });
        n++;
      }
    }
    assert.equal(n, 20);
  });
});

describe('transparency-dev/merkle testdata: consistency', () => {
  const files = jsonFilesUnder(`${TESTDATA}/consistency`);
  const cases = files.map((f) => [f, readVectorJson<ConsistencyCase>(f)] as const);

  it('the vector files are the ones expected', () => {
    assert.equal(files.length, 98);
    const accepted = cases.filter(([, c]) => !c.wantErr).map(([f]) => f.slice(TESTDATA.length));
    assert.deepEqual(accepted, [
      ...[0, 1, 2, 3, 4].map((i) => `/consistency/${i}/happy-path.json`),
      '/consistency/additional/sizes-are-equal-one-and-proof-is-empty.json',
    ]);
    for (const [f, c] of cases) assert.equal(typeof c.wantErr, 'boolean', f);
  });

  it('verifyConsistency accepts exactly the files that do not want an error', () => {
    const tally = new Tally();
    for (const [f, c] of cases) {
      const got = verifyConsistency(
        c.size1,
        c.size2,
        b64(c.root1),
        b64(c.root2),
        (c.proof ?? []).map(b64),
      );
      assert.equal(got, !c.wantErr, `${f} (${c.desc})`);
      tally.add(c.wantErr ? 'rejected' : 'accepted');
      tally.add(
        f
          .split('/')
          .pop()!
          .replace(/(@|\[).*$/, '')
          .replace(/\.json$/, ''),
      );
    }
    console.log('transparency-dev consistency:', JSON.stringify(tally));
    assert.equal(tally.get('accepted'), 6);
    assert.equal(tally.get('rejected'), 92);
  });

  it('each happy path is a reference-tree proof that MerkleTree generates byte for byte', () => {
    const happy = cases.filter(([f]) => f.endsWith('/happy-path.json'));
    assert.equal(happy.length, 5);
    for (const [f, c] of happy) {
      assert.equal(tohex(b64(c.root1)), refRoot(c.size1), f);
      assert.equal(tohex(b64(c.root2)), refRoot(c.size2), f);
      assert.deepEqual(
        tree.consistencyProof(c.size1, c.size2).map(tohex),
        (c.proof ?? []).map((p) => tohex(b64(p))),
        f,
      );
    }
  });

  it('each happy path with one bit flipped in a 32-byte hash is rejected', () => {
    let n = 0;
    for (const [f, c] of cases.filter(([p]) => p.endsWith('/happy-path.json'))) {
      const [r1, r2, proof] = [b64(c.root1), b64(c.root2), (c.proof ?? []).map(b64)];
      const run = (a: Uint8Array, b: Uint8Array, p: Uint8Array[]) =>
        verifyConsistency(c.size1, c.size2, a, b, p);
      assert.ok(run(r1, r2, proof), f);
      for (const bit of [0, 7, 128, 255]) {
        assert.equal(run(flipBit(r1, bit), r2, proof), false, `${f} root1 bit ${bit}`);
        assert.equal(run(r1, flipBit(r2, bit), proof), false, `${f} root2 bit ${bit}`);
        proof.forEach((h, j) => {
          const bad = proof.map((x, k) => (k === j ? flipBit(h, bit) : x));
          assert.equal(run(r1, r2, bad), false, `${f} proof[${j}] bit ${bit}`);
        });
        n++;
      }
    }
    assert.equal(n, 20);
  });
});
