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
  concatBytes,
  utf8,
} from '../../protocol/encoding.js';
import { jcs, jcsBytes } from '../../protocol/jcs.js';
import { RpcError } from '../../protocol/rpc/errors.js';
import { SealPolicySchema, type SealPolicy } from '../../protocol/rpc/methods.js';
import { GCM_NONCE_BYTES, gcmOpen, gcmSeal } from '../crypto/gcm.js';
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

/**
 * How a keyring's plaintext is wrapped for the host to store: one interface, so that what wraps
 * it can change (today the platform sealing key, `platformSealer`; later a cluster root shared by
 * attested enclaves) without touching the keyrings or their lifecycle (keyring-slot.ts).
 */
export interface Sealer {
  /** An opaque string for the host; `plaintext` stays the caller's to wipe. */
  seal(plaintext: Uint8Array, policy: SealPolicy): string;
  /** The plaintext (caller wipes) and the policy it was sealed under; SEAL_INVALID otherwise. */
  unseal(sealed: string): { plaintext: Uint8Array; policy: SealPolicy };
}

export function platformSealer(platform: Platform): Sealer {
  return {
    seal: (plaintext, policy) => seal(platform, policy, plaintext),
    unseal: (sealed) => unseal(platform, sealed),
  };
}

export function seal(platform: Platform, policy: SealPolicy, plaintext: Uint8Array): string {
  const header = {
    format: SEAL_FORMAT,
    platform: platform.name,
    policy,
    identity: sealIdentity(platform, policy),
  };
  return sealDocument(platform.sealingKey(policy), header, plaintext);
}

/**
 * A sealed document (docs/protocol/sealed-state.md): `header` in the clear and authenticated
 * (AES-256-GCM associated data, as JCS), the plaintext encrypted under `key`, the nonce apart
 * from ciphertext ‖ tag; base64 of the JCS document. Platform sealing and cluster wrapping
 * (cluster/cluster-sealer.ts) differ only in their header and key. Wipes `key`.
 */
export function sealDocument(
  key: Uint8Array,
  header: Record<string, string>,
  plaintext: Uint8Array,
): string {
  try {
    const sealed = gcmSeal(key, plaintext, jcsBytes(header));
    return bytesToBase64(
      utf8.encode(
        jcs({
          ...header,
          nonce: bytesToBase64(sealed.subarray(0, GCM_NONCE_BYTES)),
          ciphertext: bytesToBase64(sealed.subarray(GCM_NONCE_BYTES)),
        }),
      ),
    );
  } finally {
    key.fill(0);
  }
}

/** Opens what sealDocument made with the same header and key; SEAL_INVALID otherwise. Wipes `key`. */
export function openDocument(
  key: Uint8Array,
  doc: { nonce: string; ciphertext: string },
  header: Record<string, string>,
): Uint8Array {
  try {
    const joined = concatBytes(base64ToBytes(doc.nonce), base64ToBytes(doc.ciphertext));
    return gcmOpen(key, joined, jcsBytes(header));
  } catch {
    throw new RpcError('SEAL_INVALID');
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
  const plaintext = openDocument(platform.sealingKey(header.policy), { nonce, ciphertext }, header);
  return { plaintext, policy: header.policy };
}
