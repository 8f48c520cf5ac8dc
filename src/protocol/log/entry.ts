/**
 * One entry of the transparency log (docs/protocol/transparency-log.md): what happened, to
 * which subject, when, and digests of what was involved. Never a secret: an entry is public
 * the moment it is appended. The leaf is SHA-256(0x00 ‖ JCS(entry)), so anyone holding the
 * entry JSON can recompute it.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { z } from 'zod';
import { bytesToHex, hexBytes, utf8 } from '../encoding.js';
import { jcsBytes } from '../jcs.js';
import { leafHash } from './merkle.js';

export const LOG_ENTRY_TYPES = [
  'credential.submitted',
  'session.revoked',
  'credential.expired',
  'keyring.rotated',
  'aggregates.signed',
  'auth.refresh_reused',
  'auth.key_rotated',
  'auth.role_granted',
  'auth.role_revoked',
  'auth.method_linked',
  'auth.password_reset',
  'auth.password_changed',
  'auth.recovery_started',
  'auth.recovery_cancelled',
  'auth.recovery_completed',
  'auth.method_unlinked',
  'auth.recovery_code_used',
  'session.operator_revoked',
  'wallet.created',
  'wallet.signed',
  'wallet.policy_set',
  'wallet.recovery_started',
  'wallet.recovery_cancelled',
  'wallet.recovered',
  'wallet.reshared',
  'wallet.deleted',
  'cluster.genesis',
  'cluster.share_accepted',
  'cluster.restored',
  'cluster.member_joined',
  'cluster.join_refused',
  'cluster.manifest_changed',
] as const;
export type LogEntryType = (typeof LOG_ENTRY_TYPES)[number];

export const LogEntrySchema = z
  .object({
    v: z.literal(1),
    type: z.enum(LOG_ENTRY_TYPES),
    /** `sessionLogSubject(session id)` for session events, the key id for key events. */
    subject: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
    /** Seconds since the Unix epoch. */
    time: z.number().int().nonnegative(),
    /** Lower-case hex SHA-256 digests of what the operation involved (e.g. the envelope). */
    digests: z
      .object({ envelope: hexBytes(32).optional(), payload: hexBytes(32).optional() })
      .strict()
      .optional(),
    /**
     * wallet.* entries: the share generation after the operation, and for wallet.signed the
     * account address and the policy verdict (with the refusing rule). Never a key or a share.
     */
    wallet: z
      .object({
        generation: z.number().int().positive(),
        address: z
          .string()
          .regex(/^[0-9A-Za-z]{32,44}$|^0x[0-9a-fA-F]{40}$/)
          .optional(),
        verdict: z.enum(['allowed', 'denied']).optional(),
        rule: z
          .string()
          .regex(/^[a-z_]{1,32}$/)
          .optional(),
      })
      .strict()
      .optional(),
  })
  .strict();
export type LogEntry = z.infer<typeof LogEntrySchema>;

/**
 * How a session appears in the public log: a domain-separated SHA-256 of its id, in hex. A
 * session id is a bearer capability (it revokes the session), so the log must not publish it;
 * whoever holds the id recomputes this to find and check the session's entries.
 */
/**
 * How a wallet appears in the public log: a domain-separated SHA-256 of its id (the owner, who
 * knows the id, finds the wallet's entries; others learn nothing about which wallet it is).
 */
export function walletLogSubject(walletId: string): string {
  return bytesToHex(sha256(utf8.encode(`cloister/log/wallet/v1\n${walletId.toLowerCase()}`)));
}

export function sessionLogSubject(sessionId: string): string {
  return bytesToHex(sha256(utf8.encode(`cloister/log/session/v1\n${sessionId.toLowerCase()}`)));
}

/** The bytes a leaf hashes: the entry's RFC 8785 canonical JSON. */
export function logEntryBytes(entry: LogEntry): Uint8Array {
  return jcsBytes(entry);
}

export function logEntryLeafHash(entry: LogEntry): Uint8Array {
  return leafHash(logEntryBytes(entry));
}
