/**
 * The enclave's state and its phase machine: `awaiting_keyring` → `ready` (after generate or
 * unseal) and `failed` if an invariant breaks. Each RPC method lists the phases it may run in
 * (protocol/rpc/methods.ts); the dispatcher checks the phase before calling it.
 */
import type { Phase, SealPolicy } from '../protocol/rpc/methods.js';
import type { EnclaveConfig } from './config.js';
import type { Keyring } from './keyring/keyring.js';
import type { EnclaveLog } from './log/enclave-log.js';
import type { Platform } from './platform/platform.js';
import { ReplayCache } from './replay-cache.js';

export interface EnclaveState {
  phase: Phase;
  readonly config: EnclaveConfig;
  readonly platform: Platform;
  readonly bootTime: number;
  readonly now: () => number;
  readonly replay: ReplayCache;
  keyring: Keyring | null;
  policy: SealPolicy | null;
  /**
   * A rotated keyring the host is storing, with the exact sealed blob handed out; activated by
   * `keyring.activate` only with that same blob, so a repeated prepare cannot switch the
   * enclave to keys the host never stored.
   */
  pending: { keyring: Keyring; sealed: string } | null;
  /** The transparency log, once `log.init` has run. */
  log: EnclaveLog | null;
}

export function createEnclaveState(
  config: EnclaveConfig,
  platform: Platform,
  now: () => number = () => Math.floor(Date.now() / 1000),
): EnclaveState {
  return {
    phase: 'awaiting_keyring',
    config,
    platform,
    bootTime: now(),
    now,
    replay: new ReplayCache(config.REPLAY_CACHE_MAX_ENTRIES),
    keyring: null,
    policy: null,
    pending: null,
    log: null,
  };
}

/** The keyring of a `ready` enclave (the dispatcher has already checked the phase). */
export function readyKeyring(state: EnclaveState): Keyring {
  if (state.phase !== 'ready' || !state.keyring) throw new Error('enclave is not ready');
  return state.keyring;
}

/** How long a retired credential key must be kept: any envelope naming it may still be stored. */
export function keyRetentionSeconds(config: EnclaveConfig): number {
  return (
    config.ENCLAVE_MAX_TTL_SECONDS +
    config.ENVELOPE_MAX_AGE_SECONDS +
    config.ENVELOPE_MAX_FUTURE_SECONDS
  );
}
