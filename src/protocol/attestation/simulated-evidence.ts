/**
 * Evidence of the `simulated` platform (docs/protocol/attestation-response.md). A real platform
 * implementation with real signatures, but its root is a vendor key generated on this machine,
 * so it proves nothing about hardware: it is marked `debug: true` and verifiers refuse it unless
 * the caller passes that exact vendor key.
 *
 * Wire form: the `quote` is base64 of the UTF-8 JCS of the document below; the Ed25519
 * signature covers "cloister/simulated-evidence/v1\n" ‖ JCS(document without `signature`).
 */
import { z } from 'zod';
import { base64Bytes, concatBytes, hexBytes, utf8 } from '../encoding.js';
import { jcsBytes } from '../jcs.js';

export const SIMULATED_EVIDENCE_FORMAT = 'cloister-simulated-evidence/v1';
const SIGNING_CONTEXT = utf8.encode('cloister/simulated-evidence/v1\n');

export const SimulatedEvidenceBodySchema = z
  .object({
    format: z.literal(SIMULATED_EVIDENCE_FORMAT),
    platform: z.literal('simulated'),
    debug: z.literal(true),
    /** SHA-384 of the enclave bundle, hex. */
    measurement: hexBytes(48),
    /** Identity the `signer` sealing policy binds to, hex SHA-256. */
    signer: hexBytes(32),
    report_data: hexBytes(64),
    /** Seconds since the Unix epoch at which the evidence was produced. */
    timestamp: z.number().int().nonnegative(),
    vendor_key: base64Bytes(32),
  })
  .strict();
export type SimulatedEvidenceBody = z.infer<typeof SimulatedEvidenceBodySchema>;

export const SimulatedEvidenceSchema = SimulatedEvidenceBodySchema.extend({
  signature: base64Bytes(64),
}).strict();
export type SimulatedEvidence = z.infer<typeof SimulatedEvidenceSchema>;

export function simulatedEvidenceSigningInput(body: SimulatedEvidenceBody): Uint8Array {
  return concatBytes(SIGNING_CONTEXT, jcsBytes(SimulatedEvidenceBodySchema.parse(body)));
}
