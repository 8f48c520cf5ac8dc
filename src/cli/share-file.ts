/**
 * A wallet share at rest on the user's machine: never in the clear. The 33 share bytes are
 * encrypted with AES-256-GCM under a key from the passphrase by Argon2id (RFC 9106, 64 MiB,
 * t = 3, p = 1, 16-byte random salt); the wallet id, kind and generation are the associated
 * data, so a file cannot be relabelled. Written with mode 0600 (and refused if it exists).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { hashRaw } from '@node-rs/argon2';
import { z } from 'zod';

const KDF = { memoryCost: 65536, timeCost: 3, parallelism: 1 } as const;

const ShareFileSchema = z
  .object({
    v: z.literal(1),
    kdf: z
      .object({
        alg: z.literal('argon2id'),
        m: z.number().int().min(8192).max(4_194_304),
        t: z.number().int().min(1).max(32),
        p: z.number().int().min(1).max(16),
        salt: z.base64(),
      })
      .strict(),
    wallet_id: z.uuid(),
    kind: z.enum(['device', 'recovery']),
    generation: z.number().int().positive(),
    nonce: z.base64(),
    ciphertext: z.base64(),
    tag: z.base64(),
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
    writeFileSync(path, `${JSON.stringify(file, null, 2)}\n`, {
      mode: 0o600,
      flag: opts.overwrite ? 'w' : 'wx',
    });
    chmodSync(path, 0o600); // an existing file overwritten keeps its old mode otherwise
  } finally {
    key.fill(0);
  }
}

export async function readShareFile(path: string, passphrase: string): Promise<ShareFileContent> {
  const f = ShareFileSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
  const key = await deriveKey(passphrase, Buffer.from(f.kdf.salt, 'base64'), f.kdf);
  try {
    const c = { walletId: f.wallet_id, kind: f.kind, generation: f.generation };
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(f.nonce, 'base64'))
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
