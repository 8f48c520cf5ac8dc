/**
 * HPKE credential envelope (docs/protocol/envelope-hpke.md): RFC 9180 base mode,
 * DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM or AES-256-GCM, named by `alg`.
 * For clients that already speak HPKE. The plaintext is the same credential JSON as v1.
 * Implemented with @hpke/core + @hpke/dhkem-x25519 (pure JS X25519, so it runs in browsers).
 */
import { Aes128Gcm, Aes256Gcm, CipherSuite, HkdfSha256 } from '@hpke/core';
import { DhkemX25519HkdfSha256 } from '@hpke/dhkem-x25519';
import { z } from 'zod';
import { base64Bytes, base64Range, base64ToBytes, bytesToBase64, utf8 } from '../encoding.js';
import { KeyIdSchema } from '../key-id.js';
import { MAX_CREDENTIAL_PLAINTEXT_BYTES } from '../credentials.js';
import { EnvelopeError } from './errors.js';
import type { X25519Recipient } from './primitives.js';

/** `info` for the HPKE key schedule (RFC 9180 §5.1): domain-separates Cloister's use. */
export const HPKE_INFO = utf8.encode('cloister/credentials/hpke/v1');

const SUITES = {
  'HPKE-Base-X25519-SHA256-A128GCM': () => new Aes128Gcm(),
  'HPKE-Base-X25519-SHA256-A256GCM': () => new Aes256Gcm(),
} as const;
export type HpkeAlg = keyof typeof SUITES;
export const HPKE_ALGS = Object.keys(SUITES) as [HpkeAlg, ...HpkeAlg[]];

export const HpkeEnvelopeSchema = z
  .object({
    alg: z.enum(HPKE_ALGS),
    enc: base64Bytes(32),
    ciphertext: base64Range(17, MAX_CREDENTIAL_PLAINTEXT_BYTES + 16),
    key_id: KeyIdSchema.optional(),
  })
  .strict();
export type HpkeEnvelope = z.infer<typeof HpkeEnvelopeSchema>;

export function hpkeSuite(alg: HpkeAlg): CipherSuite {
  return new CipherSuite({
    kem: new DhkemX25519HkdfSha256(),
    kdf: new HkdfSha256(),
    aead: SUITES[alg](),
  });
}

const ab = (u: Uint8Array): ArrayBuffer =>
  u.buffer.slice(u.byteOffset, u.byteOffset + u.byteLength) as ArrayBuffer;

export async function sealEnvelopeHpke(
  alg: HpkeAlg,
  recipientPub: Uint8Array,
  plaintext: Uint8Array,
  opts: { keyId?: string; info?: Uint8Array } = {},
): Promise<HpkeEnvelope> {
  const suite = hpkeSuite(alg);
  const recipientPublicKey = await suite.kem.importKey('raw', ab(recipientPub), true);
  const { ct, enc } = await suite.seal(
    { recipientPublicKey, info: ab(opts.info ?? HPKE_INFO) },
    ab(plaintext),
  );
  return {
    alg,
    enc: bytesToBase64(new Uint8Array(enc)),
    ciphertext: bytesToBase64(new Uint8Array(ct)),
    ...(opts.keyId ? { key_id: opts.keyId } : {}),
  };
}

export async function openEnvelopeHpke(
  recipient: X25519Recipient,
  env: HpkeEnvelope,
  /** Another use of the same construction (e.g. cluster provisioning) names its own `info`. */
  info: Uint8Array = HPKE_INFO,
): Promise<Uint8Array> {
  const suite = hpkeSuite(env.alg);
  const sk = recipient.privateKey();
  // The library's key object views this copy (no copy of its own): wiped with `sk` below.
  const skCopy = ab(sk);
  try {
    const privateKey = await suite.kem.importKey('raw', skCopy, false);
    const publicKey = await suite.kem.importKey('raw', ab(recipient.publicKey), true);
    const pt = await suite.open(
      {
        recipientKey: { privateKey, publicKey },
        enc: ab(base64ToBytes(env.enc)),
        info: ab(info),
      },
      ab(base64ToBytes(env.ciphertext)),
    );
    return new Uint8Array(pt);
  } catch {
    throw new EnvelopeError('ENVELOPE_INVALID');
  } finally {
    sk.fill(0);
    new Uint8Array(skCopy).fill(0);
  }
}
