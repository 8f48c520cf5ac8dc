/**
 * Transparency-log proofs: MerkleTree build time and the mean time of one inclusion proof and
 * one consistency proof at 10^4, 10^5 and 10^6 leaves (random indices / old sizes), to show
 * that proof cost grows with log2(n), not n.
 *
 * Ceilings, measured in the same run: building a tree needs n-1 node hashes, so its ceiling is
 * (n-1) raw nodeHash calls; a proof is about log2(n) hashes long, so its ceiling is log2(n)
 * raw nodeHash calls (what recomputing the path would cost; the tree mostly looks stored
 * subtree hashes up, so a ratio above 100 % is possible and means "cheaper than hashing").
 */
import { randomBytes, randomInt } from 'node:crypto';
import {
  MerkleTree,
  nodeHash,
  verifyConsistency,
  verifyInclusion,
} from '../src/protocol/log/merkle.js';
import { fmt, fmtRatio, measureSync, median, pick, printTable } from './lib/measure.js';

export interface LogProofsSize {
  leaves: number;
  log2n: number;
  buildMs: number;
  buildCeilingMs: number;
  inclusionUs: number;
  inclusionHashes: number;
  consistencyUs: number;
  consistencyHashes: number;
  /** log2(n) raw nodeHash calls, µs. */
  ceilingUs: number;
}

export interface LogProofsResult {
  name: 'log-proofs';
  nodeHashPerSec: number;
  proofsPerSize: number;
  sizes: LogProofsSize[];
}

/** Mean µs per call of `fn` over `count` inputs (one round). */
function timeRound(count: number, fn: (k: number) => Uint8Array[]): number {
  const t0 = performance.now();
  for (let k = 0; k < count; k++) fn(k);
  return ((performance.now() - t0) * 1000) / count;
}

export async function runLogProofs(): Promise<LogProofsResult> {
  const sizes = pick([10_000, 100_000, 1_000_000], [1_000, 10_000, 100_000]);
  const proofs = pick(1000, 300);
  const rounds = pick(15, 7);

  // Warm-up: compile the tree and proof code paths before anything is timed.
  {
    const t = new MerkleTree();
    for (let i = 0; i < 4096 + 17; i++) t.append(randomBytes(32));
    const end = performance.now() + pick(500, 200);
    while (performance.now() < end) {
      t.inclusionProof(randomInt(t.size), t.size);
      t.consistencyProof(1 + randomInt(t.size - 1), t.size);
    }
  }

  // Ceiling primitive: one RFC 6962 node hash, SHA-256 over 0x01 ‖ left ‖ right (65 bytes),
  // measured before and after the trees; the better figure is the ceiling.
  const a = randomBytes(32);
  const b = randomBytes(32);
  let sink = 0;
  const hashRate = () =>
    measureSync(
      () => {
        sink ^= nodeHash(a, b)[0]!;
      },
      { budgetMs: pick(1000, 300), chunk: 1000 },
    ).opsPerSec;
  const nodeHashBefore = hashRate();

  // Phase 1: build every tree (timed), check proofs from each (untimed).
  const built: {
    n: number;
    tree: MerkleTree;
    indexes: number[];
    olds: number[];
    buildMs: number;
    inc: number[];
    con: number[];
  }[] = [];
  for (const n of sizes) {
    const leafBytes = randomBytes(32 * n);
    const leaf = (i: number) => leafBytes.subarray(32 * i, 32 * i + 32);
    const t0 = performance.now();
    const tree = new MerkleTree();
    for (let i = 0; i < n; i++) tree.append(leaf(i));
    const buildMs = performance.now() - t0;
    const indexes = Array.from({ length: proofs }, () => randomInt(n));
    const olds = Array.from({ length: proofs }, () => 1 + randomInt(n - 1));
    const root = tree.root();
    for (let k = 0; k < Math.min(proofs, 100); k++) {
      const p = tree.inclusionProof(indexes[k]!, n);
      if (!verifyInclusion(indexes[k]!, n, leaf(indexes[k]!), p, root))
        throw new Error(`inclusion proof for ${indexes[k]} at ${n} does not verify`);
      const c = tree.consistencyProof(olds[k]!, n);
      if (!verifyConsistency(olds[k]!, n, tree.root(olds[k]!), root, c))
        throw new Error(`consistency proof ${olds[k]} → ${n} does not verify`);
    }
    built.push({ n, tree, indexes, olds, buildMs, inc: [], con: [] });
  }

  // Phase 2: time the proofs, the sizes taking turns each round, so that a noisy moment of the
  // machine does not land on one size only. The figure is the median of the rounds.
  for (let r = 0; r < rounds; r++) {
    for (const b of built) {
      b.inc.push(timeRound(proofs, (k) => b.tree.inclusionProof(b.indexes[k]!, b.n)));
      b.con.push(timeRound(proofs, (k) => b.tree.consistencyProof(b.olds[k]!, b.n)));
    }
  }

  const out: LogProofsSize[] = built.map((b) => {
    let incHashes = 0;
    let conHashes = 0;
    for (let k = 0; k < proofs; k++) {
      incHashes += b.tree.inclusionProof(b.indexes[k]!, b.n).length;
      conHashes += b.tree.consistencyProof(b.olds[k]!, b.n).length;
    }
    return {
      leaves: b.n,
      log2n: Math.log2(b.n),
      buildMs: b.buildMs,
      buildCeilingMs: 0,
      inclusionUs: median(b.inc),
      inclusionHashes: incHashes / proofs,
      consistencyUs: median(b.con),
      consistencyHashes: conHashes / proofs,
      ceilingUs: 0,
    };
  });
  built.length = 0;
  const nodeHashAfter = hashRate();
  const nodeHashPerSec = Math.max(nodeHashBefore, nodeHashAfter);
  const nodeHashUs = 1e6 / nodeHashPerSec;
  for (const s of out) {
    s.ceilingUs = s.log2n * nodeHashUs;
    s.buildCeilingMs = ((s.leaves - 1) * nodeHashUs) / 1000;
  }
  if (sink === 256) console.log(''); // keeps the hashes observable

  printTable(
    `log-proofs: MerkleTree proofs, mean of ${proofs} random proofs, median of ${rounds} rounds` +
      `\n  ceiling: raw nodeHash ${fmt(nodeHashPerSec)}/s = ${fmt(nodeHashUs)} µs` +
      ` (best of ${fmt(nodeHashBefore)} before, ${fmt(nodeHashAfter)} after); ratio = ceiling time / measured time`,
    out.map((s) => ({
      leaves: s.leaves,
      'log2(n)': s.log2n,
      'build ms': s.buildMs,
      'build/ceiling': fmtRatio(s.buildCeilingMs / s.buildMs),
      'incl µs': s.inclusionUs,
      'incl hashes': s.inclusionHashes,
      'cons µs': s.consistencyUs,
      'cons hashes': s.consistencyHashes,
      'log2(n) nodeHash µs': s.ceilingUs,
      'ceiling/incl': fmtRatio(s.ceilingUs / s.inclusionUs),
      'ceiling/cons': fmtRatio(s.ceilingUs / s.consistencyUs),
    })),
  );
  const growth = out.slice(1).map((s, k) => {
    const prev = out[k]!;
    return {
      step: `${fmt(prev.leaves)} → ${fmt(s.leaves)}`,
      'n ratio': s.leaves / prev.leaves,
      'log2(n) ratio': s.log2n / prev.log2n,
      'incl time ratio': s.inclusionUs / prev.inclusionUs,
      'cons time ratio': s.consistencyUs / prev.consistencyUs,
      'build time ratio': s.buildMs / prev.buildMs,
    };
  });
  printTable('log-proofs: growth between sizes (logarithmic: time ratio ≈ log2 ratio)', growth);
  return { name: 'log-proofs', nodeHashPerSec, proofsPerSize: proofs, sizes: out };
}
