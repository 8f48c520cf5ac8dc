/**
 * The credential use cases: submit, revoke, status. The enclave validates and binds an envelope;
 * the host then stores session, ciphertext, ops event and transparency-log entry in one
 * transaction (log-service.ts), and only after that commit does the client get its session id
 * ("accepted" means durably stored and logged).
 */
import { aggregatesSubject } from '../../protocol/aggregates.js';
import type { CredentialEnvelope } from '../../protocol/envelope/registry.js';
import type { SessionMetadata } from '../../protocol/credentials.js';
import { sessionLogSubject, type LogEntry } from '../../protocol/log/entry.js';
import { storedCredential, type SessionRepository } from '../db/repositories/sessions.js';
import type { Queryable } from '../db/database.js';
import { HostError } from '../errors.js';
import type { EnclaveSupervisor } from '../enclave-client/supervisor.js';
import { isEnclaveCallError } from '../enclave-client/rpc-client.js';
import type { Logged, LogService } from '../log/log-service.js';
import { recordLogged, type OpsLog } from '../ops-events.js';

/** Revocation stops the session's aggregates jobs (aggregates-service.ts `revocation`). */
export interface SessionJobs {
  activeJobIds(sessionId: string): Promise<string[]>;
  stop(jobIds: readonly string[]): Promise<void>;
  cancel(tx: Queryable, sessionId: string): Promise<string[]>;
  wake(jobIds: readonly string[]): void;
}

export interface CredentialServiceDeps {
  enclave: Pick<EnclaveSupervisor, 'call'>;
  jobs?: SessionJobs;
  sessions: SessionRepository;
  ops: OpsLog;
  log: Pick<LogService, 'commit' | 'isReady'>;
  sweepNow: () => Promise<unknown>;
  /**
   * Several instances: loads a newer stored credential keyring (another member rotated); true
   * if the enclave moved. An envelope to a key this enclave does not know is retried once after.
   */
  reloadKeyring?: () => Promise<boolean>;
}

export function createCredentialService(deps: CredentialServiceDeps) {
  const { enclave, sessions, ops, log } = deps;
  return {
    async submit(
      envelope: CredentialEnvelope,
      metadata: SessionMetadata,
      userId: string | null = null,
    ) {
      // Checked first so that a submission the log cannot record never spends its envelope.
      if (!log.isReady()) throw new HostError('LOG_UNAVAILABLE');
      // The owner's aggregates subject: an envelope sealed for another account is refused.
      const subject = userId === null ? {} : { subject: aggregatesSubject({ userId }) };
      const call = () => enclave.call('credential.submit', { envelope, metadata, ...subject });
      // The key is looked up before the envelope is spent, so the retry opens it only once.
      const submitted = await call().catch(async (err: unknown) => {
        if (!isEnclaveCallError(err, 'ENVELOPE_UNKNOWN_KEY') || !(await deps.reloadKeyring?.()))
          throw err;
        return call();
      });
      // Stored and logged together, or neither: no 200 leaves without the log entry.
      const logged = await log.commit({
        async work(tx) {
          // Refused with ENVELOPE_REPLAYED if accepted through another instance already (its
          // enclave spent the envelope, not this one): the spent_envelopes row is a claim.
          await sessions.insertWithCredential(tx, submitted, metadata, envelope, userId);
          await ops.record(tx, {
            type: 'credential.submitted',
            sessionId: submitted.session_id,
            exchange: metadata.exchange,
            label: metadata.label,
            alg: submitted.alg,
            keyId: submitted.key_id,
            envelopeDigest: submitted.envelope_digest,
          });
          const entry: LogEntry = {
            v: 1,
            type: 'credential.submitted',
            subject: sessionLogSubject(submitted.session_id),
            time: submitted.created_at,
            digests: { envelope: submitted.envelope_digest },
          };
          return { result: undefined, entries: [entry] };
        },
      });
      return {
        session_id: submitted.session_id,
        key_id: submitted.key_id,
        expires_at: new Date(submitted.expires_at * 1000).toISOString(),
        ...logReceipt(logged, submitted.session_id),
      };
    },

    /** `operatorId`: an operator revoked another's session; logged as such, same transaction. */
    async revoke(sessionId: string, operatorId?: string) {
      // The session's aggregates jobs stop inside the enclave first (their opened keys wiped),
      // then are marked cancelled in the revocation's transaction: none is signed and logged
      // after `session.revoked`.
      const running = (await deps.jobs?.activeJobIds(sessionId)) ?? [];
      await deps.jobs?.stop(running);
      let cancelled: string[] = [];
      const logged = await log.commit({
        async work(tx) {
          if (!(await sessions.revoke(tx, sessionId))) throw new HostError('SESSION_NOT_FOUND');
          cancelled = (await deps.jobs?.cancel(tx, sessionId)) ?? [];
          const entry = await recordLogged(
            ops,
            tx,
            { type: 'session.revoked', sessionId },
            sessionLogSubject(sessionId),
          );
          if (operatorId === undefined) return { result: undefined, entries: [entry] };
          const byOperator = await recordLogged(
            ops,
            tx,
            { type: 'session.operator_revoked', sessionId, operatorId },
            sessionLogSubject(sessionId),
          );
          return { result: undefined, entries: [entry, byOperator] };
        },
      });
      await deps.jobs?.stop(cancelled.filter((id) => !running.includes(id)));
      deps.jobs?.wake(cancelled);
      // Revocation is also a moment to purge anything else that has expired.
      await deps.sweepNow();
      return {
        success: true as const,
        message: 'Session revoked and data purged',
        ...logReceipt(logged, sessionId),
      };
    },

    /** Session metadata, and for an active one the enclave's check that it is still usable. */
    async status(sessionId: string) {
      const s = await sessions.find(sessionId);
      if (!s) throw new HostError('SESSION_NOT_FOUND');
      const credential = storedCredential(s);
      // Past its expiry a session is expired now, whether or not the sweeper has run yet.
      const status =
        s.status === 'active' && s.expires_at * 1000 <= Date.now() ? 'expired' : s.status;
      let checked: 'ok' | 'absent' = 'absent';
      if (status === 'active' && credential) {
        await enclave.call('credential.verify_stored', credential);
        checked = 'ok';
      }
      return {
        session_id: s.session_id,
        exchange: s.exchange,
        label: s.label,
        status,
        created_at: new Date(s.created_at * 1000).toISOString(),
        expires_at: new Date(s.expires_at * 1000).toISOString(),
        credential: checked,
      };
    },
  };
}
export type CredentialService = ReturnType<typeof createCredentialService>;

/** The receipt a caller gets: its entry's index and the checkpoint that already includes it. */
function logReceipt(logged: Logged<unknown>, sessionId: string) {
  return {
    log: {
      index: logged.indexes[0]!,
      tree_size: logged.checkpoint.size,
      root_hash: logged.checkpoint.rootHash,
    },
    merkle_root: logged.checkpoint.rootHash,
    logs_url: `/api/logs/${sessionId}`,
  };
}
