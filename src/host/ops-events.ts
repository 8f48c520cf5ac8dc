/**
 * Operational events: a closed, typed union. The writer accepts only these shapes, so an event
 * cannot carry a field nobody declared (and so no secret by accident). docs/ops-events.md lists
 * the same types; a test keeps them in sync.
 */
import type { Logger } from 'pino';
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
  | { type: 'auth.key_rotated'; generation: number; keyId: string }
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
  | { type: 'session.invalidated'; sessionId: string; code: string }
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

export const OPS_EVENT_TYPES = [
  'credential.submitted',
  'session.revoked',
  'credential.expired',
  'enclave.started',
  'enclave.restarted',
  'enclave.unresponsive',
  'keyring.generated',
  'keyring.rotated',
  'auth.key_rotated',
  'aggregates.requested',
  'aggregates.signed',
  'aggregates.failed',
  'session.invalidated',
  'cluster.genesis',
  'cluster.share_accepted',
  'cluster.member_joined',
  'cluster.manifest_changed',
  'cluster.join_refused',
] as const satisfies readonly OpsEventType[];

// Compile-time check that the list above names every member of the union.
type Unlisted = Exclude<OpsEventType, (typeof OPS_EVENT_TYPES)[number]>;
export const OPS_EVENT_TYPES_COMPLETE: [Unlisted] extends [never] ? true : never = true;

export interface OpsLog {
  /** Writes the event in `q` (pass a transaction to make it part of the change it records). */
  record(q: Queryable, event: OpsEvent): Promise<void>;
}

export function createOpsLog(logger: Pick<Logger, 'info'>): OpsLog {
  return {
    async record(q, event) {
      const { type, ...fields } = event;
      const sessionId = 'sessionId' in event ? event.sessionId : null;
      await q.query('INSERT INTO ops_logs (event_type, session_id, details) VALUES ($1, $2, $3)', [
        type,
        sessionId,
        JSON.stringify(fields),
      ]);
      logger.info({ event: type, ...fields }, type);
    },
  };
}
