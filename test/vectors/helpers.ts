/**
 * Shared bits for the standard-vector suites: where the vector files live, hex helpers, and
 * the two EnvelopePrimitives backends every primitive vector is run against.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { noblePrimitives } from '../../src/client/noble-primitives.js';
import { nodePrimitives } from '../../src/enclave/crypto/node-primitives.js';
import type { EnvelopePrimitives } from '../../src/protocol/envelope/primitives.js';

export const BACKENDS: ReadonlyArray<readonly [name: string, prims: EnvelopePrimitives]> = [
  ['node:crypto', nodePrimitives],
  ['@noble', noblePrimitives],
];

const DATA = new URL('./data/', import.meta.url);

let provenance: Map<string, string> | undefined;
/** The SHA-256 of each vector file, from the block at the end of data/PROVENANCE.md. */
function listedHashes(): Map<string, string> {
  provenance ??= new Map(
    [
      ...readFileSync(new URL('PROVENANCE.md', DATA), 'utf8').matchAll(
        /^([0-9a-f]{64}) {2}(\S+)$/gm,
      ),
    ].map((m) => [m[2]!, m[1]!] as const),
  );
  return provenance;
}

/**
 * Raw bytes of a file under test/vectors/data/, checked against the SHA-256 that
 * PROVENANCE.md lists for it: an edited, reformatted or unlisted vector file fails the suite.
 */
export function readVectorBytes(relPath: string): Buffer {
  const bytes = readFileSync(new URL(relPath, DATA));
  const expected = listedHashes().get(relPath);
  const got = createHash('sha256').update(bytes).digest('hex');
  if (got !== expected) {
    throw new Error(`${relPath}: SHA-256 ${got} is not the one listed in PROVENANCE.md`);
  }
  return bytes;
}

export function readVectorJson<T>(relPath: string): T {
  return JSON.parse(readVectorBytes(relPath).toString('utf8')) as T;
}

/** Lenient test-side hex decoder (the vectors are lowercase hex; '' is the empty string). */
export const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
export const tohex = (b: Uint8Array | ArrayBuffer): string =>
  Buffer.from(b instanceof ArrayBuffer ? new Uint8Array(b) : b).toString('hex');

/** Wycheproof's common file layout (testvectors_v1). */
export type WycheproofResult = 'valid' | 'invalid' | 'acceptable';
export interface WycheproofTest {
  tcId: number;
  comment: string;
  flags: string[];
  result: WycheproofResult;
}
export interface WycheproofFile<G> {
  algorithm: string;
  numberOfTests: number;
  testGroups: G[];
}

/** Counts of what a suite actually ran, so a suite can assert it did not silently run nothing. */
export class Tally {
  private readonly counts = new Map<string, number>();
  add(key: string): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }
  get(key: string): number {
    return this.counts.get(key) ?? 0;
  }
  toJSON(): Record<string, number> {
    return Object.fromEntries([...this.counts].sort(([a], [b]) => a.localeCompare(b)));
  }
}
