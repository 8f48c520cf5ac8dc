/**
 * A wallet share at rest on the user's machine: never in the clear. The 33 share bytes are
 * encrypted with AES-256-GCM under a key from the passphrase by Argon2id (RFC 9106, 64 MiB,
 * t = 3, p = 1, 16-byte random salt); the wallet id, kind and generation are the associated
 * data, so a file cannot be relabelled. Written with mode 0600 (and refused if it exists, unless
 * a re-split replaces it: beside, then renamed, never through a planted link).
 *
 * The file names its own KDF parameters, and a file may come from anywhere (planted, swapped):
 * they are read only within KDF_BOUNDS, no weaker than what this CLI writes (a passphrase is
 * never run through a weakened KDF) and no heavier than 256 MiB and 8 passes (a file cannot make
 * the CLI allocate gigabytes or grind for minutes); every field has its exact length (a 4-byte
 * GCM tag, a 1-byte nonce), and the file itself is at most 4 KiB.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { hashRaw } from '@node-rs/argon2';
import { z } from 'zod';
import { base64Bytes } from '../protocol/encoding.js';
import { WALLET_SHARE_BYTES } from '../protocol/wallet/constants.js';
import { assertSmallFile, replaceFile } from './files.js';

const KDF = { memoryCost: 65536, timeCost: 3, parallelism: 1 } as const;
/** What a share file may ask of the KDF: at least what writeShareFile uses, at most a bound. */
export const KDF_BOUNDS = {
  m: { min: KDF.memoryCost, max: 262_144 },
  t: { min: KDF.timeCost, max: 8 },
  p: { min: KDF.parallelism, max: 4 },
} as const;
const MAX_SHARE_FILE_BYTES = 4096;

const ShareFileSchema = z
  .object({
    v: z.literal(1),
    kdf: z
      .object({
        alg: z.literal('argon2id'),
        m: z.number().int().min(KDF_BOUNDS.m.min).max(KDF_BOUNDS.m.max),
        t: z.number().int().min(KDF_BOUNDS.t.min).max(KDF_BOUNDS.t.max),
        p: z.number().int().min(KDF_BOUNDS.p.min).max(KDF_BOUNDS.p.max),
        salt: base64Bytes(16),
      })
      .strict(),
    wallet_id: z.uuid(),
    kind: z.enum(['device', 'recovery']),
    generation: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
    nonce: base64Bytes(12),
    ciphertext: base64Bytes(WALLET_SHARE_BYTES),
    tag: base64Bytes(16),
  })
  .strict();

export interface ShareFileContent {
  walletId: string;
  kind: 'device' | 'recovery';
  generation: number;
  share: Uint8Array;
}

async function deriveKey(
  passphrase: string,
  salt: Uint8Array,
  p: { m: number; t: number; p: number },
): Promise<Buffer> {
  // algorithm 2 = Argon2id (the package's const enum cannot be imported under isolatedModules)
  return hashRaw(passphrase, {
    salt,
    memoryCost: p.m,
    timeCost: p.t,
    parallelism: p.p,
    outputLen: 32,
    algorithm: 2,
  });
}

const aad = (c: { walletId: string; kind: string; generation: number }) =>
  Buffer.from(`cloister/share-file/v1\n${c.walletId}\n${c.kind}\n${c.generation}`, 'utf8');

export async function writeShareFile(
  path: string,
  passphrase: string,
  c: ShareFileContent,
  opts: { overwrite?: boolean } = {},
): Promise<void> {
  if (passphrase.length < 12) throw new Error('the passphrase must have at least 12 characters');
  const salt = randomBytes(16);
  const key = await deriveKey(passphrase, salt, {
    m: KDF.memoryCost,
    t: KDF.timeCost,
    p: KDF.parallelism,
  });
  const nonce = randomBytes(12);
  try {
    const cipher = createCipheriv('aes-256-gcm', key, nonce).setAAD(aad(c));
    const ciphertext = Buffer.concat([cipher.update(c.share), cipher.final()]);
    const file = {
      v: 1,
      kdf: {
        alg: 'argon2id',
        m: KDF.memoryCost,
        t: KDF.timeCost,
        p: KDF.parallelism,
        salt: salt.toString('base64'),
      },
      wallet_id: c.walletId,
      kind: c.kind,
      generation: c.generation,
      nonce: nonce.toString('base64'),
      ciphertext: ciphertext.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
    };
    const text = `${JSON.stringify(file, null, 2)}\n`;
    if (opts.overwrite) replaceFile(path, text, 0o600);
    else writeFileSync(path, text, { mode: 0o600, flag: 'wx' });
  } finally {
    key.fill(0);
  }
}

export async function readShareFile(path: string, passphrase: string): Promise<ShareFileContent> {
  assertSmallFile(path, MAX_SHARE_FILE_BYTES);
  const parsed = ShareFileSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
  if (!parsed.success)
    throw new Error(
      `${path} is not a share file this CLI reads (fields: ${[...new Set(parsed.error.issues.map((i) => i.path.join('.')))].join(', ')})`,
    );
  const f = parsed.data;
  const key = await deriveKey(passphrase, Buffer.from(f.kdf.salt, 'base64'), f.kdf);
  try {
    const c = { walletId: f.wallet_id, kind: f.kind, generation: f.generation };
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(f.nonce, 'base64'), {
      authTagLength: 16,
    })
      .setAAD(aad(c))
      .setAuthTag(Buffer.from(f.tag, 'base64'));
    let share: Buffer;
    try {
      share = Buffer.concat([
        decipher.update(Buffer.from(f.ciphertext, 'base64')),
        decipher.final(),
      ]);
    } catch {
      throw new Error('wrong passphrase, or the share file was altered');
    }
    const out = new Uint8Array(share);
    share.fill(0);
    return { ...c, share: out };
  } finally {
    key.fill(0);
  }
}
