/**
 * An account's login methods (docs/protocol/auth.md "Linked methods"): list them, and unlink
 * one, never the last (an account nobody can log in to is lost). The count and the delete run
 * in one transaction that locks the account's row, so two parallel unlinks cannot both see a
 * second method and leave none. An unlink is an ops event and a transparency-log entry.
 */
import { userLogSubject } from '../../protocol/auth.js';
import type { AuthSecret, OtpPurpose } from '../../protocol/rpc/auth-methods.js';
import type { Queryable } from '../db/database.js';
import { HostError } from '../errors.js';
import { recordLogged, type OpsEvent } from '../ops-events.js';
import type { AuthServiceDeps } from './auth-service.js';
import { sameForStrangers } from './otp-login.js';

export function createMethodsService(
  deps: AuthServiceDeps,
  otpStart: (email: string, purpose: OtpPurpose, accessToken?: string) => Promise<void>,
) {
  const { repo, log, ops, enclave, verifier } = deps;

  /** `change` in one transaction with its ops event and transparency-log entry. */
  async function logged<T>(
    userId: string,
    change: (tx: Queryable) => Promise<T>,
    event: (r: T) => Extract<OpsEvent, { type: 'auth.method_linked' | 'auth.password_changed' }>,
  ): Promise<T> {
    const r = await log.commit({
      async work(tx) {
        const result = await change(tx);
        const entry = await recordLogged(ops, tx, event(result), userLogSubject(userId));
        return { result, entries: [entry] };
      },
    });
    return r.result;
  }

  /**
   * A new password sealed by the enclave for the token's account (`link` or `change`): the
   * account must have an email (the password logs in with it; its binding tells the enclave
   * which address an envelope must name).
   */
  async function sealedPassword(
    accessToken: string,
    userId: string,
    action: 'link' | 'change',
    secret: AuthSecret,
  ): Promise<string> {
    const email = await repo.passwordEmailOf(userId);
    if (!email) throw new HostError('AUTH_EMAIL_REQUIRED');
    const r = await enclave.call('auth.password_set', {
      access_token: accessToken,
      action,
      email: email.email,
      binding: email.binding,
      secret,
    });
    if (r.user_id !== userId) throw new HostError('AUTH_TOKEN_INVALID');
    return r.password_sealed;
  }

  return {
    /** Links a password to an account that has none (hashed and sealed by the enclave). */
    async linkPassword(accessToken: string, userId: string, secret: AuthSecret) {
      // Before the Argon2id work: an account with a password changes it instead.
      if (await repo.hasPassword(userId)) throw new HostError('AUTH_PASSWORD_EXISTS');
      const sealed = await sealedPassword(accessToken, userId, 'link', secret);
      await logged(
        userId,
        async (tx) => {
          if (!(await repo.insertPassword(tx, userId, sealed)))
            throw new HostError('AUTH_PASSWORD_EXISTS');
        },
        () => ({ type: 'auth.method_linked', userId, kind: 'password' }),
      );
      return { id: 'password' };
    },

    /**
     * Changes the password; every other session of the account ends (whoever knew the old one
     * is out), this one stays.
     */
    async changePassword(
      accessToken: string,
      userId: string,
      sessionId: string,
      secret: AuthSecret,
    ): Promise<{ revoked: number }> {
      if (!(await repo.hasPassword(userId))) throw new HostError('AUTH_METHOD_NOT_FOUND');
      const sealed = await sealedPassword(accessToken, userId, 'change', secret);
      const revoked = await logged(
        userId,
        async (tx) => {
          if (!(await repo.replacePassword(tx, userId, sealed)))
            throw new HostError('AUTH_METHOD_NOT_FOUND');
          return repo.revokeOtherSessions(tx, userId, sessionId);
        },
        (n) => ({ type: 'auth.password_changed', userId, revoked: n }),
      );
      verifier.forget();
      return { revoked };
    },

    /**
     * Mails a `link` code bound (by the enclave) to the token's account and this address. The
     * caller learns nothing: no mail goes to an address an account already has (it could not
     * be linked), and the answer does not wait for the mail either way.
     */
    async linkEmailStart(accessToken: string, email: string): Promise<void> {
      // An unconfirmed registration of the address does not count: it gives way to the link.
      const holders = [
        await repo.findAccountByEmail(email),
        await repo.findUserByMethod('email', email),
      ];
      if (holders.every((h) => h === null || h.status === 'pending'))
        void otpStart(email, 'link', accessToken);
    },

    /** The `link` code checked by the enclave for the token's account; then the row. */
    async linkEmail(accessToken: string, userId: string, email: string, code: string) {
      // A free address was mailed a code, a taken one not: the lock must not tell them apart.
      const r = await enclave
        .call('auth.email_link', { access_token: accessToken, email, code })
        .catch((err: unknown) => {
          throw sameForStrangers(err);
        });
      if (r.user_id !== userId) throw new HostError('AUTH_TOKEN_INVALID');
      const id = await logged(
        userId,
        async (tx) => {
          await tx.query('SELECT id FROM users WHERE id = $1 FOR UPDATE', [userId]);
          const linked = await repo.linkEmail(tx, userId, r.email, r.binding);
          if (linked === null) throw new HostError('AUTH_METHOD_TAKEN');
          return linked;
        },
        () => ({ type: 'auth.method_linked', userId, kind: 'email' }),
      );
      return { id };
    },

    /**
     * Links the SIWE signer's address to the caller's account. The enclave checks the access
     * token itself, so a host cannot link an address to an account of its choosing.
     */
    async linkSiwe(
      accessToken: string,
      userId: string,
      message: string,
      signature: string,
    ): Promise<{ id: string }> {
      const r = await deps.enclave.call('auth.siwe_link', {
        access_token: accessToken,
        message,
        signature,
      });
      if (r.user_id !== userId) throw new HostError('AUTH_TOKEN_INVALID');
      const address = r.address.toLowerCase();
      const logged = await log.commit({
        async work(tx) {
          const { rows } = await tx.query<{ id: string }>(
            `INSERT INTO auth_methods (user_id, kind, identifier, binding)
             VALUES ($1, 'siwe', $2, $3) ON CONFLICT (kind, identifier) DO NOTHING RETURNING id`,
            [userId, address, r.binding],
          );
          if (rows.length !== 1) throw new HostError('AUTH_METHOD_TAKEN');
          const entry = await recordLogged(
            ops,
            tx,
            { type: 'auth.method_linked', userId, kind: 'siwe' },
            userLogSubject(userId),
          );
          return { result: rows[0]!.id, entries: [entry] };
        },
      });
      return { id: logged.result };
    },

    listMethods: (userId: string) => repo.listMethods(userId),

    async unlinkMethod(userId: string, id: string): Promise<void> {
      await log.commit({
        async work(tx) {
          await tx.query('SELECT id FROM users WHERE id = $1 FOR UPDATE', [userId]);
          const methods = await repo.listMethods(userId, tx);
          if (!methods.some((m) => m.id === id)) throw new HostError('AUTH_METHOD_NOT_FOUND');
          if (methods.length <= 1) throw new HostError('AUTH_LAST_METHOD');
          const kind = await repo.deleteMethod(tx, userId, id);
          if (kind === null) throw new HostError('AUTH_METHOD_NOT_FOUND');
          const entry = await recordLogged(
            ops,
            tx,
            { type: 'auth.method_unlinked', userId, kind },
            userLogSubject(userId),
          );
          return { result: undefined, entries: [entry] };
        },
      });
    },
  };
}
