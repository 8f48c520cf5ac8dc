/**
 * Sign-In with Ethereum, the host's part (docs/protocol/auth.md "Sign-In with Ethereum"): it
 * asks the enclave for nonces, looks up the account linked to the message's address and hands
 * message, signature and that link (with the enclave's binding) to the enclave, which decides.
 * A first login creates the account and its link, the ops event and the transparency-log entry
 * in one transaction. Per-account backoff is the password logins' throttle, keyed by address.
 */
import { userLogSubject, type Role } from '../../protocol/auth.js';
import type { MethodResult } from '../../protocol/rpc/methods.js';
import { isEnclaveCallError } from '../enclave-client/rpc-client.js';
import { HostError } from '../errors.js';
import { recordLogged } from '../ops-events.js';
import type { AuthServiceDeps } from './auth-service.js';
import { pair, reasonOf, type TokenPair } from './token-pair.js';

/**
 * The address line of an EIP-4361 message (its second line), lower-cased: only to find the
 * account; the enclave parses the whole message and checks the same address signed it.
 */
function addressOf(message: string): string {
  const line = message.split('\n', 2)[1] ?? '';
  if (!/^0x[0-9a-fA-F]{40}$/.test(line)) throw new HostError('AUTH_SIWE_INVALID');
  return line.toLowerCase();
}

export function createSiweLogin(deps: AuthServiceDeps) {
  const { enclave, repo, log, throttle, ops } = deps;

  async function attempt(
    message: string,
    signature: string,
    address: string,
    audit: { userId: string | null },
  ): Promise<TokenPair & { user_id: string; created: boolean }> {
    const key = `siwe:${address}`;
    const wait = await throttle.begin(key);
    if (wait > 0) throw new HostError('AUTH_LOGIN_LOCKED', undefined, Math.ceil(wait / 1000));
    let r: MethodResult<'auth.siwe_login'>;
    try {
      const row = await repo.findUserByMethod('siwe', address);
      audit.userId = row?.user_id ?? null;
      if (row && row.status !== 'active') throw new HostError('AUTH_SIWE_SIGNATURE_INVALID');
      const user = row
        ? { user_id: row.user_id, binding: row.binding, roles: row.roles as Role[] }
        : null;
      r = await enclave.call('auth.siwe_login', { message, signature, user });
    } catch (err) {
      // Only a bad signature stays counted against the address; anything else is given back.
      if (!isEnclaveCallError(err, 'AUTH_SIWE_SIGNATURE_INVALID'))
        await throttle.refund(key).catch(() => undefined);
      throw err;
    }
    await throttle.succeeded(key);
    audit.userId = r.user_id;
    const session = { hash: r.refresh_hash, expiresAt: r.refresh_expires_at };
    if (r.binding === null) {
      await repo.db.transaction((tx) => repo.insertSession(tx, r.session_id, r.user_id, session));
    } else {
      const binding = r.binding;
      await log.commit({
        async work(tx) {
          // A concurrent first login of the same address won; this one's nonce is spent.
          if (!(await repo.insertMethodUser(tx, r.user_id, 'siwe', address, binding)))
            throw new HostError('AUTH_SIWE_NONCE_INVALID');
          await repo.insertSession(tx, r.session_id, r.user_id, session);
          const entry = await recordLogged(
            ops,
            tx,
            { type: 'auth.method_linked', userId: r.user_id, kind: 'siwe' },
            userLogSubject(r.user_id),
          );
          return { result: undefined, entries: [entry] };
        },
      });
    }
    return { user_id: r.user_id, created: r.binding !== null, ...pair(r) };
  }

  return {
    async siweNonce(): Promise<{ nonce: string; expires_at: number }> {
      return enclave.call('auth.siwe_nonce', {});
    },

    /** Every attempt leaves an audit event: success, or failure with its reason code. */
    async siweLogin(
      message: string,
      signature: string,
    ): Promise<TokenPair & { user_id: string; created: boolean }> {
      const audit = { userId: null as string | null };
      try {
        const r = await attempt(message, signature, addressOf(message), audit);
        await ops.record(repo.db, {
          type: 'auth.login_succeeded',
          userId: r.user_id,
          method: 'siwe',
        });
        return r;
      } catch (err) {
        ops.emit({
          type: 'auth.login_failed',
          userId: audit.userId,
          reason: reasonOf(err),
          method: 'siwe',
        });
        throw err;
      }
    },
  };
}
