/**
 * Reads a wallet vector file from test/vectors/data/<topic>/, checked against the SHA-256 its
 * topic's PROVENANCE.md lists: an edited, reformatted or unlisted file fails the suite.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

const DATA = new URL('../vectors/data/', import.meta.url);

export function readWalletVector(topic: 'shamir' | 'hd-wallet' | 'ethereum', rel: string): string {
  const listed = new Map(
    [
      ...readFileSync(new URL(`${topic}/PROVENANCE.md`, DATA), 'utf8').matchAll(
        /^([0-9a-f]{64}) {2}(\S+)$/gm,
      ),
    ].map((m) => [m[2]!, m[1]!] as const),
  );
  const bytes = readFileSync(new URL(`${topic}/${rel}`, DATA));
  const got = createHash('sha256').update(bytes).digest('hex');
  if (got !== listed.get(rel))
    throw new Error(`${topic}/${rel}: SHA-256 not as listed in PROVENANCE.md`);
  return bytes.toString('utf8');
}

export function readWalletJson<T>(topic: 'shamir' | 'hd-wallet' | 'ethereum', rel: string): T {
  return JSON.parse(readWalletVector(topic, rel)) as T;
}

export const unhex = (s: string): Uint8Array =>
  new Uint8Array(Buffer.from(s.startsWith('0x') ? s.slice(2) : s, 'hex'));
export const tohex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
