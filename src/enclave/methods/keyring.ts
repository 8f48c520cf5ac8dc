/**
 * Credential keyring methods (the `credential` keyring purpose). Generation and rotation hand the
 * host a sealed blob to store; rotation is two-step (prepare, then activate once stored), the
 * lifecycle every keyring purpose shares (keyring/keyring-slot.ts).
 */
import type { MethodParams, MethodResult } from '../../protocol/rpc/methods.js';
import { Keyring } from '../keyring/keyring.js';
import {
  keyRetentionSeconds,
  readyKeyring,
  refuseFirstKeyringInCluster,
  type EnclaveState,
} from '../state.js';

export function generate(
  state: EnclaveState,
  params: MethodParams<'keyring.generate'>,
): MethodResult<'keyring.generate'> {
  refuseFirstKeyringInCluster(state);
  const keyring = Keyring.generate(state.now());
  const sealed = state.keyrings.credential.adopt(state.sealer, params.policy, keyring);
  state.policy = params.policy;
  state.phase = 'ready';
  const keys = keyring.publicKeys();
  for (const k of keys.credential_keys) state.keysMadeHere.add(k.key_id);
  return { sealed, public: keys };
}

export function unsealKeyring(
  state: EnclaveState,
  params: MethodParams<'keyring.unseal'>,
): MethodResult<'keyring.unseal'> {
  state.policy = state.keyrings.credential.load(state.sealer, params.sealed);
  state.phase = 'ready';
  return { public: readyKeyring(state).publicKeys() };
}

export function prepareRotation(state: EnclaveState): MethodResult<'keyring.prepare_rotation'> {
  const next = readyKeyring(state).rotated(state.now(), keyRetentionSeconds(state.config));
  const sealed = state.keyrings.credential.prepare(state.sealer, state.policy!, next);
  const keyId = next.publicKeys().current_key_id;
  state.keysMadeHere.add(keyId);
  return { sealed, generation: next.generation, key_id: keyId };
}

export function activate(
  state: EnclaveState,
  params: MethodParams<'keyring.activate'>,
): MethodResult<'keyring.activate'> {
  const keyring = state.keyrings.credential.activate(params.generation, params.sealed);
  return { public: keyring.publicKeys() };
}

/** A newer generation another cluster member rotated to (keyring-slot.ts `reload`). */
export function reload(
  state: EnclaveState,
  params: MethodParams<'keyring.reload'>,
): MethodResult<'keyring.reload'> {
  state.keyrings.credential.reload(state.sealer, params.sealed);
  return { public: readyKeyring(state).publicKeys() };
}
