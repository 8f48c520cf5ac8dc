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
