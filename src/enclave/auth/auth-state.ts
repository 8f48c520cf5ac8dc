/**
 * The enclave's authentication state, kept beside (not inside) EnclaveState so the credential
 * side is untouched: the auth keyring once `auth.init` ran, a prepared rotation awaiting
 * `auth.activate`, and the Argon2id hasher with its bounded queue. Lost on restart; the host
 * hands the sealed keyring back through `auth.init`.
 */
import { RpcError } from '../../protocol/rpc/errors.js';
import type { EnclaveState } from '../state.js';
import { argon2ParamsFrom, PasswordHasher } from './argon2.js';
import type { AuthKeyring } from './auth-keyring.js';
import type { AuthEnclaveConfig } from './config.js';

export interface AuthState {
  keyring: AuthKeyring | null;
  pending: { keyring: AuthKeyring; sealed: string } | null;
  readonly hasher: PasswordHasher;
  readonly config: AuthEnclaveConfig;
}

const states = new WeakMap<EnclaveState, AuthState>();

export function authState(state: EnclaveState): AuthState {
  let s = states.get(state);
  if (!s) {
    const config = state.config as unknown as AuthEnclaveConfig;
    s = {
      keyring: null,
      pending: null,
      hasher: new PasswordHasher(
        argon2ParamsFrom(config),
        config.AUTH_ARGON2_CONCURRENCY,
        config.AUTH_ARGON2_QUEUE_MAX,
      ),
      config,
    };
    states.set(state, s);
  }
  return s;
}

export function readyAuthKeyring(state: EnclaveState): AuthKeyring {
  const k = authState(state).keyring;
  if (!k) throw new RpcError('AUTH_NOT_READY');
  return k;
}
