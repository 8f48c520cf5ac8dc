/**
 * Cluster wire formats (docs/protocol/cluster.md): the manifest, the share file an operator
 * keeps (age-encrypted), the provisioning quote of an enclave awaiting its quorum, and a share
 * submission (the share file, HPKE-sealed to that quote's one-time provisioning key).
 * Pure: schemas, digests and the provisioning report-data rule.
 */
import { sha512 } from '@noble/hashes/sha2.js';
import { sha256 } from '../sha256.js';
import { z } from 'zod';
import {
  base64Bytes,
  base64Range,
  bytesToBase64url,
  bytesToHex,
  concatBytes,
  hexBytes,
  hexToBytes,
  utf8,
} from '../encoding.js';
import { jcsBytes } from '../jcs.js';
import { AttestationNonceSchema } from '../attestation/report-data.js';
import {
  AttestationResponseSchema,
  IdentityHexSchema,
  PlatformSchema,
} from '../attestation/response.js';

export const MANIFEST_FORMAT = 'cloister-cluster-manifest/v1';
export const SHARE_FORMAT = 'cloister-cluster-share/v1';
export const PROVISIONING_CONTEXT = 'cloister/provisioning-report-data/v1';
/** HPKE `info` for a share sealed to a provisioning key. */
export const SHARE_PROVISION_INFO = utf8.encode('cloister/cluster/share-provision/v1');

/** The cluster id: the raw Ed25519 public key of the identity derived from the root, in hex. */
export const ClusterIdSchema = hexBytes(32);
/** An age X25519 recipient (`age1…`, bech32). */
export const AgeRecipientSchema = z.string().regex(/^age1[02-9ac-hj-np-z]{58}$/);
export const OperatorNameSchema = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/);

export const OperatorSchema = z
  .object({
    name: OperatorNameSchema,
    recipient: AgeRecipientSchema,
    /** Ed25519 public key (base64) for approving manifest changes; optional until then. */
    signing_key: base64Bytes(32).optional(),
  })
  .strict();
export type Operator = z.infer<typeof OperatorSchema>;

export const MAX_OPERATORS = 32;

/**
 * The operators of a new split (genesis, a proposal): at least `min`, and no two alike. A name
 * twice (also differing in case only, as on a case-insensitive disk) would write both shares to
 * one `<name>.age`; a recipient twice gives one person two shares; a signing key twice lets one
 * person approve as two operators. Each would quietly lower the threshold the operators chose.
 */
export const operatorListSchema = (min: number) =>
  z
    .array(OperatorSchema)
    .min(min)
    .max(MAX_OPERATORS)
    .superRefine((ops, ctx) => {
      const fields = [
        ['name', (o: Operator) => o.name.toLowerCase()],
        ['recipient', (o: Operator) => o.recipient],
        ['signing_key', (o: Operator) => o.signing_key],
      ] as const;
      for (const [field, key] of fields) {
        const seen = new Set<string>();
        ops.forEach((op, i) => {
          const k = key(op);
          if (k === undefined) return;
          if (seen.has(k))
            ctx.addIssue({
              code: 'custom',
              path: [i, field],
              message: `two operators have the same ${field}`,
            });
          seen.add(k);
        });
      }
    });

/** Platform policy: which platform, whether debug evidence passes, which simulated vendors. */
export const ClusterPlatformSchema = z
  .object({
    name: PlatformSchema,
    allow_debug: z.boolean(),
    /** `simulated` only: the vendor keys (base64) of the machines that may hold the root. */
    simulated_vendor_keys: z.array(base64Bytes(32)).max(64).optional(),
  })
  .strict();

export const FORWARD_FORMAT = 'cloister-cluster-forward/v1';
/** HPKE `info` prefix for the root forwarded member → newcomer; both report datas follow. */
export const FORWARD_INFO_PREFIX = 'cloister/cluster/forward/v1\n';

export const ManifestSchema = z
  .object({
    format: z.literal(MANIFEST_FORMAT),
    cluster_id: ClusterIdSchema,
    /** The split: shares of an older epoch are refused. */
    epoch: z.number().int().positive(),
    threshold: z.number().int().min(2).max(MAX_OPERATORS),
    operators: z.array(OperatorSchema).min(1).max(MAX_OPERATORS),
    /** `share_digests[i]` commits to the share file of `operators[i]` (index i + 1). */
    share_digests: z.array(hexBytes(32)).min(1).max(MAX_OPERATORS),
    /** Measurements an enclave must show to be given a share or the root. */
    measurements: z.array(IdentityHexSchema).min(1).max(64),
    platform: ClusterPlatformSchema,
    created_at: z.number().int().nonnegative(),
  })
  .strict()
  .refine((m) => m.share_digests.length === m.operators.length, {
    message: 'one share digest per operator',
  })
  .refine((m) => m.threshold <= m.operators.length, { message: 'threshold above operators' });
export type Manifest = z.infer<typeof ManifestSchema>;

/** Hex SHA-256 of the manifest's JCS: what the log and provisioning quotes name. */
export function manifestDigest(manifest: Manifest): string {
  return bytesToHex(sha256(jcsBytes(manifest)));
}

export const ShareFileSchema = z
  .object({
    format: z.literal(SHARE_FORMAT),
    cluster_id: ClusterIdSchema,
    epoch: z.number().int().positive(),
    /** 1-based: the share of `operators[index - 1]`. */
    index: z.number().int().min(1).max(MAX_OPERATORS),
    threshold: z.number().int().min(2).max(MAX_OPERATORS),
    operator: OperatorNameSchema,
    /** The Shamir share (shamir-secret-sharing / Vault format: 32 bytes + 1 x-coordinate). */
    share: base64Bytes(33),
  })
  .strict();
export type ShareFile = z.infer<typeof ShareFileSchema>;

/** The commitment the manifest lists per share: names an altered share without the root. */
export function shareDigest(file: ShareFile): string {
  return bytesToHex(
    sha256(concatBytes(utf8.encode('cloister/cluster/share/v1\n'), jcsBytes(file))),
  );
}

/** What an enclave in `awaiting_quorum` binds into its evidence. */
export interface ProvisioningBinding {
  provisioning_key: string;
  cluster_id: string;
  manifest_digest: string;
  nonce: string;
}

export function provisioningReportData(b: ProvisioningBinding): Uint8Array {
  return sha512(
    jcsBytes({
      context: PROVISIONING_CONTEXT,
      provisioning_key: b.provisioning_key,
      cluster_id: b.cluster_id,
      manifest_digest: b.manifest_digest,
      nonce: b.nonce,
    }),
  );
}

export const GENESIS_CONTEXT = 'cloister/cluster-genesis-report-data/v1';

/**
 * What `cluster.genesis` binds into its evidence: the manifest it made and the operator's nonce.
 * Its own context, so no other enclave answer (an ordinary attestation of any nonce the host
 * picks) can stand for it: the operators' CLI accepts a manifest only with this evidence.
 */
export function genesisReportData(b: {
  cluster_id: string;
  manifest_digest: string;
  nonce: string;
}): Uint8Array {
  return sha512(
    jcsBytes({
      context: GENESIS_CONTEXT,
      cluster_id: b.cluster_id,
      manifest_digest: b.manifest_digest,
      nonce: b.nonce,
    }),
  );
}

/** The evidence a genesis answer carries (report data: `genesisReportData`). */
export const GenesisAttestationSchema = z
  .object({
    quote: base64Range(1, 64 * 1024),
    image_hash: IdentityHexSchema,
    platform: PlatformSchema,
    report_data: hexBytes(64),
    nonce: AttestationNonceSchema,
  })
  .strict();
export type GenesisAttestation = z.infer<typeof GenesisAttestationSchema>;

/** `GET /attestation/quote` while the instance awaits its quorum. */
export const ProvisioningQuoteSchema = z
  .object({
    phase: z.literal('awaiting_quorum'),
    quote: base64Range(1, 64 * 1024),
    image_hash: IdentityHexSchema,
    platform: PlatformSchema,
    report_data: hexBytes(64),
    provisioning_key: base64Bytes(32),
    cluster_id: ClusterIdSchema,
    manifest_digest: hexBytes(32),
    nonce: AttestationNonceSchema,
  })
  .strict();
export type ProvisioningQuote = z.infer<typeof ProvisioningQuoteSchema>;

/**
 * `POST /cluster/join` (newcomer host → member host): the newcomer's provisioning quote, and
 * the collateral its evidence needs (hardware platforms; the member enclave has no network).
 */
export const JoinRequestSchema = z
  .object({ quote: ProvisioningQuoteSchema, collateral: z.unknown().optional() })
  .strict();

/** The member's answer: its own attestation (nonce = forwardNonce), the root under HPKE. */
export const ForwardSchema = z
  .object({
    member: AttestationResponseSchema,
    enc: base64Bytes(32),
    ciphertext: base64Range(17, 4096),
  })
  .strict();
export type Forward = z.infer<typeof ForwardSchema>;

/** The member binds the newcomer's report data as the nonce of its own attestation. */
export function forwardNonce(newcomerReportDataHex: string): string {
  return bytesToBase64url(sha256(hexToBytes(newcomerReportDataHex)));
}

/** HPKE info: both reports, so the channel belongs to exactly this pair of enclaves. */
export function forwardInfo(newcomerReportDataHex: string, memberReportDataHex: string) {
  return concatBytes(
    utf8.encode(FORWARD_INFO_PREFIX),
    hexToBytes(newcomerReportDataHex),
    hexToBytes(memberReportDataHex),
  );
}

/** `POST /cluster/shares`: one share file, HPKE-sealed to the provisioning key. */
export const ShareSubmissionSchema = z
  .object({
    manifest_digest: hexBytes(32),
    provisioning_key: base64Bytes(32),
    enc: base64Bytes(32),
    ciphertext: base64Range(17, 4096),
  })
  .strict();
export type ShareSubmission = z.infer<typeof ShareSubmissionSchema>;

export const PROPOSAL_FORMAT = 'cloister-cluster-proposal/v1';
const APPROVAL_CONTEXT = 'cloister/cluster/approve/v1\n';

/**
 * A manifest change (docs/protocol/cluster.md, "Reshare and approval"): the next split's
 * operators, threshold, measurements and platform policy for the same cluster (same root).
 * Applied only with approvals by `threshold` operators of the current manifest.
 */
export const ProposalSchema = z
  .object({
    format: z.literal(PROPOSAL_FORMAT),
    cluster_id: ClusterIdSchema,
    /** The epoch this proposal replaces; a stale proposal cannot be replayed later. */
    from_epoch: z.number().int().positive(),
    threshold: z.number().int().min(2).max(MAX_OPERATORS),
    operators: operatorListSchema(2),
    measurements: z.array(IdentityHexSchema).min(1).max(64),
    platform: ClusterPlatformSchema,
  })
  .strict()
  .refine((p) => p.threshold <= p.operators.length, { message: 'threshold above operators' });
export type Proposal = z.infer<typeof ProposalSchema>;

/** One operator's Ed25519 signature over the proposal (key: `signing_key` in the manifest). */
export const ApprovalSchema = z
  .object({ operator: OperatorNameSchema, signature: base64Bytes(64) })
  .strict();
export type Approval = z.infer<typeof ApprovalSchema>;

/** The bytes an operator signs to approve a proposal. */
export function approvalMessage(proposal: Proposal): Uint8Array {
  return concatBytes(utf8.encode(APPROVAL_CONTEXT), jcsBytes(proposal));
}
