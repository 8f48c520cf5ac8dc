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
import {
  AttestationResponseSchema,
  IdentityHexSchema,
  PlatformSchema,
} from '../attestation/response.js';
import { LogEntrySchema } from '../log/entry.js';
import {
  AggregatesNonceSchema,
  AudienceSchema,
  CurrencySchema,
  SymbolSchema,
} from '../aggregates.js';
import { AUTH_METHODS } from './auth-methods.js';
import { WALLET_METHODS } from './wallet-methods.js';
import {
  ApprovalSchema,
  ProposalSchema,
  ClusterPlatformSchema,
  ForwardSchema,
  GenesisAttestationSchema,
  JoinRequestSchema,
  ManifestSchema,
  operatorListSchema,
  ProvisioningQuoteSchema,
  ShareSubmissionSchema,
  MAX_OPERATORS,
} from '../cluster/cluster.js';

export const PHASES = ['awaiting_keyring', 'awaiting_quorum', 'ready'] as const;
export type Phase = (typeof PHASES)[number];

export const SEAL_POLICIES = ['signer', 'measurement'] as const;
export const SealPolicySchema = z.enum(SEAL_POLICIES);
export type SealPolicy = z.infer<typeof SealPolicySchema>;

/** An opaque sealed keyring: the host stores it and hands it back, nothing more. */
export const SealedBlobSchema = base64Range(1, 1024 * 1024);
/** A keyring wrapped under the cluster root at genesis: its generation and the sealed blob. */
const WrappedKeyringSchema = z
  .object({ generation: z.number().int().positive(), sealed: SealedBlobSchema })
  .strict();

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
/** Largest number of entries one `log.append` (or `log.prepare`) may carry. */
export const LOG_APPEND_MAX_ENTRIES = 4096;
/**
 * Prepared appends (`log.prepare`) one enclave holds at once: a further one evicts the oldest.
 * So the enclave keeps at most this many × LOG_APPEND_MAX_ENTRIES leaf hashes, whatever a host
 * sends; a host prepares at most this many calls ahead of their appends.
 */
export const LOG_PREPARED_MAX = 4;
/** The id of a prepared append: 16 random bytes, hex. */
const LogPreparedIdSchema = hexBytes(16);
const LogEntriesSchema = z.array(LogEntrySchema).min(1).max(LOG_APPEND_MAX_ENTRIES);

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

const UnixMillis = z.number().int().nonnegative().max(8.64e15);
export const AGGREGATES_MAX_SYMBOLS = 200;

/**
 * A job's progress: exchange requests sent, fills held, and the rate-limit waits so far (how
 * many times the exchange said "too many requests" and was waited out, and the total wait).
 */
export const JobProgressSchema = z
  .object({
    requests: z.number().int().nonnegative(),
    fills: z.number().int().nonnegative(),
    rate_limit_waits: z.number().int().nonnegative(),
    rate_limit_wait_ms: z.number().int().nonnegative(),
  })
  .strict();
export type JobProgress = z.infer<typeof JobProgressSchema>;

/** A signed aggregates result as the enclave returns it: the exact JCS text that was signed. */
export const SignedAggregatesResultSchema = z
  .object({
    payload_jcs: z
      .string()
      .min(2)
      .max(4 * 1024 * 1024),
    signature: base64Bytes(64),
    /** Lower-case hex SHA-256 of the signed bytes; the log entry's `payload` digest. */
    payload_digest: hexBytes(32),
    /** Seconds since the epoch at which the enclave signed it. */
    signed_at: UnixSeconds,
    /** Opens the payload's `account_commitment`; for the result's holder, never signed. */
    account_salt: base64Bytes(32),
  })
  .strict();

export const JobViewSchema = z.discriminatedUnion('state', [
  z.object({ job_id: z.uuid(), state: z.literal('running'), progress: JobProgressSchema }).strict(),
  z
    .object({
      job_id: z.uuid(),
      state: z.literal('done'),
      progress: JobProgressSchema,
      result: SignedAggregatesResultSchema,
    })
    .strict(),
  z
    .object({
      job_id: z.uuid(),
      state: z.literal('failed'),
      progress: JobProgressSchema,
      error: z.string().regex(/^[A-Z][A-Z0-9_]{1,63}$/),
    })
    .strict(),
  /** Cancelled (`aggregates.cancel`): nothing was signed, the opened key is gone. */
  z
    .object({ job_id: z.uuid(), state: z.literal('cancelled'), progress: JobProgressSchema })
    .strict(),
  z.object({ job_id: z.uuid(), state: z.literal('unknown') }).strict(),
]);
export type JobView = z.infer<typeof JobViewSchema>;

const ALL: readonly Phase[] = PHASES;
const AWAITING: readonly Phase[] = ['awaiting_keyring'];
const READY: readonly Phase[] = ['ready'];
const QUORUM: readonly Phase[] = ['awaiting_quorum'];

export const METHODS = {
  'enclave.status': {
    params: z.object({}).strict(),
    result: z
      .object({
        phase: z.enum(PHASES),
        platform: PlatformSchema,
        measurement: IdentityHexSchema,
        signer: IdentityHexSchema,
        boot_time: UnixSeconds,
        /** The earliest envelope `issued_at` this process accepts (boot + max future skew + 1). */
        envelope_not_before: UnixSeconds,
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
  /**
   * Several instances: move to a newer stored generation another member rotated to (sealed
   * under the cluster key). An older or equal generation changes nothing.
   */
  'keyring.reload': {
    params: z.object({ sealed: SealedBlobSchema }).strict(),
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
      .object({
        envelope: CredentialEnvelopeSchema,
        metadata: SessionMetadataSchema,
        /**
         * `aggregatesSubject({ userId })` of the account that submits; absent for an ownerless
         * (development-mode) session. An envelope that seals another subject is refused.
         */
        subject: hexBytes(32).optional(),
      })
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
  /**
   * The per-entry half of an append, made before the host takes the log head lock: check the
   * entries, hash them (leaf hashes), and keep the hashes under a fresh random id for one later
   * `log.append { prepared }`. Nothing is signed and the tree is not touched. The enclave holds
   * at most LOG_PREPARED_MAX prepared appends (a further one evicts the oldest).
   */
  'log.prepare': {
    params: z.object({ entries: LogEntriesSchema }).strict(),
    result: z.object({ id: LogPreparedIdSchema, leaf_hashes: z.array(base64Bytes(32)) }).strict(),
    phases: READY,
  },
  /**
   * Append entries and sign the checkpoint that covers them: either `entries`, or `prepared`,
   * the id of a `log.prepare` whose leaf hashes are appended (the id is used up, whatever the
   * outcome; exactly one of the two). The answer carries `leaf_hashes` only for `entries` (a
   * prepared append's were in the prepare answer). With `head` (several instances on
   * one log, docs/protocol/transparency-log.md "Several writers"): first move to the head other
   * members signed since this enclave's last checkpoint, after checking its signature, an RFC
   * 9162 consistency proof from that checkpoint to it, and that `frontier` hashes to its root.
   */
  'log.append': {
    params: z
      .object({
        entries: LogEntriesSchema.optional(),
        prepared: LogPreparedIdSchema.optional(),
        head: z
          .object({
            checkpoint: CheckpointNoteSchema,
            frontier: z.array(base64Bytes(32)).max(64),
            proof: z.array(base64Bytes(32)).max(128),
          })
          .strict()
          .optional(),
      })
      .strict()
      .refine((p) => (p.entries === undefined) !== (p.prepared === undefined), {
        message: 'exactly one of entries and prepared',
      }),
    result: z
      .object({
        first_index: z.number().int().nonnegative(),
        size: z.number().int().positive(),
        /** The appended leaf hashes: only for an append of `entries`. */
        leaf_hashes: z.array(base64Bytes(32)).optional(),
        checkpoint: CheckpointNoteSchema,
      })
      .strict(),
    phases: READY,
  },
  /**
   * Start computing signed aggregates for a stored credential: the enclave opens it, fetches
   * the account's fills from the exchange itself, computes and signs. Returns at once; the job
   * runs inside the enclave (see `aggregates.poll`).
   */
  'aggregates.start': {
    params: z
      .object({
        job_id: z.uuid(),
        credential: StoredCredentialSchema,
        /** Window [from, to) in milliseconds; `from: null` = as far back as the window allows. */
        from: UnixMillis.nullable(),
        to: UnixMillis,
        symbols: z.array(SymbolSchema).min(1).max(AGGREGATES_MAX_SYMBOLS).nullable(),
        reporting_currency: CurrencySchema,
        /** `aggregatesSubject(...)` of the session's owner, signed into the payload. */
        subject: hexBytes(32),
        audience: AudienceSchema.nullable(),
        nonce: AggregatesNonceSchema.nullable(),
      })
      .strict(),
    result: z.object({ job_id: z.uuid() }).strict(),
    phases: READY,
  },
  /**
   * Cancel jobs (their session was revoked): each stops before its next exchange request, drops
   * its opened key and is never signed; a finished result not yet collected is discarded.
   */
  'aggregates.cancel': {
    params: z.object({ job_ids: z.array(z.uuid()).min(1).max(256) }).strict(),
    result: z.object({ cancelled: z.array(z.uuid()) }).strict(),
    phases: READY,
  },
  /** Progress and results of jobs; `ack` names finished jobs the host has stored durably. */
  'aggregates.poll': {
    params: z
      .object({
        job_ids: z.array(z.uuid()).max(256),
        ack: z.array(z.uuid()).max(256),
      })
      .strict(),
    result: z.object({ jobs: z.array(JobViewSchema) }).strict(),
    phases: READY,
  },
  ...AUTH_METHODS,
  /**
   * Test only: blocks the enclave's event loop for `ms`, so the supervisor's watchdog can be
   * tested on a hung enclave. The enclave answers METHOD_UNKNOWN unless it was started with
   * ENCLAVE_TEST_HOOKS=1, which it refuses on any platform but `simulated`; no route calls it.
   */
  /**
   * Genesis (docs/protocol/cluster.md): a new root wraps the keyrings in use; its shares are
   * age-encrypted to the operators. The host stores the manifest, the wrapped keyrings and the
   * platform-sealed local root; it never sees a share or the root.
   */
  'cluster.genesis': {
    params: z
      .object({
        operators: operatorListSchema(2),
        threshold: z.number().int().min(2).max(MAX_OPERATORS),
        measurements: z.array(IdentityHexSchema).min(1).max(64),
        platform: ClusterPlatformSchema,
        /** The operator's nonce, bound with the manifest digest into `attestation`. */
        nonce: AttestationNonceSchema,
      })
      .strict()
      .refine((p) => p.threshold <= p.operators.length),
    result: z
      .object({
        manifest: ManifestSchema,
        manifest_digest: hexBytes(32),
        attestation: GenesisAttestationSchema,
        wrapped: z
          .object({
            credential: WrappedKeyringSchema,
            auth: WrappedKeyringSchema,
            /** Null when no wallet keyring exists yet (one made later is wrapped as it is made). */
            wallet: WrappedKeyringSchema.nullable(),
            carry: SealedBlobSchema,
          })
          .strict(),
        local_root: SealedBlobSchema,
        manifest_mac: hexBytes(32),
        shares: z.array(
          z
            .object({
              operator: z.string(),
              index: z.number().int().positive(),
              file: z.string().startsWith('-----BEGIN AGE ENCRYPTED FILE-----'),
            })
            .strict(),
        ),
      })
      .strict(),
    phases: READY,
  },
  /** Adopt the root from this machine's platform-sealed copy; it must derive the manifest's id. */
  'cluster.unlock': {
    params: z
      .object({
        local_root: SealedBlobSchema,
        manifest: ManifestSchema,
        manifest_mac: hexBytes(32),
        carry: SealedBlobSchema,
      })
      .strict(),
    result: z.object({ cluster_id: hexBytes(32) }).strict(),
    phases: AWAITING,
  },
  /** No local root: wait for the operators' shares under a one-time provisioning key. */
  'cluster.await_quorum': {
    params: z
      .object({ manifest: ManifestSchema, manifest_mac: hexBytes(32), policy: SealPolicySchema })
      .strict(),
    result: z.object({ provisioning_key: base64Bytes(32) }).strict(),
    phases: AWAITING,
  },
  /**
   * Evidence binding the provisioning key, the expected cluster id and manifest digest. `join`:
   * the host's own quote for a join, remembered for `cluster.accept_forward` (a quote served to
   * anyone at GET /attestation/quote is not, so those requests cannot push a join's out).
   */
  'cluster.quote': {
    params: z.object({ nonce: AttestationNonceSchema, join: z.boolean().optional() }).strict(),
    result: ProvisioningQuoteSchema,
    phases: QUORUM,
  },
  /** One share; at the threshold, the combined root sealed to this platform (then `unlock`). */
  'cluster.submit_share': {
    params: ShareSubmissionSchema,
    result: z
      .object({
        index: z.number().int().positive(),
        operator: z.string(),
        have: z.number().int().positive(),
        threshold: z.number().int().positive(),
        local_root: SealedBlobSchema.nullable(),
      })
      .strict(),
    phases: QUORUM,
  },
  /**
   * Join, member side: verify the newcomer's provisioning quote against the manifest, answer
   * with this enclave's attestation bound to it and the root HPKE-sealed to its key.
   */
  'cluster.forward': {
    params: JoinRequestSchema,
    result: ForwardSchema,
    phases: READY,
  },
  /** Join, newcomer side: verify the member, open the root, check its id (then `unlock`). */
  'cluster.accept_forward': {
    params: z
      .object({
        forward: ForwardSchema,
        quote_report_data: hexBytes(64),
        collateral: z.unknown().optional(),
      })
      .strict(),
    result: z.object({ local_root: SealedBlobSchema }).strict(),
    phases: QUORUM,
  },
  /**
   * Reshare: a manifest change approved by `threshold` operators of the current manifest; a new
   * split of the same root (epoch + 1), shares age-encrypted to the proposal's operators.
   */
  'cluster.reshare': {
    params: z
      .object({
        proposal: ProposalSchema,
        approvals: z.array(ApprovalSchema).min(1).max(MAX_OPERATORS),
        /** The operator's nonce, bound with the new manifest's digest into `attestation`. */
        nonce: AttestationNonceSchema,
      })
      .strict(),
    result: z
      .object({
        manifest: ManifestSchema,
        manifest_digest: hexBytes(32),
        /** As genesis's: this enclave made this split (the answer is otherwise the host's word). */
        attestation: GenesisAttestationSchema,
        manifest_mac: hexBytes(32),
        local_root: SealedBlobSchema,
        shares: z.array(
          z
            .object({
              operator: z.string(),
              index: z.number().int().positive(),
              file: z.string().startsWith('-----BEGIN AGE ENCRYPTED FILE-----'),
            })
            .strict(),
        ),
      })
      .strict(),
    phases: READY,
  },
  'test.block_event_loop': {
    params: z.object({ ms: z.number().int().min(1).max(600_000) }).strict(),
    result: z.object({}).strict(),
    phases: ALL,
  },
  ...WALLET_METHODS,
} as const;

export type MethodName = keyof typeof METHODS;
export type MethodParams<M extends MethodName> = z.input<(typeof METHODS)[M]['params']>;
export type MethodResult<M extends MethodName> = z.output<(typeof METHODS)[M]['result']>;

export function isMethodName(name: string): name is MethodName {
  return Object.hasOwn(METHODS, name);
}

export { AttestationNonceSchema, SessionIdSchema };
