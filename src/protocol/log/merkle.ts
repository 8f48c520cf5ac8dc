/**
 * RFC 6962 / RFC 9162 §2.1 Merkle trees: hashing, proof verification (client and host), the
 * compact range an append-only signer keeps, and an in-memory tree that answers proofs for any
 * past size in O(log n). Pure, isomorphic (SHA-256 from ../sha256.ts: native under Node,
 * @noble/hashes in browsers).
 */
import { utf8 } from '../encoding.js';
import { sha256 } from '../sha256.js';

const LEAF_PREFIX = 0x00;
const NODE_PREFIX = 0x01;

export function leafHash(entry: Uint8Array): Uint8Array {
  const buf = new Uint8Array(1 + entry.length);
  buf[0] = LEAF_PREFIX;
  buf.set(entry, 1);
  return sha256(buf);
}

/**
 * leafHash of a text's UTF-8 bytes (a log entry's canonical JSON), the prefix and the text
 * encoded into one buffer: the host and the enclave hash one entry text each per appended entry.
 */
export function leafHashOfText(text: string): Uint8Array {
  // Entry texts are ASCII but for the odd string value: one byte per character then. Otherwise
  // the text takes more bytes than characters and is encoded the general way.
  let buf = new Uint8Array(1 + text.length);
  if (utf8.encodeInto(text, buf.subarray(1)).read !== text.length) {
    const bytes = utf8.encode(text);
    buf = new Uint8Array(1 + bytes.length);
    buf.set(bytes, 1);
  }
  buf[0] = LEAF_PREFIX;
  return sha256(buf);
}

export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  // Any lengths, as RFC 6962 defines it (the log itself only ever passes 32-byte hashes).
  const buf = new Uint8Array(1 + left.length + right.length);
  buf[0] = NODE_PREFIX;
  buf.set(left, 1);
  buf.set(right, 1 + left.length);
  return sha256(buf);
}

/** MTH({}): the hash of the empty string. */
export const EMPTY_ROOT: Uint8Array = sha256(new Uint8Array(0));

/** Largest power of two strictly less than n (n ≥ 2). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** MTH over a list of leaf hashes (RFC 9162 §2.1.1). */
export function rootFromLeafHashes(hashes: readonly Uint8Array[]): Uint8Array {
  if (hashes.length === 0) return EMPTY_ROOT;
  const mth = (lo: number, hi: number): Uint8Array => {
    if (hi - lo === 1) return hashes[lo]!;
    const k = splitPoint(hi - lo);
    return nodeHash(mth(lo, lo + k), mth(lo + k, hi));
  };
  return mth(0, hashes.length);
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

const isSize = (n: number) => Number.isSafeInteger(n) && n >= 0;
/**
 * Is the size n ≥ 1 a power of two? By value: JavaScript's bitwise operators see only the low 32
 * bits, so `n & (n - 1)` calls 2^32 + 1 a power of two (and past 2^32 leaves a valid consistency
 * proof would be refused, a node not stored would be looked up).
 */
const isPowerOfTwo = (n: number) => n >= 1 && 2 ** Math.floor(Math.log2(n)) === n;
const is32 = (h: Uint8Array | undefined) => h instanceof Uint8Array && h.length === 32;

/** RFC 9162 §2.1.3.2. Never throws: any malformed input is simply not a valid proof. */
export function verifyInclusion(
  index: number,
  size: number,
  leaf: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  if (!isSize(index) || !isSize(size) || index >= size || !is32(leaf) || !is32(root)) return false;
  if (!proof.every(is32)) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equal(r, root);
}

/**
 * RFC 9162 §2.1.4.2. As in the reference implementation's test data: size1 = 0 is an error,
 * size1 = size2 needs an empty proof and equal roots, size1 > size2 is an error.
 */
export function verifyConsistency(
  size1: number,
  size2: number,
  root1: Uint8Array,
  root2: Uint8Array,
  proof: readonly Uint8Array[],
): boolean {
  if (!isSize(size1) || !isSize(size2) || size1 === 0 || size1 > size2) return false;
  if (!(root1 instanceof Uint8Array) || !(root2 instanceof Uint8Array)) return false;
  if (size1 === size2) return proof.length === 0 && equal(root1, root2);
  if (proof.length === 0 || !proof.every(is32) || !is32(root1) || !is32(root2)) return false;
  // If size1 is a power of two, the proof omits the old root; put it back.
  const path = isPowerOfTwo(size1) ? [root1, ...proof] : [...proof];
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = path[0]!;
  let sr = path[0]!;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equal(fr, root1) && equal(sr, root2);
}

function popcount(n: number): number {
  let c = 0;
  for (let x = n; x > 0; x = Math.floor(x / 2)) c += x % 2;
  return c;
}

/**
 * The right edge of a tree: the roots of its perfect subtrees, largest first (one per set bit
 * of the size). Enough to append and to compute the root; O(log n) state.
 */
export class CompactRange {
  private constructor(
    private n: number,
    private readonly stack: Uint8Array[],
  ) {}

  static empty(): CompactRange {
    return new CompactRange(0, []);
  }

  static fromState(size: number, hashes: readonly Uint8Array[]): CompactRange {
    if (!isSize(size)) throw new RangeError('size must be a non-negative safe integer');
    if (hashes.length !== popcount(size) || !hashes.every(is32)) {
      throw new RangeError('a compact range of this size needs one 32-byte hash per set bit');
    }
    return new CompactRange(
      size,
      hashes.map((h) => h.slice()),
    );
  }

  get size(): number {
    return this.n;
  }

  append(leaf: Uint8Array): void {
    if (!is32(leaf)) throw new RangeError('leaf hash must be 32 bytes');
    let h = leaf;
    // Merge with equal-sized subtrees: one per trailing 1 bit of the old size.
    for (let m = this.n; m % 2 === 1; m = Math.floor(m / 2)) h = nodeHash(this.stack.pop()!, h);
    this.stack.push(h);
    this.n++;
  }

  root(): Uint8Array {
    if (this.n === 0) return EMPTY_ROOT;
    let r = this.stack[this.stack.length - 1]!;
    for (let i = this.stack.length - 2; i >= 0; i--) r = nodeHash(this.stack[i]!, r);
    return r;
  }

  hashes(): Uint8Array[] {
    return this.stack.map((h) => h.slice());
  }
}

/** A growable array of 32-byte hashes in one buffer (millions of leaves, no object per hash). */
class HashArray {
  private buf = new Uint8Array(32 * 1024);
  length = 0;

  push(h: Uint8Array): void {
    if ((this.length + 1) * 32 > this.buf.length) {
      const next = new Uint8Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf.set(h, this.length * 32);
    this.length++;
  }

  get(i: number): Uint8Array {
    return this.buf.subarray(i * 32, i * 32 + 32);
  }
}

/**
 * Every leaf hash plus, per level k, the hash of each complete aligned subtree of 2^k leaves.
 * The RFC recursion only ever splits off complete aligned left subtrees, so any subtree hash it
 * needs costs O(log n) lookups, for any past tree size.
 */
export class MerkleTree {
  private readonly levels: HashArray[] = [new HashArray()];
  /** The latest stage() of this tree: appends of the leaves it staged take its node hashes. */
  private staged: MerkleStage | null = null;

  static fromLeafHashes(hashes: readonly Uint8Array[]): MerkleTree {
    const t = new MerkleTree();
    t.appendMany(hashes);
    return t;
  }

  get size(): number {
    return this.levels[0]!.length;
  }

  append(leaf: Uint8Array): void {
    if (!is32(leaf)) throw new RangeError('leaf hash must be 32 bytes');
    // The stage's parents are this leaf's if it staged this very leaf at this index: node hashes
    // are a function of the leaves, the leaves before its base were already here when it was
    // made (the tree only grows), and every leaf since then matched it (else it was dropped).
    const stage = this.staged?.take(this.size, leaf) ? this.staged : null;
    if (!stage) this.staged = null;
    this.levels[0]!.push(leaf);
    // Complete the parents this leaf finishes.
    let idx = this.size - 1;
    for (let k = 0; idx % 2 === 1; k++) {
      const level = this.levels[k]!;
      const parent = stage
        ? stage.node(k + 1, Math.floor(idx / 2))
        : nodeHash(level.get(idx - 1), level.get(idx));
      if (!this.levels[k + 1]) this.levels.push(new HashArray());
      this.levels[k + 1]!.push(parent);
      idx = Math.floor(idx / 2);
    }
  }

  /**
   * Appends on paper: a stage starts at this tree's size and takes leaf hashes like a
   * CompactRange (size, root), without changing the tree. When the tree is then appended the
   * same leaves (once they are stored), it takes the node hashes the stage computed instead of
   * hashing them again; any other leaf drops the stage. Only the latest stage is kept.
   */
  stage(): MerkleStage {
    this.staged = new MerkleStage(this.size, (k, i) => this.levels[k]!.get(i));
    return this.staged;
  }

  appendMany(hashes: readonly Uint8Array[]): void {
    for (const h of hashes) this.append(h);
  }

  leafHash(index: number): Uint8Array {
    this.checkIndex(index, this.size);
    return this.levels[0]!.get(index).slice();
  }

  /** MTH of leaves [lo, hi). */
  private subtree(lo: number, hi: number): Uint8Array {
    const n = hi - lo;
    if (n === 0) return EMPTY_ROOT;
    // Complete and aligned: stored.
    if (isPowerOfTwo(n) && lo % n === 0) {
      const k = Math.log2(n);
      return this.levels[k]!.get(lo / n);
    }
    const k = splitPoint(n);
    return nodeHash(this.subtree(lo, lo + k), this.subtree(lo + k, hi));
  }

  root(size = this.size): Uint8Array {
    this.checkSize(size);
    return this.subtree(0, size).slice();
  }

  /** RFC 9162 §2.1.3.1 PATH(m, D[0:size]). */
  inclusionProof(index: number, size = this.size): Uint8Array[] {
    this.checkSize(size);
    this.checkIndex(index, size);
    const path = (m: number, lo: number, hi: number): Uint8Array[] => {
      const n = hi - lo;
      if (n === 1) return [];
      const k = splitPoint(n);
      return m < k
        ? [...path(m, lo, lo + k), this.subtree(lo + k, hi)]
        : [...path(m - k, lo + k, hi), this.subtree(lo, lo + k)];
    };
    return path(index, 0, size).map((h) => h.slice());
  }

  /** RFC 9162 §2.1.4.1 PROOF(size1, D[0:size2]). */
  consistencyProof(size1: number, size2 = this.size): Uint8Array[] {
    this.checkSize(size2);
    if (!isSize(size1) || size1 < 1 || size1 > size2)
      throw new RangeError('need 0 < size1 <= size2');
    const sub = (m: number, lo: number, hi: number, whole: boolean): Uint8Array[] => {
      const n = hi - lo;
      if (m === n) return whole ? [] : [this.subtree(lo, hi)];
      const k = splitPoint(n);
      return m <= k
        ? [...sub(m, lo, lo + k, whole), this.subtree(lo + k, hi)]
        : [...sub(m - k, lo + k, hi, false), this.subtree(lo, lo + k)];
    };
    return sub(size1, 0, size2, true).map((h) => h.slice());
  }

  /** The compact range (right-edge subtree roots, largest first) of the tree at `size`. */
  compactRange(size = this.size): Uint8Array[] {
    this.checkSize(size);
    const out: Uint8Array[] = [];
    let lo = 0;
    for (let bit = 2 ** Math.floor(Math.log2(Math.max(size, 1))); bit >= 1; bit /= 2) {
      if (Math.floor(size / bit) % 2 === 1) {
        out.push(this.subtree(lo, lo + bit).slice());
        lo += bit;
      }
    }
    return out;
  }

  private checkSize(size: number): void {
    if (!isSize(size) || size > this.size) throw new RangeError('size is beyond the tree');
  }

  private checkIndex(index: number, size: number): void {
    if (!isSize(index) || index >= size) throw new RangeError('index is outside the tree');
  }
}

/**
 * Leaves appended to a MerkleTree of `base` leaves, without changing it (MerkleTree.stage):
 * the node hashes they complete, per level, read from the tree below `base`.
 */
export class MerkleStage {
  /** Per level k, the nodes from index floor(base / 2^k) on: those the staged leaves complete. */
  private readonly added: Uint8Array[][] = [[]];
  /** Leaves the tree has taken from this stage so far. */
  private taken = 0;

  constructor(
    readonly base: number,
    private readonly below: (level: number, index: number) => Uint8Array,
  ) {}

  get size(): number {
    return this.base + this.added[0]!.length;
  }

  /** The node at (level, index): the tree's below this stage, else one this stage computed. */
  node(level: number, index: number): Uint8Array {
    const start = Math.floor(this.base / 2 ** level);
    return index < start ? this.below(level, index) : this.added[level]![index - start]!;
  }

  append(leaf: Uint8Array): void {
    if (!is32(leaf)) throw new RangeError('leaf hash must be 32 bytes');
    let h: Uint8Array = leaf.slice();
    this.added[0]!.push(h);
    let idx = this.size - 1;
    for (let k = 0; idx % 2 === 1; k++) {
      h = nodeHash(this.node(k, idx - 1), h);
      (this.added[k + 1] ??= []).push(h);
      idx = Math.floor(idx / 2);
    }
  }

  /** MTH of the tree with the staged leaves (as CompactRange.root). */
  root(): Uint8Array {
    const n = this.size;
    if (n === 0) return EMPTY_ROOT;
    // The perfect subtrees of the right edge, largest first; then folded from the right.
    const edge: Uint8Array[] = [];
    let lo = 0;
    for (let k = Math.floor(Math.log2(n)); k >= 0; k--) {
      if (Math.floor(n / 2 ** k) % 2 === 1) {
        edge.push(this.node(k, lo / 2 ** k));
        lo += 2 ** k;
      }
    }
    let r = edge[edge.length - 1]!;
    for (let i = edge.length - 2; i >= 0; i--) r = nodeHash(edge[i]!, r);
    return r.slice();
  }

  /**
   * The tree is appending `leaf` at `index`: true (and counted) if that is this stage's next
   * leaf, so the parents it completes are this stage's nodes.
   */
  take(index: number, leaf: Uint8Array): boolean {
    const ok =
      index === this.base + this.taken &&
      this.taken < this.added[0]!.length &&
      equal(this.added[0]![this.taken]!, leaf);
    if (ok) this.taken++;
    return ok;
  }
}
