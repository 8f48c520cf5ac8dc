/**
 * The cluster root (docs/protocol/cluster.md, "Root and derived keys"): 32 random bytes from
 * which everything cluster-wide is derived with HKDF-SHA256 (salt "cloister/cluster/v1"):
 *   info "keyring-wrap/v1"      → the AES-256-GCM key every keyring blob is wrapped under;
 *   info "identity/v1"          → the seed of the Ed25519 identity key; its public key, in hex,
 *                                 is the cluster id.
 * Whoever holds a root can recompute the id, so an enclave accepts a root only if it derives
 * the id it expects.
 */
import { hkdfSync, randomBytes } from 'node:crypto';
import { bytesEqual, bytesToHex, hexToBytes } from '../../protocol/encoding.js';
import { RpcError } from '../../protocol/rpc/errors.js';
import { ed25519PrivateKeyObject, ed25519RawPublic } from '../crypto/ed25519.js';

export const ROOT_BYTES = 32;
const SALT = 'cloister/cluster/v1';
export const WRAP_INFO = 'keyring-wrap/v1';
export const IDENTITY_INFO = 'identity/v1';

export function generateRoot(): Uint8Array {
  return new Uint8Array(randomBytes(ROOT_BYTES));
}

/** A key derived from the root; caller wipes it. */
export function deriveFromRoot(root: Uint8Array, info: string): Uint8Array {
  if (root.length !== ROOT_BYTES) throw new RpcError('CLUSTER_ROOT_INVALID');
  return new Uint8Array(hkdfSync('sha256', root, SALT, info, 32));
}

export function clusterIdOf(root: Uint8Array): string {
  const seed = deriveFromRoot(root, IDENTITY_INFO);
  try {
    return bytesToHex(ed25519RawPublic(ed25519PrivateKeyObject(seed)));
  } finally {
    seed.fill(0);
  }
}

/** CLUSTER_ID_MISMATCH unless `root` derives `expected` (constant-time compare). */
export function checkClusterId(root: Uint8Array, expected: string): void {
  if (!bytesEqual(hexToBytes(clusterIdOf(root)), hexToBytes(expected)))
    throw new RpcError('CLUSTER_ID_MISMATCH');
}
