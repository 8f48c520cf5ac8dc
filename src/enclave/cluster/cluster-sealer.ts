/**
 * Wrapping under the cluster root (docs/protocol/cluster.md, "Wrapped keyring"): the same
 * `Sealer` interface as platform sealing (keyring/seal.ts), so every keyring purpose and its
 * lifecycle are unchanged. AES-256-GCM under HKDF(root, "keyring-wrap/v1"), with the JCS header
 * {format, cluster_id, policy} as associated data; base64 of the JCS document like a sealed blob.
 *
 * `enclaveSealer` is what the enclave uses: cluster wrapping once it holds a root, platform
 * sealing before; unsealing goes by the blob's format, and a platform-sealed blob opens only
 * while no root is held (a member runs the cluster's keyrings, nothing of its machine's own).
 */
import { z } from 'zod';
import { base64Bytes, base64Range, base64ToBytes, utf8 } from '../../protocol/encoding.js';
import { ClusterIdSchema } from '../../protocol/cluster/cluster.js';
import { RpcError } from '../../protocol/rpc/errors.js';
import { SealPolicySchema, type SealPolicy } from '../../protocol/rpc/methods.js';
import type { Platform } from '../platform/platform.js';
import { openDocument, platformSealer, sealDocument, type Sealer } from '../keyring/seal.js';
import { clusterIdOf, deriveFromRoot, WRAP_INFO } from './root.js';

export const WRAP_FORMAT = 'cloister-cluster-wrapped/v1';

const WrappedSchema = z
  .object({
    format: z.literal(WRAP_FORMAT),
    cluster_id: ClusterIdSchema,
    policy: SealPolicySchema,
    nonce: base64Bytes(12),
    ciphertext: base64Range(16, 1024 * 1024),
  })
  .strict();

export function wrap(root: Uint8Array, plaintext: Uint8Array, policy: SealPolicy): string {
  const header = { format: WRAP_FORMAT, cluster_id: clusterIdOf(root), policy };
  return sealDocument(deriveFromRoot(root, WRAP_INFO), header, plaintext);
}

function parseWrapped(sealed: string): z.infer<typeof WrappedSchema> | null {
  try {
    return WrappedSchema.parse(JSON.parse(utf8.decode(base64ToBytes(sealed))));
  } catch {
    return null;
  }
}

export function isWrapped(sealed: string): boolean {
  return parseWrapped(sealed) !== null;
}

export function unwrap(
  root: Uint8Array,
  sealed: string,
): { plaintext: Uint8Array; policy: SealPolicy } {
  const parsed = parseWrapped(sealed);
  if (!parsed) throw new RpcError('SEAL_INVALID');
  const { nonce, ciphertext, ...header } = parsed;
  // A blob of another cluster: say so without trying.
  if (header.cluster_id !== clusterIdOf(root)) throw new RpcError('CLUSTER_ID_MISMATCH');
  const plaintext = openDocument(deriveFromRoot(root, WRAP_INFO), { nonce, ciphertext }, header);
  return { plaintext, policy: header.policy };
}

/**
 * Cluster wrapping while `root()` returns one, platform sealing otherwise; while a root is held
 * only wrapped blobs open.
 */
export function enclaveSealer(platform: Platform, root: () => Uint8Array | null): Sealer {
  const local = platformSealer(platform);
  return {
    seal(plaintext, policy) {
      const r = root();
      return r ? wrap(r, plaintext, policy) : local.seal(plaintext, policy);
    },
    unseal(sealed) {
      const r = root();
      if (!isWrapped(sealed)) {
        // A member runs the cluster's keyrings only: a platform-sealed blob (this machine's own,
        // from before the genesis or another deployment) would attest the cluster id over keys
        // no other member holds. Genesis converted every keyring in use, so none is needed.
        if (r) throw new RpcError('CLUSTER_ID_MISMATCH');
        return local.unseal(sealed);
      }
      // A wrapped blob before the root is known: the host skipped `cluster.unlock`.
      if (!r) throw new RpcError('CLUSTER_LOCKED');
      return unwrap(r, sealed);
    },
  };
}
