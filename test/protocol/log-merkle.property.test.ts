/**
 * Properties of the RFC 9162 Merkle tree (src/protocol/log/merkle.ts), checked against a naive
 * transcription of the RFC's recursive definitions (MTH, PATH, PROOF; §2.1.1, §2.1.3.1,
 * §2.1.4.1) over node:crypto SHA-256:
 *
 * - for any size n and index i < n, the inclusion proof is PATH(i, D[0:n]) and verifies against
 *   MTH(D[0:n]); for any 0 < m <= n the consistency proof is PROOF(m, D[0:n]) and verifies;
 * - flipping any bit of a proof hash, the leaf or a root, adding or removing a proof element,
 *   changing the index or size1: verification fails;
 * - changing the tree size (inclusion) or size2 (consistency): fails against the root of the
 *   claimed size. Against the ORIGINAL root it passes exactly when the RFC recursion gives the
 *   claimed size the same path shape. That is RFC 9162 as written (the reference
 *   implementation does the same): a root hash does not commit to its tree size; the signed
 *   checkpoint binds the two;
 * - CompactRange built by appending has the MerkleTree's root and right edge at every size,
 *   and fromState(size, hashes) restores it.
 *
 * All leaves are distinct: with equal leaves, proofs for different indexes can legitimately
 * coincide.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  CompactRange,
  MerkleTree,
  leafHash,
  leafHashOfText,
  rootFromLeafHashes,
  verifyConsistency,
  verifyInclusion,
} from '../../src/protocol/log/merkle.js';

// --- the RFC, naively -------------------------------------------------------------------------

const H = (...parts: Uint8Array[]): Uint8Array =>
  new Uint8Array(createHash('sha256').update(Buffer.concat(parts)).digest());
const leafOf = (data: Uint8Array) => H(Uint8Array.of(0), data);
const node = (l: Uint8Array, r: Uint8Array) => H(Uint8Array.of(1), l, r);
/** Largest power of two strictly less than n. */
function splitK(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}
/** MTH over leaf hashes D. */
function mth(d: readonly Uint8Array[]): Uint8Array {
  if (d.length === 0) return H();
  if (d.length === 1) return d[0]!;
  const k = splitK(d.length);
  return node(mth(d.slice(0, k)), mth(d.slice(k)));
}
/** PATH(m, D). */
function path(m: number, d: readonly Uint8Array[]): Uint8Array[] {
  if (d.length === 1) return [];
  const k = splitK(d.length);
  return m < k
    ? [...path(m, d.slice(0, k)), mth(d.slice(k))]
    : [...path(m - k, d.slice(k)), mth(d.slice(0, k))];
}
/** SUBPROOF(m, D, b); PROOF(m, D) = SUBPROOF(m, D, true). */
function subproof(m: number, d: readonly Uint8Array[], b: boolean): Uint8Array[] {
  if (m === d.length) return b ? [] : [mth(d)];
  const k = splitK(d.length);
  return m <= k
    ? [...subproof(m, d.slice(0, k), b), mth(d.slice(k))]
    : [...subproof(m - k, d.slice(k), false), mth(d.slice(0, k))];
}
/** Which side each PATH element sits on, leaf first: what a verifier's bit tricks decode. */
function inclusionShape(m: number, n: number): string {
  if (n === 1) return '';
  const k = splitK(n);
  return m < k ? `${inclusionShape(m, k)}R` : `${inclusionShape(m - k, n - k)}L`;
}
function consistencyShape(m: number, n: number, b = true): string {
  if (m === n) return b ? '' : 'T';
  const k = splitK(n);
  return m <= k ? `${consistencyShape(m, k, b)}R` : `${consistencyShape(m - k, n - k, false)}L`;
}

// --- fixtures ---------------------------------------------------------------------------------

const SMALL = 300;
const BIG = 2 ** 14 + 5;
const BIG_SIZES = [1023, 1024, 1025, 4095, 4096, 4097, 2 ** 14 - 1, 2 ** 14, 2 ** 14 + 1, BIG];
const data = (i: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, i);
  return b;
};
const leaves = Array.from({ length: BIG }, (_, i) => leafOf(data(i)));
const tree = MerkleTree.fromLeafHashes(leaves);
const roots = Array.from({ length: SMALL + 1 }, (_, n) => tree.root(n));

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const hexes = (bs: readonly Uint8Array[]) => bs.map(hex);
const flip = (b: Uint8Array, bit: number): Uint8Array => {
  const c = b.slice();
  const i = Math.floor(bit / 8) % c.length;
  c[i] = c[i]! ^ (1 << (bit % 8));
  return c;
};
const replaceAt = <T>(xs: readonly T[], i: number, x: T): T[] =>
  xs.map((y, j) => (j === i ? x : y));

/** (n, i): 1 <= n <= max, 0 <= i < n. */
const sizeAndIndex = (max = SMALL) =>
  fc.integer({ min: 1, max }).chain((n) => fc.tuple(fc.constant(n), fc.nat(n - 1)));
/** (m, n): 1 <= m <= n <= max (m < n when strict). */
const twoSizes = (max = SMALL, strict = false) =>
  fc
    .integer({ min: strict ? 2 : 1, max })
    .chain((n) => fc.tuple(fc.integer({ min: 1, max: strict ? n - 1 : n }), fc.constant(n)));
const bigSize = fc.oneof(fc.constantFrom(...BIG_SIZES), fc.integer({ min: SMALL, max: BIG }));
const hash32 = fc.uint8Array({ minLength: 32, maxLength: 32 });

describe('merkle: the fixtures', () => {
  it('leafHash is H(0x00 || data); the tree agrees with the naive MTH at the big sizes', () => {
    for (const i of [0, 1, 255, BIG - 1]) assert.equal(hex(leafHash(data(i))), hex(leaves[i]!));
    for (const n of BIG_SIZES) {
      const want = hex(mth(leaves.slice(0, n)));
      assert.equal(hex(tree.root(n)), want, `root(${n})`);
      assert.equal(hex(rootFromLeafHashes(leaves.slice(0, n))), want, `rootFromLeafHashes(${n})`);
    }
    assert.equal(new Set(leaves.map(hex)).size, BIG, 'all leaves distinct');
  });

  it('leafHashOfText is H(0x00 || UTF-8 of the text), for any text (non-ASCII, lone surrogates)', () => {
    const texts = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.string({ unit: 'grapheme', maxLength: 100 }),
      fc.string({ unit: 'binary', maxLength: 100 }),
    );
    fc.assert(
      fc.property(texts, (text) => {
        assert.equal(hex(leafHashOfText(text)), hex(leafOf(Buffer.from(text, 'utf8'))));
      }),
      { numRuns: 1000 },
    );
  });
});

describe('merkle: proofs are the RFC 9162 ones and verify', () => {
  it('any size n <= 300: root(n) = MTH, inclusionProof(i, n) = PATH, and it verifies', () => {
    fc.assert(
      fc.property(sizeAndIndex(), ([n, i]) => {
        const d = leaves.slice(0, n);
        const root = mth(d);
        assert.equal(hex(tree.root(n)), hex(root));
        assert.equal(hex(roots[n]!), hex(root));
        const proof = tree.inclusionProof(i, n);
        assert.deepEqual(hexes(proof), hexes(path(i, d)));
        assert.ok(verifyInclusion(i, n, leaves[i]!, proof, root));
        // The tree built with exactly n leaves answers the same.
        assert.deepEqual(hexes(MerkleTree.fromLeafHashes(d).inclusionProof(i)), hexes(proof));
      }),
      { numRuns: 150 },
    );
  });

  it('any 0 < m <= n <= 300: consistencyProof(m, n) = PROOF, and it verifies', () => {
    fc.assert(
      fc.property(twoSizes(), ([m, n]) => {
        const proof = tree.consistencyProof(m, n);
        assert.deepEqual(hexes(proof), hexes(subproof(m, leaves.slice(0, n), true)));
        assert.ok(verifyConsistency(m, n, roots[m]!, roots[n]!, proof));
      }),
      { numRuns: 200 },
    );
  });

  it('larger trees (up to 2^14 + 5 leaves, powers of two and their neighbours)', () => {
    fc.assert(
      fc.property(bigSize, fc.nat(), fc.nat(), (n, a, b) => {
        const [i, m] = [a % n, 1 + (b % n)];
        const root = tree.root(n);
        const inc = tree.inclusionProof(i, n);
        assert.ok(inc.length <= Math.ceil(Math.log2(n)));
        assert.ok(verifyInclusion(i, n, leaves[i]!, inc, root));
        const con = tree.consistencyProof(m, n);
        assert.ok(verifyConsistency(m, n, tree.root(m), root, con));
        assert.deepEqual(hexes(con), hexes(subproof(m, leaves.slice(0, n), true)));
      }),
      { numRuns: 25 },
    );
  });
});

describe('merkle: tampered inclusion proofs fail', () => {
  it('a flipped bit in any proof hash, the leaf hash or the root', () => {
    fc.assert(
      fc.property(sizeAndIndex(), fc.nat(), fc.nat(255), ([n, i], which, bit) => {
        const proof = tree.inclusionProof(i, n);
        const [leaf, root] = [leaves[i]!, roots[n]!];
        const target = which % (proof.length + 2);
        if (target < proof.length) {
          const bad = replaceAt(proof, target, flip(proof[target]!, bit));
          assert.equal(verifyInclusion(i, n, leaf, bad, root), false);
        } else if (target === proof.length) {
          assert.equal(verifyInclusion(i, n, flip(leaf, bit), proof, root), false);
        } else {
          assert.equal(verifyInclusion(i, n, leaf, proof, flip(root, bit)), false);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('any other index', () => {
    fc.assert(
      fc.property(sizeAndIndex(), fc.nat(SMALL + 10), ([n, i], j) => {
        fc.pre(j !== i);
        const proof = tree.inclusionProof(i, n);
        assert.equal(verifyInclusion(j, n, leaves[i]!, proof, roots[n]!), false);
        // ... even with the leaf that really is at j.
        assert.equal(verifyInclusion(j, n, leaves[j]!, proof, roots[n]!), false);
      }),
      { numRuns: 300 },
    );
  });

  it('any other size: fails against its root; against the old root only if the path shape is the same', () => {
    let sameShape = 0;
    fc.assert(
      fc.property(sizeAndIndex(), fc.integer({ min: 0, max: SMALL }), ([n, i], n2) => {
        fc.pre(n2 !== n);
        const proof = tree.inclusionProof(i, n);
        const [leaf, root] = [leaves[i]!, roots[n]!];
        assert.equal(verifyInclusion(i, n2, leaf, proof, roots[n2]!), false);
        const same = i < n2 && inclusionShape(i, n2) === inclusionShape(i, n);
        if (same) sameShape++;
        assert.equal(verifyInclusion(i, n2, leaf, proof, root), same);
      }),
      { numRuns: 300 },
    );
    // e.g. leaf 0 of 3 and of 4 both go (left, left); the generator finds such pairs often.
    assert.ok(verifyInclusion(0, 4, leaves[0]!, tree.inclusionProof(0, 3), roots[3]!));
    assert.ok(sameShape > 0);
  });

  it('an added, removed, duplicated or wrong-length proof element', () => {
    fc.assert(
      fc.property(sizeAndIndex(), fc.nat(), hash32, fc.nat(4), ([n, i], at, extra, kind) => {
        const proof = tree.inclusionProof(i, n);
        const [leaf, root] = [leaves[i]!, roots[n]!];
        const pos = at % (proof.length + 1);
        const insert = (x: Uint8Array) => [...proof.slice(0, pos), x, ...proof.slice(pos)];
        let bad: Uint8Array[];
        if (kind === 0) bad = insert(extra);
        else if (kind === 1) bad = insert(proof.length ? proof[at % proof.length]! : root);
        else if (kind === 2) bad = insert(at % 2 ? leaf : root);
        else if (proof.length === 0) bad = [extra];
        else if (kind === 3) bad = proof.filter((_, j) => j !== at % proof.length);
        else {
          const j = at % proof.length;
          const odd = at % 2 ? proof[j]!.subarray(1) : Uint8Array.from([...proof[j]!, 0]);
          bad = replaceAt(proof, j, odd);
        }
        assert.equal(verifyInclusion(i, n, leaf, bad, root), false);
      }),
      { numRuns: 300 },
    );
  });

  it('never throws, whatever it is given', () => {
    const arbHash = fc.oneof(hash32, fc.uint8Array({ maxLength: 40 }));
    fc.assert(
      fc.property(
        fc.oneof(fc.integer(), fc.double()),
        fc.oneof(fc.integer(), fc.double()),
        arbHash,
        fc.array(arbHash, { maxLength: 12 }),
        arbHash,
        (i, n, leaf, proof, root) => {
          assert.equal(typeof verifyInclusion(i, n, leaf, proof, root), 'boolean');
          assert.equal(typeof verifyConsistency(i, n, leaf, root, proof), 'boolean');
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('merkle: tampered consistency proofs fail', () => {
  it('a flipped bit in any proof hash, in root1 or in root2', () => {
    fc.assert(
      fc.property(twoSizes(SMALL, true), fc.nat(), fc.nat(255), ([m, n], which, bit) => {
        const proof = tree.consistencyProof(m, n);
        const [r1, r2] = [roots[m]!, roots[n]!];
        const target = which % (proof.length + 2);
        if (target < proof.length) {
          const bad = replaceAt(proof, target, flip(proof[target]!, bit));
          assert.equal(verifyConsistency(m, n, r1, r2, bad), false);
        } else if (target === proof.length) {
          assert.equal(verifyConsistency(m, n, flip(r1, bit), r2, proof), false);
        } else {
          assert.equal(verifyConsistency(m, n, r1, flip(r2, bit), proof), false);
        }
        assert.equal(verifyConsistency(m, n, r2, r1, proof), false, 'swapped roots');
      }),
      { numRuns: 300 },
    );
  });

  it('any other size1 (with the old roots or with the root of that size)', () => {
    fc.assert(
      fc.property(twoSizes(SMALL, true), fc.integer({ min: 0, max: SMALL + 5 }), ([m, n], m2) => {
        fc.pre(m2 !== m);
        const proof = tree.consistencyProof(m, n);
        assert.equal(verifyConsistency(m2, n, roots[m]!, roots[n]!, proof), false);
        if (m2 <= SMALL) {
          assert.equal(verifyConsistency(m2, n, roots[m2]!, roots[n]!, proof), false);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('any other size2: fails against its root; against the old root only if the proof shape is the same', () => {
    let sameShape = 0;
    fc.assert(
      fc.property(twoSizes(SMALL, true), fc.integer({ min: 0, max: SMALL }), ([m, n], n2) => {
        fc.pre(n2 !== n);
        const proof = tree.consistencyProof(m, n);
        assert.equal(verifyConsistency(m, n2, roots[m]!, roots[n2]!, proof), false);
        const same = n2 > m && consistencyShape(m, n2) === consistencyShape(m, n);
        if (same) sameShape++;
        assert.equal(verifyConsistency(m, n2, roots[m]!, roots[n]!, proof), same);
      }),
      { numRuns: 300 },
    );
    assert.ok(sameShape > 0);
  });

  it('an added, removed or wrong-length proof element; a non-empty proof for equal sizes', () => {
    fc.assert(
      fc.property(twoSizes(SMALL, true), fc.nat(), hash32, fc.nat(3), ([m, n], at, extra, kind) => {
        const proof = tree.consistencyProof(m, n);
        const [r1, r2] = [roots[m]!, roots[n]!];
        const pos = at % (proof.length + 1);
        const insert = (x: Uint8Array) => [...proof.slice(0, pos), x, ...proof.slice(pos)];
        let bad: Uint8Array[];
        if (kind === 0) bad = insert(extra);
        else if (kind === 1) bad = insert(proof[at % proof.length]!);
        else if (kind === 2) bad = proof.filter((_, j) => j !== at % proof.length);
        else bad = replaceAt(proof, at % proof.length, proof[at % proof.length]!.subarray(1));
        assert.equal(verifyConsistency(m, n, r1, r2, bad), false);
        // Equal sizes: only the empty proof, only with equal roots.
        assert.ok(verifyConsistency(n, n, r2, r2, []));
        assert.equal(verifyConsistency(n, n, r2, r2, [extra]), false);
        assert.equal(verifyConsistency(n, n, r1, r2, []), false);
      }),
      { numRuns: 300 },
    );
  });
});

describe('merkle: sizes past 2^32 leaves', () => {
  // Trees larger than 2^32 leaves, by their subtree hashes: the first 2^32 leaves only ever
  // appear as the hash of their one complete subtree (A), the next ones as leaves. Sizes whose
  // low 32 bits look like a power of two (2^32 + 1, 2^32 + 2, ...) are not powers of two.
  const K = 2 ** 32;
  const A = H(Buffer.from('the first 2^32 leaves'));
  const tail = Array.from({ length: 64 }, (_, i) => leafOf(data(i)));
  const mthAt = (lo: number, hi: number): Uint8Array => {
    if (lo === 0 && hi === K) return A;
    if (hi - lo === 1) return tail[lo - K]!;
    const k = splitK(hi - lo);
    return node(mthAt(lo, lo + k), mthAt(lo + k, hi));
  };
  /** SUBPROOF(m, D[lo:hi], b) over those hashes. */
  const subproofAt = (m: number, lo: number, hi: number, b: boolean): Uint8Array[] => {
    if (m === hi - lo) return b ? [] : [mthAt(lo, hi)];
    const k = splitK(hi - lo);
    return m <= k
      ? [...subproofAt(m, lo, lo + k, b), mthAt(lo + k, hi)]
      : [...subproofAt(m - k, lo + k, hi, false), mthAt(lo, lo + k)];
  };

  it('a consistency proof from 2^32 + j verifies: a power of two by value, not by its low 32 bits', () => {
    for (const j of [1, 2, 3, 4, 5, 8]) {
      for (const t of [1, 2, 3, 7, 20]) {
        const [m, n] = [K + j, K + j + t];
        const proof = subproofAt(m, 0, n, true);
        assert.ok(verifyConsistency(m, n, mthAt(0, m), mthAt(0, n), proof), `${m} -> ${n}`);
        assert.equal(verifyConsistency(m, n, mthAt(0, m), mthAt(0, n), [A, ...proof]), false);
      }
      // The compact range a signer keeps agrees with those roots.
      const range = CompactRange.fromState(K, [A]);
      for (let i = 0; i < j; i++) range.append(tail[i]!);
      assert.equal(hex(range.root()), hex(mthAt(0, K + j)));
    }
    // From 2^32 itself (a power of two: its root is left out of the proof).
    const proof = subproofAt(K, 0, K + 3, true);
    assert.ok(verifyConsistency(K, K + 3, A, mthAt(0, K + 3), proof));
  });
});

describe('merkle: CompactRange', () => {
  it('appending leaf by leaf gives the MerkleTree root and right edge at every size', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: SMALL }), (n) => {
        const range = CompactRange.empty();
        for (let k = 0; k <= n; k++) {
          assert.equal(range.size, k);
          assert.equal(hex(range.root()), hex(roots[k]!));
          assert.deepEqual(hexes(range.hashes()), hexes(tree.compactRange(k)));
          if (k < n) range.append(leaves[k]!);
        }
      }),
      { numRuns: 20 },
    );
  });

  it('fromState(size, hashes) round-trips and then appends like the original', () => {
    fc.assert(
      fc.property(twoSizes(BIG), ([n, k]) => {
        const edge = tree.compactRange(n);
        assert.equal(edge.length, n.toString(2).replace(/0/g, '').length, 'one hash per set bit');
        const range = CompactRange.fromState(n, edge);
        assert.equal(range.size, n);
        assert.equal(hex(range.root()), hex(tree.root(n)));
        assert.deepEqual(hexes(range.hashes()), hexes(edge));
        // Continue from the restored state (a bounded number of appends).
        const end = Math.min(k, n + 600);
        for (let j = n; j < end; j++) range.append(leaves[j]!);
        assert.equal(hex(range.root()), hex(tree.root(end)));
        assert.deepEqual(hexes(range.hashes()), hexes(tree.compactRange(end)));
        // The state handed out is a copy.
        const out = range.hashes();
        out.forEach((h) => h.fill(0));
        assert.equal(hex(range.root()), hex(tree.root(end)));
      }),
      { numRuns: 60 },
    );
  });

  it('fromState refuses any hash count other than popcount(size), and hashes not 32 bytes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: BIG }), fc.nat(20), (n, count) => {
        const pop = n.toString(2).replace(/0/g, '').length;
        const hs = Array.from({ length: count }, (_, j) => leaves[j]!);
        if (count === pop) {
          assert.equal(CompactRange.fromState(n, hs).size, n);
          if (count > 0) {
            const short = replaceAt(hs, 0, hs[0]!.subarray(1));
            assert.throws(() => CompactRange.fromState(n, short), RangeError);
          }
        } else {
          assert.throws(() => CompactRange.fromState(n, hs), RangeError);
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('merkle: a stage (appends on paper) and the tree appending its leaves', () => {
  const other = (i: number) => leafOf(data(1_000_000 + i));

  it('a stage has the root and size of the tree with its leaves, at every step', () => {
    fc.assert(
      fc.property(twoSizes(BIG), ([n, k]) => {
        const t = MerkleTree.fromLeafHashes(leaves.slice(0, n));
        const stage = t.stage();
        assert.equal(stage.size, n);
        assert.equal(hex(stage.root()), hex(tree.root(n)));
        const end = Math.min(k, n + 300);
        for (let j = n; j < end; j++) {
          stage.append(leaves[j]!);
          assert.equal(stage.size, j + 1);
          assert.equal(hex(stage.root()), hex(tree.root(j + 1)));
        }
        // The tree itself is unchanged.
        assert.equal(t.size, n);
        assert.equal(hex(t.root()), hex(tree.root(n)));
      }),
      { numRuns: 60 },
    );
  });

  it('the tree ends the same whatever it appends after a stage: its leaves, some, others', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: SMALL }),
        fc.integer({ min: 0, max: 200 }),
        fc.integer({ min: 0, max: 200 }),
        fc.constantFrom('same', 'prefix-then-other', 'other-first', 'restaged', 'after-more'),
        (n, k, cut, how) => {
          const t = MerkleTree.fromLeafHashes(leaves.slice(0, n));
          const staged = leaves.slice(n, n + k);
          const stage = t.stage();
          for (const h of staged) stage.append(h);
          let appended: Uint8Array[];
          if (how === 'same') appended = staged;
          else if (how === 'prefix-then-other')
            appended = [...staged.slice(0, cut), ...Array.from({ length: 5 }, (_, i) => other(i))];
          else if (how === 'other-first') appended = [other(0), ...staged];
          else if (how === 'restaged') {
            // A newer stage replaces it; the old one's leaves are then hashed as usual.
            t.stage().append(other(1));
            appended = staged;
          } else {
            appended = staged.slice(0, cut);
            for (const h of appended) t.append(h);
            // Staged further after the tree took some of it.
            stage.append(other(2));
            appended = [...staged.slice(cut), other(2)];
          }
          for (const h of appended) t.append(h);
          const all =
            how === 'after-more'
              ? [...leaves.slice(0, n), ...staged, other(2)]
              : [...leaves.slice(0, n), ...appended];
          const fresh = MerkleTree.fromLeafHashes(all);
          assert.equal(t.size, fresh.size);
          for (let s = 0; s <= all.length; s += Math.max(1, Math.floor(all.length / 40))) {
            assert.equal(hex(t.root(s)), hex(fresh.root(s)));
            assert.deepEqual(hexes(t.compactRange(s)), hexes(fresh.compactRange(s)));
          }
          assert.equal(hex(t.root()), hex(mth(all)));
          if (all.length > 0) {
            const i = all.length - 1;
            assert.deepEqual(hexes(t.inclusionProof(i)), hexes(fresh.inclusionProof(i)));
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it("the tree takes the stage's node hashes instead of computing them again", () => {
    // White box: a node altered in the stage after the fact shows up in the tree.
    const t = MerkleTree.fromLeafHashes(leaves.slice(0, 6));
    const stage = t.stage();
    stage.append(leaves[6]!);
    stage.append(leaves[7]!);
    stage.node(1, 3).fill(0);
    t.append(leaves[6]!);
    t.append(leaves[7]!);
    // Leaf 4's proof at size 8 holds node (1, 3), the subtree of leaves 6 and 7.
    assert.notDeepEqual(hexes(t.inclusionProof(4)), hexes(tree.inclusionProof(4, 8)));
    // Leaves it did not stage are hashed as usual.
    const u = MerkleTree.fromLeafHashes(leaves.slice(0, 6));
    const s2 = u.stage();
    s2.append(other(6));
    s2.append(other(7));
    s2.node(1, 3).fill(0);
    u.append(leaves[6]!);
    u.append(leaves[7]!);
    assert.deepEqual(hexes(u.inclusionProof(4)), hexes(tree.inclusionProof(4, 8)));
  });
});
