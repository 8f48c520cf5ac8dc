/**
 * `GET /attestation/quote` (docs/protocol/attestation-response.md). The seed's three fields
 * (`quote`, `enclave_pubkey`, `image_hash`) plus what a verifier needs to check the binding:
 * `platform`, `key_id`, `signing_keys`, `nonce` and the `report_data` they hash to.
 */
import { z } from 'zod';
import { base64Bytes, base64Range, hexBytes } from '../encoding.js';
import { KeyIdSchema } from '../key-id.js';
import { AttestationNonceSchema, SigningKeysSchema } from './report-data.js';

export const PLATFORMS = ['simulated', 'sgx', 'tdx', 'sev-snp', 'nitro'] as const;
export const PlatformSchema = z.enum(PLATFORMS);
export type PlatformName = z.infer<typeof PlatformSchema>;

/**
 * A measurement or signer identity in lowercase hex: 32 bytes (SGX MRENCLAVE/MRSIGNER) or
 * 48 bytes (SHA-384 on simulated, TDX MRTD/MROWNER, SNP MEASUREMENT/ID_KEY_DIGEST, Nitro PCRs).
 */
export const IdentityHexSchema = z.union([hexBytes(32), hexBytes(48)]);

export const AttestationResponseSchema = z
  .object({
    quote: base64Range(1, 64 * 1024),
    enclave_pubkey: base64Bytes(32),
    image_hash: IdentityHexSchema,
    platform: PlatformSchema,
    key_id: KeyIdSchema,
    signing_keys: SigningKeysSchema,
    nonce: AttestationNonceSchema,
    report_data: hexBytes(64),
    /** The cluster id (docs/protocol/cluster.md), in the report data when present. */
    cluster_id: hexBytes(32).optional(),
  })
  .strict();
export type AttestationResponse = z.infer<typeof AttestationResponseSchema>;
