/**
 * Sign-In with Ethereum in the enclave (docs/protocol/auth.md): the nonce is made and
 * remembered here; the login is decided here (enclave/auth/siwe.ts) and the tokens signed here.
 * The host only says which account it has linked to the address, and must show the enclave's
 * binding of that link: it cannot log a signer into another account, nor anyone in without a
 * signature over a nonce this enclave issued.
 */
import { randomUUID } from 'node:crypto';
import { RpcError } from '../../protocol/rpc/errors.js';
import type { MethodParams, MethodResult } from '../../protocol/rpc/methods.js';
import { readyAuthKeyring } from '../auth/auth-state.js';
import { newSessionId } from '../auth/session-id.js';
import { bindMethod, checkMethodBinding } from '../auth/method-binding.js';
import { keyRetentionSeconds } from '../auth/config.js';
import { verifyOwnJwt } from '../auth/jwt.js';
import { verifySiwe } from '../auth/siwe.js';
import { siweChainIdsOf, siweDomainOf, siweSchemeOf } from '../../protocol/enclave-env.js';
import type { EnclaveState } from '../state.js';
import { issue } from './auth.js';
import { dueSecondFactor } from './auth-totp.js';

/** What a message must name to be meant for us: AUTH_SIWE_DOMAIN, the issuer's scheme, a chain. */
const siweRulesOf = (c: EnclaveState['auth']['config']) => ({
  domain: siweDomainOf(c),
  scheme: siweSchemeOf(c),
  chainIds: siweChainIdsOf(c),
});

export function siweNonce(state: EnclaveState): MethodResult<'auth.siwe_nonce'> {
  readyAuthKeyring(state);
  const { value, expiresAt } = state.auth.siweNonces.issue(
    state.now(),
    state.auth.config.AUTH_SIWE_NONCE_TTL_SECONDS,
  );
  return { nonce: value, expires_at: expiresAt };
}

export function siweLogin(
  state: EnclaveState,
  params: MethodParams<'auth.siwe_login'>,
): MethodResult<'auth.siwe_login'> {
  const keyring = readyAuthKeyring(state);
  const c = state.auth.config;
  const address = verifySiwe(
    params.message,
    params.signature,
    siweRulesOf(c),
    state.auth.siweNonces,
    state.now(),
  );
  // Addresses are bound in lower case: the same account whatever checksum case a wallet shows.
  const id = address.toLowerCase();
  const { user } = params;
  if (user && !checkMethodBinding(keyring, 'siwe', id, user.user_id, user.binding))
    throw new RpcError('AUTH_METHOD_BINDING_INVALID');
  const userId = user?.user_id ?? randomUUID();
  // An account with TOTP needs its code here too (after the signature: the nonce is spent).
  const due = dueSecondFactor(state, keyring, userId, user, params.second);
  const sessionId = newSessionId(state.now());
  return {
    user_id: userId,
    session_id: sessionId,
    ...issue(state, keyring, userId, sessionId, user?.roles ?? [], ['swk', ...due.amr]),
    address,
    binding: user ? null : bindMethod(keyring, 'siwe', id, userId),
    recovery_mac: due.recovery_mac,
    totp_step: due.totp_step,
  };
}

/**
 * Link an Ethereum address to the caller's account: the caller is whoever the access token
 * (checked here, not taken from the host) names, the address is whoever signed the SIWE message
 * (same checks as a login). Returns the binding the host stores.
 */
export function siweLink(
  state: EnclaveState,
  params: MethodParams<'auth.siwe_link'>,
): MethodResult<'auth.siwe_link'> {
  const keyring = readyAuthKeyring(state);
  const c = state.auth.config;
  const now = state.now();
  const userId = verifyOwnJwt(
    params.access_token,
    (kid) => keyring.publishedKey(kid, now, keyRetentionSeconds(c)),
    { iss: c.AUTH_ISSUER, aud: c.AUTH_AUDIENCE, now },
  );
  if (userId === null) throw new RpcError('AUTH_TOKEN_INVALID');
  const address = verifySiwe(
    params.message,
    params.signature,
    siweRulesOf(c),
    state.auth.siweNonces,
    now,
  );
  const id = address.toLowerCase();
  return {
    user_id: userId,
    address,
    binding: bindMethod(keyring, 'siwe', id, userId),
  };
}

export const SIWE_HANDLERS = {
  'auth.siwe_link': siweLink,
  'auth.siwe_nonce': siweNonce,
  'auth.siwe_login': siweLogin,
} as const;
