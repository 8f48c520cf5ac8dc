/**
 * The closed table of enclave methods ("ECALLs"), docs/protocol/enclave-rpc.md. Each entry has
 * its params and result schemas and the phases in which it may run; the enclave dispatcher and
 * the host client are both derived from this one table, so they cannot drift apart.
 */
import { z } from 'zod';
import { base64Bytes, base64Range, hexBytes } from '../encoding.js';
import { KeyIdSchema } from '../key-id.js';
import { ExchangeSchema, LabelSchema, SessionMetadataSchema } from '../credentials.js';
import { CredentialEnvelopeSchema } from '../envelope/registry.js';
import { AttestationNonceSchema, SigningKeysSchema } from '../attestation/report-data.js';
import { AttestationResponseSchema, PlatformSchema } from '../attestation/response.js';
import { LogEntrySchema } from '../log/entry.js';

export const PHASES = ['awaiting_keyring', 'ready', 'failed'] as const;
export type Phase = (typeof PHASES)[number];

export const SEAL_POLICIES = ['signer', 'measurement'] as const;
export const SealPolicySchema = z.enum(SEAL_POLICIES);
export type SealPolicy = z.infer<typeof SealPolicySchema>;

/** An opaque sealed keyring: the host stores it and hands it back, nothing more. */
export const SealedBlobSchema = base64Range(1, 1024 * 1024);

const SessionIdSchema = z.uuid();
const UnixSeconds = z.number().int().nonnegative();

export const CredentialKeyInfoSchema = z
  .object({
    key_id: KeyIdSchema,
    public_key: base64Bytes(32),
    created_at: UnixSeconds,
    retired_at: UnixSeconds.nullable(),
  })
  .strict();

export const PublicKeysSchema = z
  .object({
    generation: z.number().int().positive(),
    current_key_id: KeyIdSchema,
    credential_keys: z.array(CredentialKeyInfoSchema),
    signing_keys: SigningKeysSchema,
  })
  .strict();
export type PublicKeys = z.infer<typeof PublicKeysSchema>;

/** A signed C2SP checkpoint note (docs/protocol/transparency-log.md). */
export const CheckpointNoteSchema = z
  .string()
  .min(1)
  .max(64 * 1024);
/** Largest number of entries one `log.append` may carry. */
export const LOG_APPEND_MAX_ENTRIES = 4096;

export const StoredCredentialSchema = z
  .object({
    session_id: SessionIdSchema,
    envelope: CredentialEnvelopeSchema,
    key_id: KeyIdSchema,
    exchange: ExchangeSchema,
    label: LabelSchema,
    expires_at: UnixSeconds,
    binding: base64Bytes(32),
  })
  .strict();
export type StoredCredential = z.infer<typeof StoredCredentialSchema>;

const ALL: readonly Phase[] = PHASES;
const AWAITING: readonly Phase[] = ['awaiting_keyring'];
const READY: readonly Phase[] = ['ready'];

export const METHODS = {
  'enclave.status': {
    params: z.object({}).strict(),
    result: z
      .object({
        phase: z.enum(PHASES),
        platform: PlatformSchema,
        measurement: hexBytes(48),
        signer: hexBytes(32),
        boot_time: UnixSeconds,
        generation: z.number().int().nullable(),
      })
      .strict(),
    phases: ALL,
  },
  /** First start: create a keyring, seal it, go to `ready`. The host must store `sealed`. */
  'keyring.generate': {
    params: z.object({ policy: SealPolicySchema }).strict(),
    result: z.object({ sealed: SealedBlobSchema, public: PublicKeysSchema }).strict(),
    phases: AWAITING,
  },
  /** Later starts: unseal what the host stored, go to `ready`. */
  'keyring.unseal': {
    params: z.object({ sealed: SealedBlobSchema }).strict(),
    result: z.object({ public: PublicKeysSchema }).strict(),
    phases: AWAITING,
  },
  /** Rotation, step 1: a sealed keyring with a new current key, not yet in use. */
  'keyring.prepare_rotation': {
    params: z.object({}).strict(),
    result: z
      .object({
        sealed: SealedBlobSchema,
        generation: z.number().int().positive(),
        /** The credential key that becomes current on activation (logged before it is used). */
        key_id: KeyIdSchema,
      })
      .strict(),
    phases: READY,
  },
  /** Rotation, step 2, once the host has stored the prepared blob durably (it sends it back). */
  'keyring.activate': {
    params: z
      .object({ generation: z.number().int().positive(), sealed: SealedBlobSchema })
      .strict(),
    result: z.object({ public: PublicKeysSchema }).strict(),
    phases: READY,
  },
  'attestation.get': {
    params: z.object({ nonce: AttestationNonceSchema }).strict(),
    result: AttestationResponseSchema,
    phases: READY,
  },
  /** Open and validate an envelope, check replay and freshness, bind it to a new session. */
  'credential.submit': {
    params: z
      .object({ envelope: CredentialEnvelopeSchema, metadata: SessionMetadataSchema })
      .strict(),
    result: z
      .object({
        session_id: SessionIdSchema,
        alg: z.string(),
        key_id: KeyIdSchema,
        sender_key: base64Bytes(32),
        envelope_digest: hexBytes(32),
        created_at: UnixSeconds,
        expires_at: UnixSeconds,
        binding: base64Bytes(32),
      })
      .strict(),
    phases: READY,
  },
  /** Check that a stored credential is intact, bound and still decryptable (no plaintext out). */
  'credential.verify_stored': {
    params: StoredCredentialSchema,
    result: z.object({ envelope_digest: hexBytes(32) }).strict(),
    phases: READY,
  },
  /**
   * Start (or resume) the transparency log: nothing stored yet (`checkpoint: null`), or the
   * latest stored checkpoint and the frontier hashes at its size, which the enclave verifies.
   * Allowed once per enclave process; a second call must present the state it already holds.
   */
  'log.init': {
    params: z
      .object({
        checkpoint: CheckpointNoteSchema.nullable(),
        frontier: z.array(base64Bytes(32)).max(64),
      })
      .strict(),
    result: z
      .object({
        origin: z.string(),
        size: z.number().int().nonnegative(),
        checkpoint: CheckpointNoteSchema,
      })
      .strict(),
    phases: READY,
  },
  /** Append entries and sign the checkpoint that covers them. */
  'log.append': {
    params: z
      .object({ entries: z.array(LogEntrySchema).min(1).max(LOG_APPEND_MAX_ENTRIES) })
      .strict(),
    result: z
      .object({
        first_index: z.number().int().nonnegative(),
        size: z.number().int().positive(),
        leaf_hashes: z.array(base64Bytes(32)),
        checkpoint: CheckpointNoteSchema,
      })
      .strict(),
    phases: READY,
  },
} as const;

export type MethodName = keyof typeof METHODS;
export type MethodParams<M extends MethodName> = z.input<(typeof METHODS)[M]['params']>;
export type MethodResult<M extends MethodName> = z.output<(typeof METHODS)[M]['result']>;

export function isMethodName(name: string): name is MethodName {
  return Object.hasOwn(METHODS, name);
}

export { AttestationNonceSchema, SessionIdSchema };
