/**
 * The one place inside the enclave where an envelope's plaintext exists. Every method that opens
 * an envelope (credential.submit, credential.verify_stored, aggregates.start, auth.register,
 * auth.login) goes through `openOnce` (a freshly submitted envelope) or `openStored` (one the
 * host kept), which resolve the envelope kind, open it, refuse a plaintext over the purpose's
 * size cap before parsing it, parse it through the purpose's strict zod schema, hand it to the
 * caller's check, and wipe the plaintext bytes whatever happens. A new purpose (e.g. wallet
 * custody shares) is one more `EnvelopePurpose` with its schema; no new opening code.
 *
 * Replay rule (docs/protocol/envelope-v1.md "Release rule"): `openOnce` reserves the sender's
 * ephemeral key in the replay cache before any await, so two concurrent copies cannot both pass.
 * The key is released again only if the envelope never authenticated: decapsulation or the AEAD
 * tag failed, so no plaintext exists. Whoever can make an envelope that authenticates under a
 * sender key holds that key's private half, so a forged envelope cannot spend someone else's key,
 * and releasing it lets the genuine envelope through. An envelope that opened stays spent, whatever
 * failed after (size, schema, freshness, a mismatch with the request): each genuine envelope is
 * opened at most once, so the host cannot replay it to probe its content with varied requests.
 */
import type { z } from 'zod';
import {
  CredentialPlaintextSchema,
  MAX_CREDENTIAL_PLAINTEXT_BYTES,
} from '../../protocol/credentials.js';
import { AuthPlaintextSchema } from '../../protocol/auth.js';
import { WalletSharePlaintextSchema } from '../../protocol/wallet/binds.js';
import { utf8 } from '../../protocol/encoding.js';
import { EnvelopeError } from '../../protocol/envelope/errors.js';
import {
  MAX_ENVELOPE_PLAINTEXT_BYTES,
  resolveEnvelopeKind,
  type CredentialEnvelope,
} from '../../protocol/envelope/registry.js';
import { nodePrimitives } from '../crypto/node-primitives.js';
import { readyKeyring, type EnclaveState } from '../state.js';
import { checkEnvelopeFreshness } from './envelope-freshness.js';

/** What an envelope may carry: a strict schema whose output has `issued_at`, and a size cap. */
export interface EnvelopePurpose<S extends z.ZodType<{ issued_at: number }>> {
  readonly schema: S;
  /** Largest plaintext accepted, bytes; checked before JSON.parse touches it. */
  readonly maxBytes: number;
}

function purpose<S extends z.ZodType<{ issued_at: number }>>(
  schema: S,
  maxBytes = MAX_ENVELOPE_PLAINTEXT_BYTES,
): EnvelopePurpose<S> {
  return { schema, maxBytes };
}

/**
 * The purposes an envelope can have. The schemas are strict and disjoint (`purpose` exists only
 * in the auth and wallet_share plaintexts, with disjoint values, `exchange`/`apiKey` only in the
 * credential one), so an envelope made for one purpose never parses as another.
 */
export const ENVELOPE_PURPOSES = {
  credential: purpose(CredentialPlaintextSchema, MAX_CREDENTIAL_PLAINTEXT_BYTES),
  auth: purpose(AuthPlaintextSchema),
  /** A wallet custody share (`purpose: "wallet_share"`, docs/protocol/wallet-shares.md). */
  wallet_share: purpose(WalletSharePlaintextSchema, 1024),
} as const;

export interface Opened<R> {
  /** What the caller's check returned. */
  readonly value: R;
  /** The enclave key that opened the envelope. */
  readonly keyId: string;
  /** The replay-cache key (sender's ephemeral public key, base64), now spent. */
  readonly senderKey: string;
  /** The enclave time the envelope was checked against. */
  readonly now: number;
}

/** Size cap, parse, check, wipe. `plaintext` is wiped on return and on throw. */
function parsed<S extends z.ZodType<{ issued_at: number }>, R>(
  plaintext: Uint8Array,
  p: EnvelopePurpose<S>,
  use: (value: z.output<S>) => R,
): R {
  try {
    if (plaintext.length > p.maxBytes) throw new EnvelopeError('ENVELOPE_INVALID');
    let value: z.output<S>;
    try {
      // JSON.parse and zod messages quote the input: never let one escape.
      value = p.schema.parse(JSON.parse(utf8.decode(plaintext)));
    } catch {
      throw new EnvelopeError('ENVELOPE_INVALID');
    }
    return use(value);
  } finally {
    plaintext.fill(0);
  }
}

/**
 * Opens a freshly submitted envelope at most once (replay rule in the header), checks its
 * freshness (envelope-freshness.ts), then `check`; `check` throws to refuse.
 */
export async function openOnce<S extends z.ZodType<{ issued_at: number }>, R>(
  state: EnclaveState,
  envelope: CredentialEnvelope,
  p: EnvelopePurpose<S>,
  check: (value: z.output<S>, keyId: string) => R,
): Promise<Opened<R>> {
  const { config } = state;
  const kind = resolveEnvelopeKind(envelope);
  const recipient = readyKeyring(state).recipient(envelope.key_id);
  const senderKey = kind.senderKey(envelope);
  const now = state.now();
  const horizon = now + config.ENVELOPE_MAX_AGE_SECONDS + config.ENVELOPE_MAX_FUTURE_SECONDS;
  if (!state.replay.add(senderKey, horizon, now)) throw new EnvelopeError('ENVELOPE_REPLAYED');
  let plaintext: Uint8Array;
  try {
    plaintext = await kind.open(nodePrimitives, recipient, envelope);
  } catch (err) {
    state.replay.delete(senderKey); // never authenticated: the key was not spent
    throw err;
  }
  const value = parsed(plaintext, p, (v) => {
    checkEnvelopeFreshness(state, v.issued_at, recipient.keyId, now);
    return check(v, recipient.keyId);
  });
  return { value, keyId: recipient.keyId, senderKey, now };
}

/**
 * Opens an envelope the host stored (its binding already checked by the caller): no replay or
 * freshness rule, since it was accepted once by `openOnce`; size cap, schema and wipe as there.
 */
export async function openStored<S extends z.ZodType<{ issued_at: number }>, R>(
  state: EnclaveState,
  keyId: string,
  envelope: CredentialEnvelope,
  p: EnvelopePurpose<S>,
  use: (value: z.output<S>) => R,
): Promise<R> {
  const recipient = readyKeyring(state).recipient(keyId);
  const plaintext = await resolveEnvelopeKind(envelope).open(nodePrimitives, recipient, envelope);
  return parsed(plaintext, p, use);
}
