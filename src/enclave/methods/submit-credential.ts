/**
 * `credential.submit`: the enclave half of POST /enclave/submit_key. Opens the envelope once to
 * validate it, refuses replays, stale or future `issued_at`, envelopes issued before this
 * enclave booted (its replay cache cannot know them) and an exchange that differs from the
 * metadata; then mints the session id and an HMAC binding of (session, envelope, metadata,
 * expiry) so the host cannot later re-attach the ciphertext to another session or extend it.
 * A `ttl` sealed in the plaintext caps the lifetime: the host cannot forward a longer
 * `metadata.ttl` than the client asked for; a sealed `label` must equal `metadata.label`, and a
 * sealed `subject` the submitting account's (`params.subject`, which the host takes from the
 * caller's token; none for an ownerless session).
 */
import { randomUUID } from 'node:crypto';
import { bytesToBase64 } from '../../protocol/encoding.js';
import { EnvelopeError } from '../../protocol/envelope/errors.js';
import { envelopeAlg, envelopeDigest } from '../../protocol/envelope/registry.js';
import { RpcError } from '../../protocol/rpc/errors.js';
import type { MethodParams, MethodResult } from '../../protocol/rpc/methods.js';
import { readyKeyring, type EnclaveState } from '../state.js';
import { ENVELOPE_PURPOSES, openOnce } from './open-envelope.js';

export async function submitCredential(
  state: EnclaveState,
  params: MethodParams<'credential.submit'>,
): Promise<MethodResult<'credential.submit'>> {
  const { envelope, metadata } = params;
  if (metadata.ttl > state.config.ENCLAVE_MAX_TTL_SECONDS) throw new RpcError('TTL_TOO_LONG');
  const {
    value: sealedTtl,
    keyId,
    senderKey,
    now,
  } = await openOnce(state, envelope, ENVELOPE_PURPOSES.credential, (credential) => {
    if (credential.exchange !== metadata.exchange)
      throw new EnvelopeError('ENVELOPE_EXCHANGE_MISMATCH');
    if (credential.label !== undefined && credential.label !== metadata.label)
      throw new EnvelopeError('ENVELOPE_LABEL_MISMATCH');
    // A sealed owner must be the submitting account: a copy of the envelope submitted first
    // under another account (or none) is refused here, not only at its first aggregates job.
    if (credential.subject !== undefined && credential.subject !== params.subject)
      throw new RpcError('CREDENTIAL_SUBJECT_MISMATCH');
    return credential.ttl;
  });
  const ttl = Math.min(metadata.ttl, sealedTtl ?? metadata.ttl);

  const fields = {
    session_id: randomUUID(),
    key_id: keyId,
    envelope_digest: envelopeDigest(envelope, keyId),
    exchange: metadata.exchange,
    label: metadata.label,
    expires_at: now + ttl,
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
