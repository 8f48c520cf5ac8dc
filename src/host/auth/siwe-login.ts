/**
 * Sign-In with Ethereum, the host's part (docs/protocol/auth.md "Sign-In with Ethereum"): it
 * asks the enclave for nonces, looks up the account linked to the message's address and hands
 * message, signature and that link (with the enclave's binding) to the enclave, which decides.
 * Per-account backoff is the password logins' throttle, keyed by address.
 */
import type { SecondFactor } from '../../protocol/rpc/auth-methods.js';
import type { MethodResult } from '../../protocol/rpc/methods.js';
import { isEnclaveCallError } from '../enclave-client/rpc-client.js';
import { HostError } from '../errors.js';
import type { AuthServiceDeps } from './auth-service.js';
import { createMethodLogin, type MethodLoginResult } from './method-login.js';

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
  const { enclave, throttle } = deps;
  const methods = createMethodLogin(deps);

  return {
    async siweNonce(): Promise<{ nonce: string; expires_at: number }> {
      return enclave.call('auth.siwe_nonce', {});
    },

    async siweLogin(
      message: string,
      signature: string,
      second?: SecondFactor,
    ): Promise<MethodLoginResult> {
      return methods.audited('siwe', async (audit) => {
        const address = addressOf(message);
        const key = `siwe:${address}`;
        const wait = await throttle.begin(key);
        if (wait > 0) throw new HostError('AUTH_LOGIN_LOCKED', undefined, Math.ceil(wait / 1000));
        let r: MethodResult<'auth.siwe_login'>;
        try {
          const user = await methods.linkedUser('siwe', address, audit);
          r = await enclave.call('auth.siwe_login', {
            message,
            signature,
            user,
            ...(second ? { second } : {}),
          });
        } catch (err) {
          // A bad signature or a wrong second factor stays counted against the address; anything
          // else is given back.
          if (
            !isEnclaveCallError(err, 'AUTH_SIWE_SIGNATURE_INVALID') &&
            !isEnclaveCallError(err, 'AUTH_MFA_INVALID')
          )
            await throttle.refund(key).catch(() => undefined);
          throw err;
        }
        await throttle.succeeded(key);
        audit.userId = r.user_id;
        // A concurrent first login of the same address won; this one's nonce is spent.
        return methods.finish('siwe', address, r, 'AUTH_SIWE_NONCE_INVALID');
      });
    },
  };
}
