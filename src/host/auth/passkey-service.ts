/**
 * Passkeys on the host (docs/protocol/auth.md "Passkeys"): it carries the WebAuthn options and
 * responses to the enclave, which makes and checks the challenges and verifies the ceremonies,
 * and stores each credential (public key, counter) with the enclave's binding. A login advances
 * the stored counter only over the exact row the enclave checked (compare-and-set), so two
 * parallel logins with one assertion cannot both store a session. Registration is an
 * `auth.method_linked` ops event and transparency-log entry; every login and failure an audit
 * event.
 */
import { userLogSubject, type Role } from '../../protocol/auth.js';
import { HostError } from '../errors.js';
import { recordLogged } from '../ops-events.js';
import type { AuthServiceDeps } from './auth-service.js';
import { pair, reasonOf, type TokenPair } from './token-pair.js';

export function createPasskeyService(deps: AuthServiceDeps) {
  const { repo, log, ops, enclave } = deps;
  return {
    async passkeyRegisterOptions(accessToken: string, userId: string, userName: string) {
      const exclude = await repo.passkeyIds(userId);
      return enclave.call('auth.passkey_register_options', {
        access_token: accessToken,
        user_name: userName,
        exclude,
      });
    },

    async passkeyRegisterVerify(
      accessToken: string,
      userId: string,
      response: Record<string, unknown>,
    ): Promise<{ id: string }> {
      const r = await enclave.call('auth.passkey_register_verify', {
        access_token: accessToken,
        response,
      });
      if (r.user_id !== userId) throw new HostError('AUTH_TOKEN_INVALID');
      if (r.credential_id.length > 255) throw new HostError('AUTH_PASSKEY_INVALID');
      const logged = await log.commit({
        async work(tx) {
          const id = await repo.insertPasskey(tx, userId, r);
          if (!id) throw new HostError('AUTH_METHOD_TAKEN');
          const entry = await recordLogged(
            ops,
            tx,
            { type: 'auth.method_linked', userId, kind: 'passkey' },
            userLogSubject(userId),
          );
          return { result: id, entries: [entry] };
        },
      });
      return { id: logged.result };
    },

    passkeyLoginOptions: () => enclave.call('auth.passkey_login_options', {}),

    async passkeyLogin(
      response: Record<string, unknown>,
    ): Promise<TokenPair & { user_id: string }> {
      let userId: string | null = null;
      try {
        const credentialId = typeof response.id === 'string' ? response.id : '';
        const row = credentialId ? await repo.findPasskey(credentialId) : null;
        userId = row?.user_id ?? null;
        const usable = row && row.status === 'active' ? row : null;
        const r = await enclave.call('auth.passkey_login_verify', {
          response,
          credential: usable
            ? {
                user_id: usable.user_id,
                credential_id: usable.credential_id,
                public_key: usable.public_key,
                counter: usable.counter,
                binding: usable.binding,
                roles: usable.roles as Role[],
              }
            : null,
        });
        await repo.db.transaction(async (tx) => {
          if (!(await repo.advancePasskey(tx, usable!.id, usable!.counter, r)))
            throw new HostError('AUTH_PASSKEY_INVALID');
          await repo.insertSession(tx, r.session_id, r.user_id, {
            hash: r.refresh_hash,
            expiresAt: r.refresh_expires_at,
          });
        });
        await ops.record(repo.db, {
          type: 'auth.login_succeeded',
          userId: r.user_id,
          method: 'passkey',
        });
        return { user_id: r.user_id, ...pair(r) };
      } catch (err) {
        ops.emit({ type: 'auth.login_failed', userId, reason: reasonOf(err), method: 'passkey' });
        throw err;
      }
    },
  };
}
