/**
 * Every credential envelope kind the enclave accepts, in one table keyed by `alg`. An envelope
 * without `alg` is v1 (the seed's format). `resolveEnvelopeKind` is the only place that looks at
 * the string; callers receive the entry and never switch on `alg` themselves.
 */
import { sha256 } from '../sha256.js';
import { z } from 'zod';
import { MAX_CREDENTIAL_PLAINTEXT_BYTES } from '../credentials.js';
import { bytesToHex } from '../encoding.js';
import { jcsBytes } from '../jcs.js';
import { EnvelopeError } from './errors.js';
import { HPKE_ALGS, HpkeEnvelopeSchema, openEnvelopeHpke, type HpkeEnvelope } from './hpke.js';
import type { EnvelopePrimitives, X25519Recipient } from './primitives.js';
import { ENVELOPE_V1_ALG, EnvelopeV1Schema, openEnvelopeV1, type EnvelopeV1 } from './v1.js';

/**
 * The most plaintext any envelope kind carries (its schema bounds the ciphertext to this); the
 * enclave checks it again on every opened plaintext, whatever the purpose.
 */
export const MAX_ENVELOPE_PLAINTEXT_BYTES = MAX_CREDENTIAL_PLAINTEXT_BYTES;

export const CredentialEnvelopeSchema = z.union([EnvelopeV1Schema, HpkeEnvelopeSchema]);
export type CredentialEnvelope = EnvelopeV1 | HpkeEnvelope;

export interface EnvelopeKind<E extends CredentialEnvelope = CredentialEnvelope> {
  readonly alg: string;
  /** The sender's ephemeral public key, base64: the replay-cache key. */
  senderKey(env: E): string;
  open(prims: EnvelopePrimitives, recipient: X25519Recipient, env: E): Promise<Uint8Array>;
}

const v1: EnvelopeKind<EnvelopeV1> = {
  alg: ENVELOPE_V1_ALG,
  senderKey: (env) => env.ephemeral_pub,
  open: async (prims, recipient, env) => openEnvelopeV1(prims, recipient, env),
};

const hpke: EnvelopeKind<HpkeEnvelope> = {
  alg: 'HPKE',
  senderKey: (env) => env.enc,
  open: (_prims, recipient, env) => openEnvelopeHpke(recipient, env),
};

const KINDS = new Map<string, EnvelopeKind<never>>([
  [ENVELOPE_V1_ALG, v1],
  ...HPKE_ALGS.map((alg) => [alg, hpke] as const),
]);

export const ENVELOPE_ALGS = [...KINDS.keys()];

export function resolveEnvelopeKind(env: CredentialEnvelope): EnvelopeKind {
  const kind = KINDS.get(env.alg ?? ENVELOPE_V1_ALG);
  if (!kind) throw new EnvelopeError('ENVELOPE_UNSUPPORTED_ALG');
  return kind as EnvelopeKind;
}

/** The `alg` to store: v1 envelopes without one are recorded under their explicit name. */
export function envelopeAlg(env: CredentialEnvelope): string {
  return env.alg ?? ENVELOPE_V1_ALG;
}

/**
 * SHA-256 (hex) over the JCS form of the envelope with `alg` and the `key_id` that opened it
 * filled in, so the digest is the same whether or not the client named them. Names an
 * envelope in logs and bindings without revealing anything of its content.
 */
export function envelopeDigest(env: CredentialEnvelope, keyId: string): string {
  return bytesToHex(sha256(jcsBytes({ ...env, alg: envelopeAlg(env), key_id: keyId })));
}
