/**
 * The cluster root (docs/protocol/cluster.md, "Root and derived keys"): 32 random bytes from
 * which everything cluster-wide is derived with HKDF-SHA256 (salt "cloister/cluster/v1"):
 *   info "keyring-wrap/v1"      → the AES-256-GCM key every keyring blob is wrapped under;
 *   info "identity/v1"          → the seed of the Ed25519 identity key; its public key, in hex,
 *                                 is the cluster id;
 *   info "manifest-mac/v1"      → the HMAC key that authenticates manifests.
 * Whoever holds a root can recompute the id, so an enclave accepts a root only if it derives
 * the id it expects.
 */
import { createHmac, hkdfSync, randomBytes } from 'node:crypto';
import type { Manifest } from '../../protocol/cluster/cluster.js';
import { jcsBytes } from '../../protocol/jcs.js';
import { bytesEqual, bytesToHex, hexToBytes } from '../../protocol/encoding.js';
import { RpcError } from '../../protocol/rpc/errors.js';
import { ed25519PrivateKeyObject, ed25519RawPublic } from '../crypto/ed25519.js';

export const ROOT_BYTES = 32;
const SALT = 'cloister/cluster/v1';
export const WRAP_INFO = 'keyring-wrap/v1';
export const IDENTITY_INFO = 'identity/v1';
export const MANIFEST_MAC_INFO = 'manifest-mac/v1';

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

/**
 * HMAC-SHA256 under HKDF(root, "manifest-mac/v1") over the manifest's JCS, hex: only an enclave
 * holding the root can make one, so a host cannot hand an enclave a manifest of its own making
 * (e.g. one accepting another measurement) for a cluster it does not hold the root of.
 */
export function manifestMac(root: Uint8Array, manifest: Manifest): string {
  const key = deriveFromRoot(root, MANIFEST_MAC_INFO);
  try {
    return createHmac('sha256', key).update(jcsBytes(manifest)).digest('hex');
  } finally {
    key.fill(0);
  }
}

/** CLUSTER_MANIFEST_MISMATCH unless `mac` is the root's MAC of `manifest`. */
export function checkManifestMac(root: Uint8Array, manifest: Manifest, mac: string): void {
  if (!bytesEqual(hexToBytes(manifestMac(root, manifest)), hexToBytes(mac)))
    throw new RpcError('CLUSTER_MANIFEST_MISMATCH');
}
