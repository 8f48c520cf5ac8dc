/**
 * The root's Shamir split, through the audited `shamir-secret-sharing` library (Vault's share
 * format: the share bytes followed by one x-coordinate byte). This wrapper only fixes the sizes;
 * a threshold is at least 2 (the manifest schema says so, as does the library).
 */
import { combine, split } from 'shamir-secret-sharing';
import { RpcError } from '../../protocol/rpc/errors.js';
import { ROOT_BYTES } from './root.js';

export function splitRoot(root: Uint8Array, n: number, k: number): Promise<Uint8Array[]> {
  return split(root, n, k);
}

export async function combineShares(shares: Uint8Array[]): Promise<Uint8Array> {
  const root = await combine(shares).catch(() => null);
  if (!root || root.length !== ROOT_BYTES) throw new RpcError('CLUSTER_ROOT_INVALID');
  return root;
}
