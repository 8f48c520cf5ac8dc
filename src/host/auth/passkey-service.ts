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
import { createTotpService } from './totp-service.js';
import type { PasskeyRow } from '../db/repositories/auth.js';
import type { SecondFactor } from '../../protocol/rpc/auth-methods.js';

/** A stored passkey as the enclave checks it (its binding covers key and counter). */
const credentialOf = (row: PasskeyRow) => ({
  user_id: row.user_id,
  credential_id: row.credential_id,
  public_key: row.public_key,
  counter: row.counter,
  binding: row.binding,
});

export function createPasskeyService(deps: AuthServiceDeps) {
  const { repo, log, ops, enclave } = deps;
  const totp = createTotpService(deps);
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

    /** Step-up by passkey, step 1: options that allow only the account's own passkeys. */
    async passkeyStepUpOptions(accessToken: string, userId: string) {
      const allow = await repo.passkeyIds(userId);
      if (allow.length === 0) throw new HostError('AUTH_METHOD_NOT_FOUND');
      return enclave.call('auth.passkey_step_up_options', { access_token: accessToken, allow });
    },

    /**
     * Step 2: the assertion of one of the account's passkeys, verified by the enclave for the
     * token's account; the new refresh token joins this session and the counter advances over
     * the exact row the enclave checked, in one transaction.
     */
    async passkeyStepUp(
      accessToken: string,
      userId: string,
      roles: Role[],
      response: Record<string, unknown>,
    ): Promise<TokenPair> {
      const credentialId = typeof response.id === 'string' ? response.id : '';
      const row = credentialId ? await repo.findPasskey(credentialId) : null;
      if (!row || row.user_id !== userId) throw new HostError('AUTH_PASSKEY_INVALID');
      const r = await enclave.call('auth.passkey_step_up', {
        access_token: accessToken,
        roles,
        response,
        credential: credentialOf(row),
      });
      if (r.user_id !== userId) throw new HostError('AUTH_TOKEN_INVALID');
      await totp.storeSecondFactorSession(
        { ...r, recovery_mac: null, totp_step: null },
        true,
        async (tx) => {
          if (!(await repo.advancePasskey(tx, row.id, row.counter, r)))
            throw new HostError('AUTH_PASSKEY_INVALID');
        },
      );
      await ops.record(repo.db, { type: 'auth.step_up', userId, factor: 'passkey' });
      return pair(r);
    },

    async passkeyLogin(
      response: Record<string, unknown>,
      second?: SecondFactor,
    ): Promise<TokenPair & { user_id: string }> {
      let userId: string | null = null;
      try {
        const credentialId = typeof response.id === 'string' ? response.id : '';
        const row = credentialId ? await repo.findPasskey(credentialId) : null;
        userId = row?.user_id ?? null;
        const usable = row && row.status === 'active' ? row : null;
        // With TOTP, a passkey that does not verify the user needs its code too (the enclave
        // decides; user verification makes the passkey multi-factor on its own).
        const totpSealed = usable ? await repo.confirmedTotp(usable.user_id) : null;
        const r = await enclave.call('auth.passkey_login_verify', {
          response,
          credential: usable
            ? {
                ...credentialOf(usable),
                roles: usable.roles as Role[],
                ...(totpSealed
                  ? {
                      totp_sealed: totpSealed,
                      recovery_macs: await repo.recoveryCodeMacs(usable.user_id),
                    }
                  : {}),
              }
            : null,
          ...(second ? { second } : {}),
        });
        // The counter, the session and the login's audit event commit together.
        await totp.storeSecondFactorSession(
          r,
          false,
          async (tx) => {
            if (!(await repo.advancePasskey(tx, usable!.id, usable!.counter, r)))
              throw new HostError('AUTH_PASSKEY_INVALID');
          },
          { type: 'auth.login_succeeded', userId: r.user_id, method: 'passkey' },
        );
        return { user_id: r.user_id, ...pair(r) };
      } catch (err) {
        ops.emit({ type: 'auth.login_failed', userId, reason: reasonOf(err), method: 'passkey' });
        throw err;
      }
    },
  };
}
