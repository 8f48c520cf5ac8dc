/**
 * Keyring lifecycle methods. Generation and rotation hand the host a sealed blob to store;
 * rotation is two-step (prepare, then activate once stored) so the enclave never uses a key the
 * host could fail to persist: a restart would otherwise lose it, and every envelope sealed to it.
 */
import { RpcError } from '../../protocol/rpc/errors.js';
import type { MethodParams, MethodResult } from '../../protocol/rpc/methods.js';
import { Keyring } from '../keyring/keyring.js';
import { seal, unseal } from '../keyring/seal.js';
import { keyRetentionSeconds, readyKeyring, type EnclaveState } from '../state.js';

function sealKeyring(state: EnclaveState, keyring: Keyring): string {
  const bytes = keyring.serialize();
  try {
    return seal(state.platform, state.policy!, bytes);
  } finally {
    bytes.fill(0);
  }
}

export function generate(
  state: EnclaveState,
  params: MethodParams<'keyring.generate'>,
): MethodResult<'keyring.generate'> {
  const keyring = Keyring.generate(state.now());
  state.policy = params.policy;
  const sealed = sealKeyring(state, keyring);
  state.keyring = keyring;
  state.phase = 'ready';
  return { sealed, public: keyring.publicKeys() };
}

export function unsealKeyring(
  state: EnclaveState,
  params: MethodParams<'keyring.unseal'>,
): MethodResult<'keyring.unseal'> {
  const { plaintext, policy } = unseal(state.platform, params.sealed);
  try {
    state.keyring = Keyring.deserialize(plaintext);
  } catch {
    throw new RpcError('SEAL_INVALID');
  } finally {
    plaintext.fill(0);
  }
  state.policy = policy;
  state.phase = 'ready';
  return { public: state.keyring.publicKeys() };
}

export function prepareRotation(state: EnclaveState): MethodResult<'keyring.prepare_rotation'> {
  const next = readyKeyring(state).rotated(state.now(), keyRetentionSeconds(state.config));
  const sealed = sealKeyring(state, next);
  state.pending = { keyring: next, sealed };
  return { sealed, generation: next.generation, key_id: next.publicKeys().current_key_id };
}

export function activate(
  state: EnclaveState,
  params: MethodParams<'keyring.activate'>,
): MethodResult<'keyring.activate'> {
  const pending = state.pending;
  if (
    !pending ||
    pending.keyring.generation !== params.generation ||
    pending.sealed !== params.sealed
  ) {
    throw new RpcError('GENERATION_MISMATCH');
  }
  state.keyring = pending.keyring;
  state.pending = null;
  return { public: state.keyring.publicKeys() };
}
