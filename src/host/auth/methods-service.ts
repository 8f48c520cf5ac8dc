/**
 * An account's login methods (docs/protocol/auth.md "Linked methods"): list them, and unlink
 * one, never the last (an account nobody can log in to is lost). The count and the delete run
 * in one transaction that locks the account's row, so two parallel unlinks cannot both see a
 * second method and leave none. An unlink is an ops event and a transparency-log entry.
 */
import { userLogSubject } from '../../protocol/auth.js';
import { HostError } from '../errors.js';
import { recordLogged } from '../ops-events.js';
import type { AuthServiceDeps } from './auth-service.js';

export function createMethodsService(deps: AuthServiceDeps) {
  const { repo, log, ops } = deps;
  return {
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
