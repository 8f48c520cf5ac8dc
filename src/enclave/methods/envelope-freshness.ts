/**
 * The freshness rule every opened envelope obeys, whatever it carries (exchange credentials or a
 * password): `issued_at` within [now − ENVELOPE_MAX_AGE_SECONDS, now + ENVELOPE_MAX_FUTURE_SECONDS]
 * and not before this enclave booted (its replay cache cannot know older ones), and never newer
 * than its key's retirement: a retired key still opens envelopes made before it retired (they may
 * be in flight), never later ones, since its retention only covers sessions that start by then.
 */
import { EnvelopeError } from '../../protocol/envelope/errors.js';
import { RpcError } from '../../protocol/rpc/errors.js';
import { readyKeyring, type EnclaveState } from '../state.js';

export function checkEnvelopeFreshness(
  state: EnclaveState,
  issuedAt: number,
  keyId: string,
  now: number,
): void {
  const { config } = state;
  const age = now - issuedAt;
  if (
    age > config.ENVELOPE_MAX_AGE_SECONDS ||
    -age > config.ENVELOPE_MAX_FUTURE_SECONDS ||
    issuedAt < state.bootTime
  )
    throw new EnvelopeError('ENVELOPE_STALE');
  const retiredAt = readyKeyring(state).retiredAt(keyId);
  if (retiredAt != null && issuedAt > retiredAt + config.ENVELOPE_MAX_FUTURE_SECONDS)
    throw new RpcError('ENVELOPE_UNKNOWN_KEY');
}
