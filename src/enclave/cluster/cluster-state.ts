/** What the enclave holds about its cluster (see methods/cluster.ts for the transitions). */
import type { KeyObject } from 'node:crypto';
import type { Manifest } from '../../protocol/cluster/cluster.js';
import type { SealPolicy } from '../../protocol/rpc/methods.js';

export interface ClusterState {
  /** 32 bytes; never leaves the enclave except as age-encrypted shares (docs/protocol/cluster.md). */
  readonly root: Uint8Array;
  readonly clusterId: string;
  readonly manifest: Manifest;
  /** The password-sealing root carried under the cluster root (state.ts `passwordKeySource`). */
  readonly passwordKey: Uint8Array;
}

export interface QuorumState {
  readonly manifest: Manifest;
  readonly manifestDigest: string;
  /** The manifest's MAC under the root (checked once the root is known). */
  readonly manifestMac: string;
  /** The policy the host seals this machine's copy of the root under. */
  readonly policy: SealPolicy;
  /** One-time X25519 provisioning key: bound into the provisioning quote, never exported. */
  readonly provisioning: { readonly privateKey: KeyObject; readonly publicKey: Uint8Array };
  /** Report datas of the join quotes the host asked for (a forwarded root must name one). */
  readonly issued: Set<string>;
  /** Accepted shares by 1-based index. */
  readonly shares: Map<number, Uint8Array>;
}
