/**
 * `credential.verify_stored`: proves a stored credential is intact, bound to its session by this
 * enclave's keyring, unexpired and decryptable, without returning anything of its content. Used
 * after restarts and rotations, and the first step of every later use of a credential.
 */
import { base64ToBytes } from '../../protocol/encoding.js';
import { EnvelopeError } from '../../protocol/envelope/errors.js';
import { envelopeDigest } from '../../protocol/envelope/registry.js';
import { RpcError } from '../../protocol/rpc/errors.js';
import type { MethodParams, MethodResult } from '../../protocol/rpc/methods.js';
import { readyKeyring, type EnclaveState } from '../state.js';
import { ENVELOPE_PURPOSES, openStored } from './open-envelope.js';

/**
 * Checks a stored credential's binding and expiry without opening it; returns its envelope
 * digest. Every method that uses a stored credential calls this first.
 */
export function checkStoredCredential(
  state: EnclaveState,
  params: MethodParams<'credential.verify_stored'>,
): string {
  const keyring = readyKeyring(state);
  const digest = envelopeDigest(params.envelope, params.key_id);
  const fields = {
    session_id: params.session_id,
    key_id: params.key_id,
    envelope_digest: digest,
    exchange: params.exchange,
    label: params.label,
    expires_at: params.expires_at,
  };
  if (!keyring.verifyBinding(fields, base64ToBytes(params.binding)))
    throw new RpcError('BINDING_INVALID');
  if (state.now() >= params.expires_at) throw new RpcError('CREDENTIAL_EXPIRED');
  return digest;
}

export async function verifyStored(
  state: EnclaveState,
  params: MethodParams<'credential.verify_stored'>,
): Promise<MethodResult<'credential.verify_stored'>> {
  const digest = checkStoredCredential(state, params);
  await openStored(
    state,
    params.key_id,
    params.envelope,
    ENVELOPE_PURPOSES.credential,
    (credential) => {
      if (credential.exchange !== params.exchange)
        throw new EnvelopeError('ENVELOPE_EXCHANGE_MISMATCH');
    },
  );
  return { envelope_digest: digest };
}
