/**
 * Account recovery, the host's part (docs/protocol/auth.md "Account recovery"): a lost password
 * or device, recovered through the email channel. Without a second factor it is a password
 * reset. With TOTP or a passkey on the account, the new password waits in `auth_recoveries`
 * until the unlock time the enclave set and MACed (AUTH_RECOVERY_DELAY_SECONDS), so any
 * session of the account can see and cancel it meanwhile; the host cannot shorten the wait,
 * since completing it needs the enclave to accept the MAC and the time. The pending password
 * does not open as a password until the enclave re-seals it at completion, which needs the
 * completion code the enclave gave the code holder, the account's password unchanged since,
 * and the enclave's deadline.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { userLogSubject } from '../../protocol/auth.js';
import type { AuthSecret } from '../../protocol/rpc/auth-methods.js';
import { HostError } from '../errors.js';
import { recordLogged } from '../ops-events.js';
import type { AuthServiceDeps } from './auth-service.js';
import { createResetFlow } from './otp-login.js';

export interface PendingRecoveryView {
  unlock_at: string;
  can_complete: boolean;
}

export function createRecoveryService(
  deps: AuthServiceDeps,
  otpStart: (email: string, purpose: 'recovery') => Promise<void>,
) {
  const { enclave, repo, log, ops } = deps;
  const reset = createResetFlow(deps);

  async function hasSecondFactor(userId: string): Promise<boolean> {
    return (
      (await repo.confirmedTotp(userId)) !== null || (await repo.passkeyIds(userId)).length > 0
    );
  }

  return {
    /** Same 202 for any address; the code goes only to an address of an active account. */
    async recoveryStart(email: string): Promise<void> {
      const row = await repo.findUserByMethod('email', email);
      // Not awaited, as for a password reset: the answer's time must not depend on the mail.
      if (row?.status === 'active') void otpStart(email, 'recovery');
    },

    /** The mailed code and a new password: reset at once, or a pending time-locked recovery. */
    async recoveryConfirm(
      email: string,
      code: string,
      secret: AuthSecret,
    ): Promise<
      { status: 'reset' } | { status: 'pending'; unlock_at: string; completion_code: string }
    > {
      const { userId, r } = await reset.withCode(
        'recovery',
        'account_recovery',
        email,
        async (user, id) =>
          enclave.call('auth.recovery_confirm', {
            email,
            code,
            secret,
            user,
            second_factor: await hasSecondFactor(id),
            password_state: await repo.sealedPassword(id),
          }),
      );
      if (
        r.unlock_at === null ||
        r.expires_at === null ||
        r.mac === null ||
        r.completion_code === null
      ) {
        await reset.setPassword(userId, r.password_sealed, { type: 'auth.password_reset' });
        return { status: 'reset' };
      }
      const pending = {
        id: r.recovery_id,
        unlock_at: r.unlock_at,
        expires_at: r.expires_at,
        password_sealed: r.password_sealed,
        mac: r.mac,
      };
      await log.commit({
        async work(tx) {
          await repo.putRecovery(tx, userId, pending);
          const entry = await recordLogged(
            ops,
            tx,
            { type: 'auth.recovery_started', userId, unlockAt: r.unlock_at! },
            userLogSubject(userId),
          );
          return { result: undefined, entries: [entry] };
        },
      });
      // The completion code goes to the code holder only: never stored here (the MAC covers it).
      return {
        status: 'pending',
        unlock_at: new Date(r.unlock_at * 1000).toISOString(),
        completion_code: r.completion_code,
      };
    },

    /** What a logged-in session of the account sees of a pending recovery (never the password). */
    async recoveryStatus(userId: string): Promise<PendingRecoveryView | null> {
      const p = await repo.pendingRecovery(userId);
      if (!p) return null;
      return {
        unlock_at: new Date(p.unlock_at * 1000).toISOString(),
        can_complete: Date.now() >= p.unlock_at * 1000 && Date.now() < p.expires_at * 1000,
      };
    },

    /** Any logged-in session of the account may cancel (no step-up: the owner must be able to). */
    async recoveryCancel(userId: string): Promise<void> {
      await log.commit({
        async work(tx) {
          if (!(await repo.deleteRecovery(tx, userId, null)))
            throw new HostError('AUTH_RECOVERY_NOT_FOUND');
          const entry = await recordLogged(
            ops,
            tx,
            { type: 'auth.recovery_cancelled', userId },
            userLogSubject(userId),
          );
          return { result: undefined, entries: [entry] };
        },
      });
    },

    /**
     * After the unlock time, with the completion code: the enclave checks its MAC (the row, the
     * code, the account's password unchanged) and its clock, and re-seals the new password;
     * then it is set, TOTP (and its recovery codes) and passkeys are removed, and every session
     * ends. An unknown address, an inactive account, no pending recovery and a wrong code get
     * the same AUTH_RECOVERY_INVALID after the same lookups and enclave call.
     */
    async recoveryComplete(email: string, completionCode: string): Promise<void> {
      const row = await repo.findUserByMethod('email', email);
      const userId = row?.status === 'active' ? row.user_id : randomUUID();
      const pending = await repo.pendingRecovery(userId);
      const passwordState = await repo.sealedPassword(userId);
      const r = await enclave
        .call('auth.recovery_complete', {
          user_id: userId,
          ...(pending
            ? {
                recovery_id: pending.id,
                unlock_at: pending.unlock_at,
                expires_at: pending.expires_at,
                password_sealed: pending.password_sealed,
                mac: pending.mac,
              }
            : {
                recovery_id: randomUUID(),
                unlock_at: 0,
                expires_at: 0,
                password_sealed: `ph1.${randomBytes(48).toString('base64')}`,
                mac: randomBytes(32).toString('base64url'),
              }),
          password_state: passwordState,
          completion_code: completionCode,
        })
        .catch((err: unknown) => {
          if (pending) throw err;
          return null;
        });
      if (!pending || !r) throw new HostError('AUTH_RECOVERY_INVALID');
      await reset.setPassword(
        userId,
        r.password_sealed,
        { type: 'auth.recovery_completed' },
        {
          async alsoInTx(tx) {
            // Cancelled (or replaced) meanwhile: nothing is completed.
            if (!(await repo.deleteRecovery(tx, userId, pending.id)))
              throw new HostError('AUTH_RECOVERY_INVALID');
            await repo.deleteTotp(tx, userId);
            await repo.deletePasskeys(tx, userId);
          },
          // The password changed meanwhile (even by a change committing right now): nothing
          // is completed, and the owner's new password stays.
          ifStill: { expected: passwordState, refused: new HostError('AUTH_RECOVERY_INVALID') },
        },
      );
    },
  };
}
