/**
 * The enclave's state, all of it, and its phase machine: `awaiting_keyring` → `ready` (after
 * keyring.generate or keyring.unseal); a cluster member without its root first goes
 * `awaiting_keyring` → `awaiting_quorum` → `awaiting_keyring` (cluster.await_quorum, then shares). There is no failure phase: a broken invariant is a throw
 * (an `INTERNAL` result), and an uncaught one ends the process (main.ts), which the supervisor
 * restarts. Each RPC method lists the phases it may run in (protocol/rpc/methods.ts); the
 * dispatcher checks the phase before calling it. Auth has one readiness step of its own inside
 * `ready`: until `auth.init` has loaded the auth keyring, auth methods answer `AUTH_NOT_READY`.
 */
import { hkdfSync } from 'node:crypto';
import { RpcError } from '../protocol/rpc/errors.js';
import type { MethodResult, Phase, SealPolicy } from '../protocol/rpc/methods.js';
import { createAuthState, type AuthState } from './auth/auth-state.js';
import type { EnclaveConfig } from './config.js';
import { createEgressTransport } from './egress/for-config.js';
import type { HttpTransport } from './exchanges/types.js';
import { JobTable } from './jobs/job-table.js';
import type { Keyring } from './keyring/keyring.js';
import { createKeyringSlots, type KeyringSlots } from './keyring/purposes.js';
import type { Sealer } from './keyring/seal.js';
import type { PasswordKeySource } from './auth/tokens.js';
import { enclaveSealer } from './cluster/cluster-sealer.js';
import type { ClusterState, QuorumState } from './cluster/cluster-state.js';
import type { EnclaveLog } from './log/enclave-log.js';
import { BUILD_GENESIS_POLICY, type GenesisPolicy } from './cluster/genesis-policy.js';
import type { Platform } from './platform/platform.js';
import { ReplayCache } from './replay-cache.js';
import { createWalletMemory, type WalletMemory } from './wallet/state-mac.js';

/** The signed result an aggregates job ends with. */
export type SignedAggregates = Extract<
  MethodResult<'aggregates.poll'>['jobs'][number],
  { state: 'done' }
>['result'];

/** A finished aggregates job waits this long for the host to collect it. */
const KEEP_FINISHED_JOB_SECONDS = 600;

export interface EnclaveState {
  phase: Phase;
  readonly config: EnclaveConfig;
  readonly platform: Platform;
  /** Wraps every keyring for the host to store (keyring/seal.ts). */
  readonly sealer: Sealer;
  readonly bootTime: number;
  readonly now: () => number;
  /**
   * `now`, but never earlier than a value it gave before in this process (`monotonicSeconds`).
   * A TEE's clock is the host's to set: the rules that forget something once it is past (the
   * replay cache's spent keys, revocations, a credential's expiry) read this one, so a clock set
   * back does not bring back what they forgot.
   */
  readonly monotonicNow: () => number;
  readonly replay: ReplayCache;
  /**
   * Credential key ids this process drew itself (keyring.generate, rotation): no earlier
   * process held them, so their envelopes need no envelope_not_before (envelope-freshness.ts).
   */
  readonly keysMadeHere: Set<string>;
  /**
   * Sessions (by log subject) whose `session.revoked` entry this process checked for the log,
   * each with the time after which its binding has expired anyway: their stored credential is
   * refused from then on, whatever the database says (methods/verify-stored.ts).
   */
  readonly revokedSessions: Map<string, number>;
  /** Adopted by keyring.generate / keyring.unseal; every later seal uses it. */
  policy: SealPolicy | null;
  /** One sealed-keyring slot per purpose (keyring/purposes.ts): active and pending keyrings. */
  readonly keyrings: KeyringSlots;
  /** Authentication: the Argon2id hasher and its settings (its keyring is `keyrings.auth`). */
  readonly auth: AuthState;
  /** Aggregates jobs (methods/aggregates.ts). */
  readonly jobs: JobTable<SignedAggregates>;
  /** The one egress transport, built on first use and shared by every job (egress/). */
  readonly egress: () => HttpTransport;
  /** The transparency log, once `log.init` has run. */
  log: EnclaveLog | null;
  /** Highest wallet-record versions and spend counters issued since boot (anti-rollback). */
  readonly wallets: WalletMemory;
  /** The cluster root and manifest, after `cluster.genesis` or `cluster.unlock`. */
  cluster: ClusterState | null;
  /** Shares gathered in `awaiting_quorum` (after `cluster.await_quorum`). */
  quorum: QuorumState | null;
  /** When `cluster.genesis` may run: compiled into the bundle (cluster/genesis-policy.ts). */
  readonly genesisPolicy: GenesisPolicy;
  /**
   * The single-machine password-sealing root per seal policy, derived on first use by
   * `passwordKeySource` (two HKDFs per login before) and held here only; wiped once a cluster
   * root carries it instead.
   */
  readonly passwordRoots: Map<SealPolicy, Uint8Array>;
}

/** `source`, held at the latest value it gave: a clock that never goes back. */
export function monotonicSeconds(source: () => number): () => number {
  let latest = Number.NEGATIVE_INFINITY;
  return () => {
    const t = source();
    if (t > latest) latest = t;
    return latest;
  };
}

export function createEnclaveState(
  config: EnclaveConfig,
  platform: Platform,
  now: () => number = () => Math.floor(Date.now() / 1000),
  genesisPolicy: GenesisPolicy = BUILD_GENESIS_POLICY,
): EnclaveState {
  let transport: HttpTransport | undefined;
  const state: EnclaveState = {
    phase: 'awaiting_keyring',
    config,
    platform,
    // Cluster wrapping once a root is held, platform sealing before (cluster/cluster-sealer.ts).
    sealer: enclaveSealer(platform, () => state.cluster?.root ?? null),
    bootTime: now(),
    now,
    monotonicNow: monotonicSeconds(now),
    replay: new ReplayCache(config.REPLAY_CACHE_MAX_ENTRIES),
    keysMadeHere: new Set(),
    revokedSessions: new Map(),
    policy: null,
    keyrings: createKeyringSlots(),
    auth: createAuthState(config),
    jobs: new JobTable(config.AGGREGATES_MAX_JOBS, KEEP_FINISHED_JOB_SECONDS, now),
    egress: () => (transport ??= createEgressTransport(config)),
    log: null,
    wallets: createWalletMemory(),
    cluster: null,
    quorum: null,
    genesisPolicy,
    passwordRoots: new Map(),
  };
  return state;
}

/**
 * The password-sealing root: carried under the cluster root in a cluster, else the platform's.
 * `cluster.genesis` carries exactly this single-machine value. Under `fresh-only` it is a one-way
 * derivation of the platform sealing key, never the key itself: that key also seals keyrings
 * (keyring/seal.ts), and a host that runs a genesis of its own on a fresh enclave of the same
 * machine learns whatever is carried (cluster/genesis-policy.ts).
 */
export function passwordKeySource(state: EnclaveState): PasswordKeySource {
  return {
    // A copy each time: the caller wipes what it is given (auth/tokens.ts).
    sealingKey: (policy) => {
      const roots = state.passwordRoots;
      if (state.cluster) {
        dropPasswordRoots(state);
        return new Uint8Array(state.cluster.passwordKey);
      }
      let root = roots.get(policy);
      if (!root) {
        root = singleMachinePasswordRoot(state, policy);
        roots.set(policy, root);
      }
      return new Uint8Array(root);
    },
  };
}

/**
 * Wipes the held single-machine roots: called where a cluster root comes to carry the password
 * root (cluster genesis and unlock), so they do not stay in memory until the next login.
 */
export function dropPasswordRoots(state: EnclaveState): void {
  for (const root of state.passwordRoots.values()) root.fill(0);
  state.passwordRoots.clear();
}

function singleMachinePasswordRoot(state: EnclaveState, policy: SealPolicy): Uint8Array {
  const key = state.platform.sealingKey(policy);
  if (state.genesisPolicy === 'convert') return key;
  try {
    return new Uint8Array(hkdfSync('sha256', key, FRESH_ONLY_PASSWORD_ROOT_INFO, '', 32));
  } finally {
    key.fill(0);
  }
}

const FRESH_ONLY_PASSWORD_ROOT_INFO = 'cloister/auth/password-root/fresh-only/v1';

/**
 * A cluster member runs the cluster's keyrings, loaded from their wrapped blobs: it makes no
 * first keyring of its own, which would attest the cluster id over keys no other member holds
 * (and, for the credential keyring, a log key of its own). CLUSTER_EXISTS while a root is held.
 */
export function refuseFirstKeyringInCluster(state: EnclaveState): void {
  if (state.cluster) throw new RpcError('CLUSTER_EXISTS');
}

/** The credential keyring of a `ready` enclave (the dispatcher has already checked the phase). */
export function readyKeyring(state: EnclaveState): Keyring {
  const keyring = state.keyrings.credential.active;
  if (state.phase !== 'ready' || !keyring) throw new Error('enclave is not ready');
  return keyring;
}

/** How long a retired credential key must be kept: any envelope naming it may still be stored. */
export function keyRetentionSeconds(config: EnclaveConfig): number {
  return (
    config.ENCLAVE_MAX_TTL_SECONDS +
    config.ENVELOPE_MAX_AGE_SECONDS +
    config.ENVELOPE_MAX_FUTURE_SECONDS
  );
}
