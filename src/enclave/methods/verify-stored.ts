/**
 * `credential.verify_stored`: proves a stored credential is intact, bound to its session by this
 * enclave's keyring, unexpired, not revoked while this process ran, and decryptable, without
 * returning anything of its content. Used after restarts and rotations, and the first step of
 * every later use of a credential.
 *
 * Revocation: the binding stays valid until `expires_at`, and revoking is the host's deletion of
 * the row, so a host that puts the row back (an old backup, an undone DELETE) would have the
 * credential opened again. The enclave sees every revocation, though: its `session.revoked` entry
 * goes through `log.prepare` or `log.append` here before the host may answer the revoke. From
 * then on this process refuses that session's credential (`CREDENTIAL_REVOKED`), until its binding
 * has expired anyway. In memory only: a restart, or another cluster member, does not know it
 * (SECURITY.md "Credential path: attack review").
 */
import { base64ToBytes } from '../../protocol/encoding.js';
import { EnvelopeError } from '../../protocol/envelope/errors.js';
import { envelopeDigest } from '../../protocol/envelope/registry.js';
import { sessionLogSubject, type LogEntry } from '../../protocol/log/entry.js';
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
  // On the clock that never goes back: a clock set back revives neither an expired binding nor
  // (below) a revocation forgotten once its binding had expired.
  if (state.monotonicNow() >= params.expires_at) throw new RpcError('CREDENTIAL_EXPIRED');
  refuseRevoked(state, params.session_id);
  return digest;
}

/**
 * Throws `CREDENTIAL_REVOKED` once this process has noted the session's revocation. Checked
 * before a stored credential is opened, and by a running job between pages and before signing:
 * a job can reach the enclave after the host looked for the session's jobs to cancel and before
 * the revocation's `log.prepare`, and must not use the key or sign after it.
 */
export function refuseRevoked(state: EnclaveState, sessionId: string): void {
  if (state.revokedSessions.has(sessionLogSubject(sessionId)))
    throw new RpcError('CREDENTIAL_REVOKED');
}

/**
 * Remembers the sessions that `entries` (checked for the log, before they are signed) revoke.
 * Noted at `log.prepare` already: an append that then fails leaves the session refused here,
 * which is what its owner asked for (the revoke answered 503 and is retried). A session revoked
 * now was bound at the latest now, so its binding expires by now + ENCLAVE_MAX_TTL_SECONDS;
 * past that it is forgotten (the expiry check refuses it).
 */
export function noteRevocations(state: EnclaveState, entries: readonly LogEntry[]): void {
  const now = state.monotonicNow();
  const revoked = state.revokedSessions;
  for (const [subject, until] of revoked) {
    if (until > now) break; // insertion order: the rest were noted later
    revoked.delete(subject);
  }
  for (const e of entries) {
    if (e.type !== 'session.revoked') continue;
    revoked.delete(e.subject); // re-inserted last, so the map stays in `until` order
    revoked.set(e.subject, now + state.config.ENCLAVE_MAX_TTL_SECONDS);
  }
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
