/**
 * The freshness rule every opened envelope obeys, whatever it carries (exchange credentials or a
 * password): `issued_at` within [now − ENVELOPE_MAX_AGE_SECONDS, now + ENVELOPE_MAX_FUTURE_SECONDS]
 * (`ENVELOPE_STALE`), not before `envelopeNotBefore` (`ENVELOPE_BEFORE_START`), and never newer
 * than its key's retirement: a retired key still opens envelopes made before it retired (they may
 * be in flight), never later ones, since its retention only covers sessions that start by then.
 *
 * Why `envelopeNotBefore` (SECURITY.md, "Replay across restarts"): the replay cache lives in
 * memory, so this enclave cannot know what an earlier process on the same keyring opened. That
 * process died no later than this one's boot second, and accepted `issued_at` up to its own
 * clock + ENVELOPE_MAX_FUTURE_SECONDS, so anything it could have opened is dated at most
 * `bootTime + ENVELOPE_MAX_FUTURE_SECONDS`. The first acceptable `issued_at` is one second later.
 * main.ts starts serving only once the clock is past the boot second, so an envelope dated exactly
 * `envelopeNotBefore` is never too far ahead of `now` (clients re-seal with it: the SDK's retry).
 * Keys this process drew itself (`keysMadeHere`) are exempt: no earlier process held them.
 *
 * The age counts from the enclave's clock that never goes back (`state.monotonicNow`): the replay
 * cache forgets a key once its envelope is stale, so a clock the host sets back must not make the
 * envelope fresh again (replay-cache.ts).
 */
import { EnvelopeError } from '../../protocol/envelope/errors.js';
import { RpcError } from '../../protocol/rpc/errors.js';
import { readyKeyring, type EnclaveState } from '../state.js';

/** The earliest `issued_at` this enclave process accepts (published by `enclave.status`). */
export function envelopeNotBefore(state: Pick<EnclaveState, 'bootTime' | 'config'>): number {
  return state.bootTime + state.config.ENVELOPE_MAX_FUTURE_SECONDS + 1;
}

export function checkEnvelopeFreshness(
  state: EnclaveState,
  issuedAt: number,
  keyId: string,
  now: number,
): void {
  const { config } = state;
  const age = Math.max(now, state.monotonicNow()) - issuedAt;
  if (age > config.ENVELOPE_MAX_AGE_SECONDS || -age > config.ENVELOPE_MAX_FUTURE_SECONDS)
    throw new EnvelopeError('ENVELOPE_STALE');
  // A key this process drew itself had no earlier process to open anything with it (the first
  // start of a service, a rotation): its envelopes are new whatever their date.
  if (issuedAt < envelopeNotBefore(state) && !state.keysMadeHere.has(keyId))
    throw new EnvelopeError('ENVELOPE_BEFORE_START');
  const retiredAt = readyKeyring(state).retiredAt(keyId);
  if (retiredAt != null && issuedAt > retiredAt + config.ENVELOPE_MAX_FUTURE_SECONDS)
    throw new RpcError('ENVELOPE_UNKNOWN_KEY');
}
