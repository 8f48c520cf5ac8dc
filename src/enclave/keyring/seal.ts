/**
 * Sealing (docs/protocol/sealed-state.md): AES-256-GCM under the platform sealing key, with the
 * header (format version, policy, sealing identity) as associated data, so a blob cannot be
 * relabelled to another policy. The result is base64 of the JCS header plus nonce and
 * ciphertext; the host stores it as an opaque string.
 */
import { z } from 'zod';
import {
  base64Bytes,
  base64Range,
  base64ToBytes,
  bytesToBase64,
  utf8,
} from '../../protocol/encoding.js';
import { jcs, jcsBytes } from '../../protocol/jcs.js';
import { RpcError } from '../../protocol/rpc/errors.js';
import { SealPolicySchema, type SealPolicy } from '../../protocol/rpc/methods.js';
import { nodePrimitives } from '../crypto/node-primitives.js';
import { sealIdentity, type Platform } from '../platform/platform.js';

const SEAL_FORMAT = 'cloister-sealed/v1';

const SealedSchema = z
  .object({
    format: z.literal(SEAL_FORMAT),
    platform: z.string(),
    policy: SealPolicySchema,
    identity: z.string().regex(/^[0-9a-f]{64,96}$/),
    nonce: base64Bytes(12),
    ciphertext: base64Range(16, 1024 * 1024),
  })
  .strict();

export function seal(platform: Platform, policy: SealPolicy, plaintext: Uint8Array): string {
  const header = {
    format: SEAL_FORMAT,
    platform: platform.name,
    policy,
    identity: sealIdentity(platform, policy),
  };
  const key = platform.sealingKey(policy);
  try {
    const nonce = nodePrimitives.randomBytes(12);
    const { ciphertext, tag } = nodePrimitives.aesGcmSeal(key, nonce, plaintext, jcsBytes(header));
    const joined = new Uint8Array(ciphertext.length + tag.length);
    joined.set(ciphertext);
    joined.set(tag, ciphertext.length);
    return bytesToBase64(
      utf8.encode(
        jcs({ ...header, nonce: bytesToBase64(nonce), ciphertext: bytesToBase64(joined) }),
      ),
    );
  } finally {
    key.fill(0);
  }
}

/** Returns the plaintext (caller wipes) and the policy it was sealed under. */
export function unseal(
  platform: Platform,
  sealed: string,
): { plaintext: Uint8Array; policy: SealPolicy } {
  let parsed: z.infer<typeof SealedSchema>;
  try {
    parsed = SealedSchema.parse(JSON.parse(utf8.decode(base64ToBytes(sealed))));
  } catch {
    throw new RpcError('SEAL_INVALID');
  }
  const { nonce, ciphertext, ...header } = parsed;
  // A blob sealed to another measurement or signer cannot open here; say so without trying.
  if (
    header.platform !== platform.name ||
    header.identity !== sealIdentity(platform, header.policy)
  ) {
    throw new RpcError('SEAL_INVALID');
  }
  const key = platform.sealingKey(header.policy);
  try {
    const joined = base64ToBytes(ciphertext);
    const plaintext = nodePrimitives.aesGcmOpen(
      key,
      base64ToBytes(nonce),
      joined.subarray(0, -16),
      joined.subarray(-16),
      jcsBytes(header),
    );
    return { plaintext, policy: header.policy };
  } catch {
    throw new RpcError('SEAL_INVALID');
  } finally {
    key.fill(0);
  }
}
