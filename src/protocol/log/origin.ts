/**
 * The log's origin (the first checkpoint line, and the name its key signs under) is derived
 * from the log public key, so a verifier that trusts the key from the attestation knows the
 * origin too, and two keyrings can never share one.
 */
import { sha256 } from '../sha256.js';
import { bytesToHex } from '../encoding.js';

export function logOrigin(logPublicKey: Uint8Array): string {
  return `cloister.log/${bytesToHex(sha256(logPublicKey).subarray(0, 8))}`;
}
