/**
 * Attestation: the enclave produces evidence binding its keys and the caller's nonce. A caller
 * without a nonce gets a fresh random one (the response is then fresh but not bound to anything
 * the caller chose: pass a nonce to get that).
 */
import { randomBytes } from 'node:crypto';
import type { EnclaveSupervisor } from '../enclave-client/supervisor.js';

export function createAttestationService(deps: { enclave: Pick<EnclaveSupervisor, 'call'> }) {
  return {
    quote(nonce?: string) {
      return deps.enclave.call('attestation.get', {
        nonce: nonce ?? randomBytes(32).toString('base64url'),
      });
    },
  };
}
export type AttestationService = ReturnType<typeof createAttestationService>;
