/**
 * The credential use cases: submit, revoke, status. The enclave validates and binds an envelope;
 * the host then stores session, ciphertext and ops event in one transaction, and only after that
 * commit does the client get its session id ("accepted" means durably stored).
 */
import type { CredentialEnvelope } from '../../protocol/envelope/registry.js';
import type { SessionMetadata } from '../../protocol/credentials.js';
import type { Db } from '../db/database.js';
import { storedEnvelope, type SessionRepository } from '../db/repositories/sessions.js';
import { HostError } from '../errors.js';
import type { EnclaveSupervisor } from '../enclave/supervisor.js';
import type { OpsLog } from '../ops-events.js';

export interface CredentialServiceDeps {
  enclave: Pick<EnclaveSupervisor, 'call'>;
  db: Pick<Db, 'transaction'>;
  sessions: SessionRepository;
  ops: OpsLog;
  sweepNow: () => Promise<unknown>;
}

export function createCredentialService(deps: CredentialServiceDeps) {
  const { enclave, db, sessions, ops } = deps;
  return {
    async submit(envelope: CredentialEnvelope, metadata: SessionMetadata) {
      const submitted = await enclave.call('credential.submit', { envelope, metadata });
      await db.transaction(async (tx) => {
        await sessions.insertWithCredential(tx, submitted, metadata, envelope);
        await ops.record(tx, {
          type: 'credential.submitted',
          sessionId: submitted.session_id,
          exchange: metadata.exchange,
          label: metadata.label,
          alg: submitted.alg,
          keyId: submitted.key_id,
          envelopeDigest: submitted.envelope_digest,
        });
      });
      return {
        session_id: submitted.session_id,
        key_id: submitted.key_id,
        expires_at: new Date(submitted.expires_at * 1000).toISOString(),
      };
    },

    async revoke(sessionId: string) {
      const revoked = await db.transaction(async (tx) => {
        if (!(await sessions.revoke(tx, sessionId))) return false;
        await ops.record(tx, { type: 'session.revoked', sessionId });
        return true;
      });
      if (!revoked) throw new HostError('SESSION_NOT_FOUND');
      // Revocation is also a moment to purge anything else that has expired.
      await deps.sweepNow();
      return { success: true as const, message: 'Session revoked and data purged' };
    },

    /** Session metadata, and for an active one the enclave's check that it is still usable. */
    async status(sessionId: string) {
      const s = await sessions.find(sessionId);
      if (!s) throw new HostError('SESSION_NOT_FOUND');
      const envelope = storedEnvelope(s);
      // Past its expiry a session is expired now, whether or not the sweeper has run yet.
      const status =
        s.status === 'active' && s.expires_at * 1000 <= Date.now() ? 'expired' : s.status;
      let credential: 'ok' | 'absent' = 'absent';
      if (status === 'active' && envelope && s.key_id && s.binding) {
        await enclave.call('credential.verify_stored', {
          session_id: s.session_id,
          envelope,
          key_id: s.key_id,
          exchange: s.exchange as SessionMetadata['exchange'],
          label: s.label,
          expires_at: s.expires_at,
          binding: s.binding,
        });
        credential = 'ok';
      }
      return {
        session_id: s.session_id,
        exchange: s.exchange,
        label: s.label,
        status,
        created_at: new Date(s.created_at * 1000).toISOString(),
        expires_at: new Date(s.expires_at * 1000).toISOString(),
        credential,
      };
    },
  };
}
export type CredentialService = ReturnType<typeof createCredentialService>;
