/** `enclave.status`: phase and identity, allowed in every phase (the supervisor polls it). */
import type { MethodResult } from '../../protocol/rpc/methods.js';
import type { EnclaveState } from '../state.js';
import { envelopeNotBefore } from './envelope-freshness.js';

export function status(state: EnclaveState): MethodResult<'enclave.status'> {
  return {
    phase: state.phase,
    platform: state.platform.name,
    measurement: state.platform.measurement,
    signer: state.platform.signer,
    boot_time: state.bootTime,
    envelope_not_before: envelopeNotBefore(state),
    generation: state.keyrings.credential.active?.generation ?? null,
  };
}
