/**
 * What every login by a linked method (SIWE address, email one-time code) shares on the host:
 * the account lookup handed to the enclave (with the enclave's binding), storing the session,
 * and for a first login the new account, its link, the `auth.method_linked` ops event and
 * transparency-log entry in one transaction; plus the audit events of each attempt.
 */
import { userLogSubject, type Role } from '../../protocol/auth.js';
import type { MethodKind } from '../db/repositories/auth.js';
import { HostError, type HttpErrorCode } from '../errors.js';
import { recordLogged } from '../ops-events.js';
import type { AuthServiceDeps } from './auth-service.js';
import { pair, reasonOf, type TokenPair } from './token-pair.js';
import { createTotpService } from './totp-service.js';

export interface MethodIssued {
  user_id: string;
  session_id: string;
  access_token: string;
  access_expires_at: number;
  refresh_token: string;
  refresh_expires_at: number;
  refresh_hash: string;
  binding: string | null;
  /** The recovery code used as second factor, to spend with the session. */
  recovery_mac: string | null;
  /** The TOTP code's step, to spend with the session. */
  totp_step: number | null;
}

export type MethodLoginResult = TokenPair & { user_id: string; created: boolean };

export function createMethodLogin(deps: AuthServiceDeps) {
  const { repo, log, ops } = deps;
  const totp = createTotpService(deps);
  return {
    /** The linked account as the enclave wants it (null: none yet), for the audit too. */
    async linkedUser(kind: MethodKind, identifier: string, audit: { userId: string | null }) {
      const found = await repo.findUserByMethod(kind, identifier);
      // An unconfirmed registration is no account: it gives way to whoever proves the address
      // (as at registration and email linking), so registering someone's address cannot lock
      // its owner out of code sign-in, nor tell a stranger it was registered.
      const row = found?.status === 'pending' ? null : found;
      audit.userId = row?.user_id ?? null;
      if (row && row.status !== 'active') throw new HostError('AUTH_INVALID_CREDENTIALS');
      if (!row) return null;
      // A confirmed TOTP makes every login of the account two-factor: the enclave then wants
      // its code (or a recovery code) whatever the first factor was.
      const totp = await repo.confirmedTotp(row.user_id);
      return {
        user_id: row.user_id,
        binding: row.binding,
        roles: row.roles as Role[],
        ...(totp
          ? { totp_sealed: totp, recovery_macs: await repo.recoveryCodeMacs(row.user_id) }
          : {}),
      };
    },

    /** Stores the session (and, on a first login, the account and its link). */
    async finish(
      kind: MethodKind,
      identifier: string,
      r: MethodIssued,
      conflict: HttpErrorCode,
    ): Promise<MethodLoginResult> {
      const session = { hash: r.refresh_hash, expiresAt: r.refresh_expires_at };
      const binding = r.binding;
      // The login's audit event commits with its session, never after it: a failure in between
      // would leave a session that no event records (as for a password login).
      const event = {
        type: 'auth.login_succeeded',
        userId: r.user_id,
        method: kind === 'email' ? 'email_otp' : kind,
      } as const;
      if (binding === null) {
        await totp.storeSecondFactorSession(r, false, undefined, event);
      } else {
        await log.commit({
          async work(tx) {
            if (!(await repo.insertMethodUser(tx, r.user_id, kind, identifier, binding)))
              throw new HostError(conflict);
            await repo.insertSession(tx, r.session_id, r.user_id, session);
            const entry = await recordLogged(
              ops,
              tx,
              { type: 'auth.method_linked', userId: r.user_id, kind },
              userLogSubject(r.user_id),
            );
            await ops.record(tx, event);
            return { result: undefined, entries: [entry] };
          },
        });
      }
      return { user_id: r.user_id, created: binding !== null, ...pair(r) };
    },

    /**
     * Runs one attempt and leaves its audit event: success (`finish` records it with the
     * session), or failure with its reason.
     */
    async audited(
      method: MethodKind,
      run: (audit: { userId: string | null }) => Promise<MethodLoginResult>,
    ): Promise<MethodLoginResult> {
      const audit = { userId: null as string | null };
      const m = method === 'email' ? 'email_otp' : method;
      try {
        return await run(audit);
      } catch (err) {
        ops.emit({
          type: 'auth.login_failed',
          userId: audit.userId,
          reason: reasonOf(err),
          method: m,
        });
        throw err;
      }
    },
  };
}
