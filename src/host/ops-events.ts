/**
 * Operational events: a closed, typed union. The writer accepts only these shapes, so an event
 * cannot carry a field nobody declared (and so no secret by accident). docs/ops-events.md lists
 * the same types; a test keeps them in sync.
 */
import type { Logger } from 'pino';
import type { LogEntry, LogEntryType } from '../protocol/log/entry.js';
import { insertRows } from './db/bulk.js';
import type { Queryable } from './db/database.js';

export type OpsEvent =
  | {
      type: 'credential.submitted';
      sessionId: string;
      exchange: string;
      label: string;
      alg: string;
      keyId: string;
      envelopeDigest: string;
    }
  | { type: 'session.revoked'; sessionId: string }
  | { type: 'credential.expired'; sessionId: string }
  | { type: 'enclave.started'; platform: string; measurement: string; generation: number }
  | {
      type: 'enclave.restarted';
      platform: string;
      measurement: string;
      generation: number;
      restarts: number;
    }
  | { type: 'enclave.unresponsive'; reason: 'heartbeat' | 'call_timeouts'; misses: number }
  | { type: 'keyring.generated'; generation: number; keyId: string }
  | { type: 'keyring.rotated'; generation: number; keyId: string }
  | {
      type: 'aggregates.requested';
      sessionId: string;
      jobId: string;
      from: number | null;
      to: number;
      symbols: number | null;
    }
  | {
      type: 'aggregates.signed';
      sessionId: string;
      jobId: string;
      payloadDigest: string;
      requests: number;
      fills: number;
    }
  | { type: 'aggregates.failed'; sessionId: string; jobId: string; code: string }
  | { type: 'aggregates.cancelled'; sessionId: string; jobId: string }
  | { type: 'session.invalidated'; sessionId: string; code: string }
  | { type: 'session.operator_revoked'; sessionId: string; operatorId: string }
  | { type: 'auth.registered'; userId: string }
  | { type: 'auth.login_succeeded'; userId: string; method?: LoginMethod }
  | { type: 'auth.login_failed'; userId: string | null; reason: string; method?: LoginMethod }
  | {
      type: 'auth.method_linked';
      userId: string;
      kind: 'siwe' | 'email' | 'totp' | 'passkey' | 'password';
    }
  | { type: 'auth.password_reset'; userId: string; revoked: number }
  | { type: 'auth.password_changed'; userId: string; revoked: number }
  | { type: 'auth.email_confirmed'; userId: string }
  | { type: 'auth.recovery_started'; userId: string; unlockAt: number }
  | { type: 'auth.recovery_cancelled'; userId: string }
  | { type: 'auth.recovery_completed'; userId: string; revoked: number }
  | { type: 'auth.method_unlinked'; userId: string; kind: string }
  | { type: 'auth.step_up'; userId: string; factor: SecondFactorKind }
  | { type: 'auth.recovery_code_used'; userId: string; left: number }
  | { type: 'auth.logout'; userId: string }
  | { type: 'auth.logout_all'; userId: string; revoked: number }
  | { type: 'auth.refresh_reused'; userId: string; revoked: number }
  | { type: 'auth.key_rotated'; generation: number; keyId: string; operatorId: string | null }
  | { type: 'auth.role_granted'; userId: string; role: string; by: string }
  | { type: 'auth.role_revoked'; userId: string; role: string; by: string }
  | {
      type: 'auth.request_denied';
      status: number;
      code: string;
      method: string;
      route: string;
      client: string;
    }
  // Retention (jobs/ttl-sweeper.ts): one per purge run, with what it deleted.
  | {
      type: 'retention.purged';
      authSessions: number;
      refreshTokens: number;
      opsLogs: number;
      jobs: number;
      pendingAccounts: number;
    }
  | {
      type: 'cluster.genesis';
      clusterId: string;
      manifestDigest: string;
      threshold: number;
      operators: number;
    }
  | { type: 'cluster.share_accepted'; clusterId: string; index: number; operator: string }
  | { type: 'cluster.member_joined'; clusterId: string; measurement: string }
  | { type: 'cluster.manifest_changed'; clusterId: string; epoch: number; manifestDigest: string }
  | { type: 'cluster.join_refused'; clusterId: string; measurement: string; code: string };

export type OpsEventType = OpsEvent['type'];

/** How a login was proven (absent on password logins, the original method). */
export type LoginMethod =
  'password' | 'siwe' | 'email_otp' | 'password_reset' | 'account_recovery' | 'passkey';
/** Which second factor a login or step-up used. */
export type SecondFactorKind = 'totp' | 'recovery_code' | 'email_code' | 'passkey';

export const OPS_EVENT_TYPES = [
  'credential.submitted',
  'session.revoked',
  'credential.expired',
  'enclave.started',
  'enclave.restarted',
  'enclave.unresponsive',
  'keyring.generated',
  'keyring.rotated',
  'aggregates.requested',
  'aggregates.signed',
  'aggregates.failed',
  'aggregates.cancelled',
  'session.invalidated',
  'session.operator_revoked',
  'auth.registered',
  'auth.login_succeeded',
  'auth.login_failed',
  'auth.method_linked',
  'auth.password_reset',
  'auth.password_changed',
  'auth.email_confirmed',
  'auth.recovery_started',
  'auth.recovery_cancelled',
  'auth.recovery_completed',
  'auth.method_unlinked',
  'auth.step_up',
  'auth.recovery_code_used',
  'auth.logout',
  'auth.logout_all',
  'auth.refresh_reused',
  'auth.key_rotated',
  'auth.role_granted',
  'auth.role_revoked',
  'auth.request_denied',
  'retention.purged',
  'cluster.genesis',
  'cluster.share_accepted',
  'cluster.member_joined',
  'cluster.manifest_changed',
  'cluster.join_refused',
] as const satisfies readonly OpsEventType[];

/**
 * Events any unauthenticated client can cause at will: written to the host's log only, never
 * to `ops_logs`, so a flood of refusals does not become a flood of database writes.
 */
export type LogOnlyEvent = Extract<OpsEvent, { type: 'auth.login_failed' | 'auth.request_denied' }>;

// Compile-time check that the list above names every member of the union.
type Unlisted = Exclude<OpsEventType, (typeof OPS_EVENT_TYPES)[number]>;
export const OPS_EVENT_TYPES_COMPLETE: [Unlisted] extends [never] ? true : never = true;

/**
 * An event as its `ops_logs` row (event_type, session_id, details as JSON), for a statement
 * that writes it together with the change it records (one statement is atomic on its own, so
 * it needs no transaction): `written()` logs the event once that statement has succeeded.
 */
export interface OpsEventRow {
  readonly row: [type: string, sessionId: string | null, details: string];
  written(): void;
}

export interface OpsLog {
  /** Writes the event in `q` (pass a transaction to make it part of the change it records). */
  record(q: Queryable, event: OpsEvent): Promise<void>;
  /** The event's row, to be written by the caller's own statement (see OpsEventRow). */
  row(event: OpsEvent): OpsEventRow;
  /** Writes a log-only event to the host's log. */
  emit(event: LogOnlyEvent): void;
}

/**
 * A logged operation's ops event and its transparency-log entry, made together so the two
 * always share a name (docs/ops-events.md promises it): records the event in `q` (the
 * operation's transaction) and returns the entry to append.
 */
export async function recordLogged(
  ops: OpsLog,
  q: Queryable,
  event: Extract<OpsEvent, { type: LogEntryType }>,
  subject: string,
  digests?: LogEntry['digests'],
): Promise<LogEntry> {
  await ops.record(q, event);
  return {
    v: 1,
    type: event.type,
    subject,
    time: Math.floor(Date.now() / 1000),
    ...(digests ? { digests } : {}),
  };
}

export function createOpsLog(logger: Pick<Logger, 'info'>): OpsLog {
  return {
    emit(event) {
      const { type, ...fields } = event;
      logger.info({ event: type, ...fields }, type);
    },
    async record(q, event) {
      const r = rowOf(event);
      // Inside a log batch: one multi-row INSERT for the batch's events (db/bulk.ts).
      await insertRows(q, 'ops_logs', [r.row]);
      r.written();
    },
    row: (event) => rowOf(event),
  };

  function rowOf(event: OpsEvent): OpsEventRow {
    const { type, ...fields } = event;
    const sessionId = 'sessionId' in event ? event.sessionId : null;
    return {
      row: [type, sessionId, JSON.stringify(fields)],
      written: () => logger.info({ event: type, ...fields }, type),
    };
  }
}
