/**
 * `credential.submit`: the enclave half of POST /enclave/submit_key. Opens the envelope once to
 * validate it, refuses replays, stale or future `issued_at`, envelopes issued before this
 * enclave booted (its replay cache cannot know them) and an exchange that differs from the
 * metadata; then mints the session id and an HMAC binding of (session, envelope, metadata,
 * expiry) so the host cannot later re-attach the ciphertext to another session or extend it.
 */
import { randomUUID } from 'node:crypto';
import { bytesToBase64 } from '../../protocol/encoding.js';
import { EnvelopeError } from '../../protocol/envelope/errors.js';
import {
  envelopeAlg,
  envelopeDigest,
  resolveEnvelopeKind,
} from '../../protocol/envelope/registry.js';
import { RpcError } from '../../protocol/rpc/errors.js';
import type { MethodParams, MethodResult } from '../../protocol/rpc/methods.js';
import { readyKeyring, type EnclaveState } from '../state.js';
import { checkEnvelopeFreshness } from './envelope-freshness.js';
import { withOpenedCredential } from './open-credential.js';

export async function submitCredential(
  state: EnclaveState,
  params: MethodParams<'credential.submit'>,
): Promise<MethodResult<'credential.submit'>> {
  const { envelope, metadata } = params;
  const { config } = state;
  if (metadata.ttl > config.ENCLAVE_MAX_TTL_SECONDS) throw new RpcError('TTL_TOO_LONG');
  const kind = resolveEnvelopeKind(envelope);
  const recipient = readyKeyring(state).recipient(envelope.key_id);
  const senderKey = kind.senderKey(envelope);
  const now = state.now();

  // Reserve the sender key before any await so two concurrent copies cannot both pass.
  const horizon = now + config.ENVELOPE_MAX_AGE_SECONDS + config.ENVELOPE_MAX_FUTURE_SECONDS;
  if (!state.replay.add(senderKey, horizon, now)) throw new EnvelopeError('ENVELOPE_REPLAYED');
  try {
    await withOpenedCredential(recipient, envelope, (credential) => {
      checkEnvelopeFreshness(state, credential.issued_at, recipient.keyId, now);
      if (credential.exchange !== metadata.exchange)
        throw new EnvelopeError('ENVELOPE_EXCHANGE_MISMATCH');
    });
  } catch (err) {
    state.replay.delete(senderKey);
    throw err;
  }

  const fields = {
    session_id: randomUUID(),
    key_id: recipient.keyId,
    envelope_digest: envelopeDigest(envelope, recipient.keyId),
    exchange: metadata.exchange,
    label: metadata.label,
    expires_at: now + metadata.ttl,
  };
  return {
    session_id: fields.session_id,
    key_id: fields.key_id,
    envelope_digest: fields.envelope_digest,
    expires_at: fields.expires_at,
    alg: envelopeAlg(envelope),
    sender_key: senderKey,
    created_at: now,
    binding: bytesToBase64(readyKeyring(state).bind(fields)),
  };
}
