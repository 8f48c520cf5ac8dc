/**
 * TOTP second factor and step-up on the host (docs/protocol/auth.md "TOTP", "Step-up"). The
 * enclave draws, seals and checks; the host keeps the sealed secret and the recovery codes'
 * MACs, and spends a recovery code (deletes its row) or a TOTP code's step (stores it, if newer)
 * before a session that used it is stored.
 * Enrolment and removal are ops events and transparency-log entries; so is every recovery code
 * spent; every step-up is an ops event.
 */
import { userLogSubject, type Role } from '../../protocol/auth.js';
import type { SecondFactor } from '../../protocol/rpc/auth-methods.js';
import type { Queryable } from '../db/database.js';
import { HostError } from '../errors.js';
import { recordLogged, type OpsEvent, type SecondFactorKind } from '../ops-events.js';
import type { AuthServiceDeps } from './auth-service.js';
import { pair, type TokenPair } from './token-pair.js';

export const factorKind = (s: SecondFactor): SecondFactorKind =>
  'recovery_code' in s ? 'recovery_code' : 'totp';

export function createTotpService(deps: AuthServiceDeps) {
  const { repo, log, ops, enclave } = deps;

  /**
   * Stores a session whose second factor the enclave checked: spends the recovery code first
   * (AUTH_MFA_INVALID when it is unknown or spent), in one transaction with the session and,
   * for a recovery code, its log entry.
   */
  async function storeSession(
    r: {
      user_id: string;
      session_id: string;
      refresh_hash: string;
      refresh_expires_at: number;
      recovery_mac: string | null;
      totp_step: number | null;
    },
    existingSession: boolean,
    /** More of the same change (a passkey's counter), in the same transaction, first. */
    alsoInTx?: (tx: Queryable) => Promise<void>,
    /** The login's audit event: it commits with the session (in its statement, when new). */
    event?: OpsEvent,
  ): Promise<void> {
    const row = event && !existingSession ? ops.row(event) : undefined;
    const save = async (tx: Queryable) => {
      await alsoInTx?.(tx);
      if (existingSession) {
        await repo.addRefresh(tx, r.session_id, r.user_id, r.refresh_hash, r.refresh_expires_at);
        if (event) await ops.record(tx, event);
      } else
        await repo.insertSession(
          tx,
          r.session_id,
          r.user_id,
          { hash: r.refresh_hash, expiresAt: r.refresh_expires_at },
          row?.row,
        );
    };
    const mac = r.recovery_mac;
    const step = r.totp_step;
    if (mac === null) {
      // The session, its refresh token and the login's event are one statement, atomic on its
      // own: no transaction (BEGIN and COMMIT are two more round trips per login) unless there
      // is more. A TOTP code's step is spent with it: the enclave that accepted it remembers
      // it, the database tells the other members (and this one after a restart).
      if (step !== null)
        await repo.db.transaction(async (tx) => {
          if (!(await repo.spendTotpStep(tx, r.user_id, step)))
            throw new HostError('AUTH_MFA_INVALID');
          await save(tx);
        });
      else if (alsoInTx) await repo.db.transaction(save);
      else await save(repo.db);
      row?.written();
      return;
    }
    await log.commit({
      async work(tx) {
        if (!(await repo.spendRecoveryCode(tx, r.user_id, mac)))
          throw new HostError('AUTH_MFA_INVALID');
        await save(tx);
        const left = await repo.recoveryCodesLeft(r.user_id, tx);
        const entry = await recordLogged(
          ops,
          tx,
          { type: 'auth.recovery_code_used', userId: r.user_id, left },
          userLogSubject(r.user_id),
        );
        return { result: undefined, entries: [entry] };
      },
    });
    row?.written();
  }

  /**
   * The second factors the account can step up with (empty: none enrolled): `totp` and
   * `recovery_code` with a confirmed TOTP, `passkey` with a passkey.
   */
  async function secondFactors(userId: string): Promise<string[]> {
    return [
      ...((await repo.confirmedTotp(userId)) !== null ? ['totp', 'recovery_code'] : []),
      ...((await repo.passkeyIds(userId)).length > 0 ? ['passkey'] : []),
    ];
  }

  return {
    storeSecondFactorSession: storeSession,

    /**
     * Whether the account has a second factor (confirmed TOTP, or a passkey): such an account
     * steps up only with `mfa`, so a mailbox alone (an email-code login) cannot pass a sensitive
     * route, e.g. to register a passkey of its own or unlink the owner's.
     */
    hasSecondFactor: async (userId: string) => (await secondFactors(userId)).length > 0,
    secondFactors,

    /** Whether a confirmed authenticator app (TOTP) is enrolled (`GET /auth/methods`). */
    totpEnrolled: async (userId: string) => (await repo.confirmedTotp(userId)) !== null,

    async enrollTotp(accessToken: string, userId: string, label: string) {
      if (await repo.confirmedTotp(userId)) throw new HostError('AUTH_TOTP_ENROLLED');
      const r = await enclave.call('auth.totp_enroll', { access_token: accessToken, label });
      if (r.user_id !== userId) throw new HostError('AUTH_TOKEN_INVALID');
      if (!(await repo.startTotp(userId, r.totp_sealed))) throw new HostError('AUTH_TOTP_ENROLLED');
      return { otpauth_uri: r.otpauth_uri };
    },

    async confirmTotp(accessToken: string, userId: string, code: string) {
      const sealed = await repo.pendingTotp(userId);
      if (!sealed) throw new HostError('AUTH_TOTP_NOT_PENDING');
      const r = await enclave.call('auth.totp_confirm', {
        access_token: accessToken,
        totp_sealed: sealed,
        code,
      });
      if (r.user_id !== userId) throw new HostError('AUTH_TOKEN_INVALID');
      await log.commit({
        async work(tx) {
          if (!(await repo.confirmTotp(tx, userId, sealed, r.recovery_macs, r.totp_step)))
            throw new HostError('AUTH_TOTP_NOT_PENDING');
          const entry = await recordLogged(
            ops,
            tx,
            { type: 'auth.method_linked', userId, kind: 'totp' },
            userLogSubject(userId),
          );
          return { result: undefined, entries: [entry] };
        },
      });
      return { recovery_codes: r.recovery_codes };
    },

    async removeTotp(userId: string): Promise<void> {
      await log.commit({
        async work(tx) {
          if (!(await repo.deleteTotp(tx, userId))) throw new HostError('AUTH_METHOD_NOT_FOUND');
          const entry = await recordLogged(
            ops,
            tx,
            { type: 'auth.method_unlinked', userId, kind: 'totp' },
            userLogSubject(userId),
          );
          return { result: undefined, entries: [entry] };
        },
      });
    },

    /** A fresh pair for the caller's session with the second factor in `amr`. */
    async stepUp(
      accessToken: string,
      userId: string,
      roles: Role[],
      second: SecondFactor,
    ): Promise<TokenPair> {
      const sealed = await repo.confirmedTotp(userId);
      if (!sealed) throw new HostError('AUTH_MFA_INVALID');
      const r = await enclave.call('auth.step_up', {
        access_token: accessToken,
        roles,
        totp_sealed: sealed,
        second,
        recovery_macs: await repo.recoveryCodeMacs(userId),
      });
      if (r.user_id !== userId) throw new HostError('AUTH_TOKEN_INVALID');
      await storeSession(r, true);
      await ops.record(repo.db, { type: 'auth.step_up', userId, factor: factorKind(second) });
      return pair(r);
    },
  };
}
