/**
 * The report-data rule (docs/protocol/attestation-response.md): the 64 bytes a platform binds
 * into its evidence are SHA-512 of the RFC 8785 canonical JSON of
 *   { context: "cloister/report-data/v1", enclave_pubkey, key_id, signing_keys, nonce }
 * plus `cluster_id` when the enclave belongs to a cluster (docs/protocol/cluster.md); without
 * it the preimage is exactly the one of earlier versions, so older responses still verify.
 * The context string keeps this preimage from ever meaning anything else.
 */
import { sha512 } from '@noble/hashes/sha2.js';
import { z } from 'zod';
import { base64Bytes, hexBytes } from '../encoding.js';
import { jcsBytes } from '../jcs.js';
import { KeyIdSchema } from '../key-id.js';

export const REPORT_DATA_CONTEXT = 'cloister/report-data/v1';

/** A caller's nonce: 8 to 64 bytes, base64url or hex; the host invents one if none is given. */
export const AttestationNonceSchema = z
  .string()
  .min(11)
  .max(128)
  .regex(/^[A-Za-z0-9_-]+$/, { message: 'nonce must be base64url or hex' });

export const SigningKeysSchema = z
  .object({
    results: base64Bytes(32),
    log: base64Bytes(32),
    /**
     * RFC 7638 thumbprints (= JWKS `kid`s) of every ES256 JWT key the enclave publishes, in JWKS
     * order (docs/protocol/auth.md). Absent before the auth keyring is loaded; when absent the
     * preimage is exactly the one of earlier versions.
     */
    jwt: z.array(KeyIdSchema).max(64).optional(),
  })
  .strict();
export type SigningKeys = z.infer<typeof SigningKeysSchema>;

export interface ReportDataInput {
  enclave_pubkey: string;
  key_id: string;
  signing_keys: SigningKeys;
  nonce: string;
  cluster_id?: string;
}

export const ReportDataInputSchema = z.object({
  enclave_pubkey: base64Bytes(32),
  key_id: KeyIdSchema,
  signing_keys: SigningKeysSchema,
  nonce: AttestationNonceSchema,
  cluster_id: hexBytes(32).optional(),
});

export function reportDataPreimage(input: ReportDataInput): Uint8Array {
  return jcsBytes({
    context: REPORT_DATA_CONTEXT,
    enclave_pubkey: input.enclave_pubkey,
    key_id: input.key_id,
    signing_keys: {
      results: input.signing_keys.results,
      log: input.signing_keys.log,
      ...(input.signing_keys.jwt ? { jwt: [...input.signing_keys.jwt] } : {}),
    },
    nonce: input.nonce,
    ...(input.cluster_id !== undefined ? { cluster_id: input.cluster_id } : {}),
  });
}

export function computeReportData(input: ReportDataInput): Uint8Array {
  return sha512(reportDataPreimage(input));
}
