/**
 * The enclave half of authentication (docs/protocol/auth.md): the auth keyring's lifecycle
 * (init, two-step rotation, JWKS), registration and login with Argon2id, refresh rotation and
 * the grace-window replay. Passwords arrive as typed or inside a credential envelope (opened by
 * open-envelope.ts, the one opening path); either way the password exists only in this call and
 * never crosses back.
 */
import { randomUUID } from 'node:crypto';
import { PASSWORD_MIN_LENGTH, type AuthPlaintext, type Role } from '../../protocol/auth.js';
import { RpcError } from '../../protocol/rpc/errors.js';
import type { AuthSecret } from '../../protocol/rpc/auth-methods.js';
import type { MethodParams, MethodResult, SealPolicy } from '../../protocol/rpc/methods.js';
import { AuthKeyring } from '../auth/auth-keyring.js';
import { readyAuthKeyring } from '../auth/auth-state.js';
import { keyRetentionSeconds } from '../auth/config.js';
import { signJwt, signJwtAsync } from '../auth/jwt.js';
import { bindMethod, checkMethodBinding } from '../auth/method-binding.js';
import {
  checkRefreshToken,
  makeRefreshToken,
  openResponse,
  refreshTokenHash,
  sealPasswordHash,
  sealResponse,
  unsealPasswordHash,
} from '../auth/tokens.js';
import { newSessionId, sessionEnd } from '../auth/session-id.js';
import { passwordKeySource, refuseFirstKeyringInCluster, type EnclaveState } from '../state.js';
import { caller, dueSecondFactor } from './auth-totp.js';
import { ENVELOPE_PURPOSES, openOnce } from './open-envelope.js';

export function policyOf(state: EnclaveState): SealPolicy {
  if (!state.policy) throw new RpcError('AUTH_NOT_READY');
  return state.policy;
}

function keysView(state: EnclaveState, keyring: AuthKeyring) {
  const now = state.now();
  return {
    generation: keyring.generation,
    keys: keyring.jwks(now, keyRetentionSeconds(state.auth.config)),
    signing_kid: keyring.signingKey(now).kid,
  };
}

/** Loads the stored auth keyring, or (`sealed: null`) creates one the host must store. */
export function authInit(
  state: EnclaveState,
  params: MethodParams<'auth.init'>,
): MethodResult<'auth.init'> {
  void state.auth.hasher.warmUp();
  const slot = state.keyrings.auth;
  if (slot.active) {
    // Called again with the newest stored keyring (another cluster member's rotation): move
    // to it if it is newer; an older one changes nothing.
    if (params.sealed !== null) slot.reload(state.sealer, params.sealed);
    return { ...keysView(state, readyAuthKeyring(state)), sealed: null };
  }
  if (params.sealed === null) {
    refuseFirstKeyringInCluster(state);
    const keyring = AuthKeyring.generate(state.now());
    const sealed = slot.adopt(state.sealer, policyOf(state), keyring);
    return { ...keysView(state, keyring), sealed };
  }
  slot.load(state.sealer, params.sealed);
  return { ...keysView(state, readyAuthKeyring(state)), sealed: null };
}

export function authPrepareRotation(state: EnclaveState): MethodResult<'auth.prepare_rotation'> {
  const { config } = state.auth;
  const next = readyAuthKeyring(state).rotated(
    state.now(),
    config.AUTH_KEY_PREPUBLISH_SECONDS,
    keyRetentionSeconds(config),
  );
  const sealed = state.keyrings.auth.prepare(state.sealer, policyOf(state), next);
  return { sealed, generation: next.generation, kid: next.newestKid() };
}

export function authActivate(
  state: EnclaveState,
  params: MethodParams<'auth.activate'>,
): MethodResult<'auth.activate'> {
  return keysView(state, state.keyrings.auth.activate(params.generation, params.sealed));
}

export function authJwks(state: EnclaveState): MethodResult<'auth.jwks'> {
  return keysView(state, readyAuthKeyring(state));
}

export function authStats(state: EnclaveState): MethodResult<'auth.stats'> {
  const { hasher } = state.auth;
  return {
    argon2_hashes: hasher.calls.hash,
    argon2_verifies: hasher.calls.verify,
    ...hasher.queueStats,
  };
}

/**
 * The password from a request: as given, or opened from an envelope (open-envelope.ts, the same
 * replay, size and freshness rules as credential.submit), whose plaintext must be an auth
 * plaintext for this very action and email (so an envelope made for one account or one purpose
 * is useless elsewhere).
 */
export async function passwordOf(
  state: EnclaveState,
  secret: AuthSecret,
  email: string,
  action: AuthPlaintext['action'],
): Promise<string> {
  if ('password' in secret) return secret.password;
  const opened = await openOnce(state, secret.envelope, ENVELOPE_PURPOSES.auth, (parsed) => {
    if (parsed.action !== action || parsed.email !== email)
      throw new RpcError('AUTH_ENVELOPE_MISMATCH');
    return parsed.password;
  });
  return opened.value;
}

export const longEnough = (password: string) => [...password].length >= PASSWORD_MIN_LENGTH;

/**
 * A new password for `userId` (registration, linking, change): taken from the request (an
 * envelope must be for `action` and `email`), at least PASSWORD_MIN_LENGTH long, hashed with
 * Argon2id through the queue and sealed to the account.
 */
async function sealNewPassword(
  state: EnclaveState,
  secret: AuthSecret,
  email: string,
  action: AuthPlaintext['action'],
  userId: string,
): Promise<string> {
  const password = await passwordOf(state, secret, email, action);
  if (!longEnough(password)) throw new RpcError('AUTH_PASSWORD_TOO_SHORT');
  const policy = policyOf(state);
  const phc = await state.auth.hasher.hash(password);
  return sealPasswordHash(passwordKeySource(state), policy, userId, phc);
}

export async function authRegister(
  state: EnclaveState,
  params: MethodParams<'auth.register'>,
): Promise<MethodResult<'auth.register'>> {
  const keyring = readyAuthKeyring(state);
  const userId = randomUUID();
  return {
    user_id: userId,
    password_sealed: await sealNewPassword(state, params.secret, params.email, 'register', userId),
    // The account's email as a login method (one-time codes), bound here like a SIWE address.
    email_binding: bindMethod(keyring, 'email', params.email, userId),
  };
}

export async function authLogin(
  state: EnclaveState,
  params: MethodParams<'auth.login'>,
): Promise<MethodResult<'auth.login'>> {
  const password = await passwordOf(state, params.secret, params.email, 'login');
  const auth = state.auth;
  const keyring = readyAuthKeyring(state);
  const { user } = params;
  const phc = user
    ? unsealPasswordHash(
        passwordKeySource(state),
        policyOf(state),
        user.user_id,
        user.password_sealed,
      )
    : null;
  // Exactly one Argon2id verify on every path: unknown email, unreadable blob, wrong password.
  const ok = phc
    ? await auth.hasher.verify(phc, password)
    : await auth.hasher.verifyDummy(password);
  if (!ok || !user || !phc) throw new RpcError('AUTH_INVALID_CREDENTIALS');
  const rehashed = auth.hasher.needsRehash(phc)
    ? sealPasswordHash(
        passwordKeySource(state),
        policyOf(state),
        user.user_id,
        await auth.hasher.hash(password),
      )
    : null;
  // With a TOTP secret on the account, the password alone is not a login (the secret's seal
  // binds it to this account; the host decides only whether it hands it over).
  const due = dueSecondFactor(state, keyring, user.user_id, user, params.second);
  const sessionId = newSessionId(state.now());
  return {
    user_id: user.user_id,
    session_id: sessionId,
    ...issue(state, keyring, user.user_id, sessionId, user.roles, ['pwd', ...due.amr]),
    password_sealed: rehashed,
    recovery_mac: due.recovery_mac,
    totp_step: due.totp_step,
  };
}

/**
 * A password for the caller's account (the access token, checked here, names it): linked to an
 * account that has none, or changed. `email` must be bound to the caller (it is the address the
 * password logs in with, and an envelope must name it).
 */
export async function authPasswordSet(
  state: EnclaveState,
  params: MethodParams<'auth.password_set'>,
): Promise<MethodResult<'auth.password_set'>> {
  const keyring = readyAuthKeyring(state);
  const { sub } = caller(state, keyring, params.access_token);
  if (!checkMethodBinding(keyring, 'email', params.email, sub, params.binding))
    throw new RpcError('AUTH_METHOD_BINDING_INVALID');
  return {
    user_id: sub,
    password_sealed: await sealNewPassword(state, params.secret, params.email, params.action, sub),
  };
}

/**
 * Everything a token pair needs except the access token's signature, decided now: the signing
 * key, the claims, the refresh token. Reads the state synchronously, so a caller that signs
 * later (issueAsync) still sees the keyring as it was at this call's turn.
 */
function prepareIssue(
  state: EnclaveState,
  keyring: AuthKeyring,
  sub: string,
  sid: string,
  roles: readonly Role[],
  amr: readonly string[] | undefined,
  /** The refusal once the session is past its absolute end (session-id.ts). */
  ended: 'AUTH_REFRESH_INVALID' | 'AUTH_TOKEN_INVALID',
) {
  const c = state.auth.config;
  const now = state.now();
  // Neither token reaches past the session's end, read from the id the MAC or signature covers;
  // compared on the clock that never goes back, so a clock set back does not revive it.
  const end = sessionEnd(sid, c.AUTH_SESSION_MAX_AGE_SECONDS);
  if (state.monotonicNow() >= end) throw new RpcError(ended);
  const exp = Math.min(now + c.AUTH_ACCESS_TOKEN_TTL_SECONDS, end);
  const key = keyring.signingKey(now);
  const claims = {
    iss: c.AUTH_ISSUER,
    aud: c.AUTH_AUDIENCE,
    sub,
    sid,
    exp,
    iat: now,
    jti: randomUUID(),
    roles: [...new Set(roles)],
    ...(amr ? { amr: [...amr], auth_time: now } : {}),
  };
  const refreshExp = Math.min(now + c.AUTH_REFRESH_TOKEN_TTL_SECONDS, end);
  const refresh = makeRefreshToken(keyring.refreshKey, sub, sid, refreshExp);
  return {
    now,
    key,
    claims,
    pair: (access: string) => ({
      access_token: access,
      access_expires_at: exp,
      refresh_token: refresh,
      refresh_expires_at: refreshExp,
      refresh_hash: refreshTokenHash(refresh),
    }),
  };
}

export function issue(
  state: EnclaveState,
  keyring: AuthKeyring,
  sub: string,
  sid: string,
  roles: readonly Role[],
  /** RFC 8176 methods of a login (none for a refresh): the token gets `amr` and `auth_time`. */
  amr?: readonly string[],
) {
  // A login's session is new; a step-up's is the access token's, which may have ended.
  const p = prepareIssue(state, keyring, sub, sid, roles, amr, 'AUTH_TOKEN_INVALID');
  return p.pair(signJwt(p.key, p.claims));
}

/**
 * A refresh: every check and every choice (token MAC and expiry, signing key, claims, new
 * refresh token, issued_at) happens synchronously, before the first await; then the access
 * token is signed on the thread pool (signJwtAsync; on the main thread while Argon2id hashes
 * hold every thread of the pool) and the answer sealed, which read no state.
 * `auth.refresh` is `overlapping` in the method table: the dispatcher starts the next calls of
 * the frame while this one's signature runs.
 */
export async function authRefresh(
  state: EnclaveState,
  params: MethodParams<'auth.refresh'>,
): Promise<MethodResult<'auth.refresh'>> {
  const keyring = readyAuthKeyring(state);
  // The clock that never goes back: a host that sets it back revives no expired token.
  checkRefreshToken(
    keyring.refreshKey,
    params.refresh_token,
    params.user_id,
    params.session_id,
    state.monotonicNow(),
  );
  const p = prepareIssue(
    state,
    keyring,
    params.user_id,
    params.session_id,
    params.roles,
    undefined,
    'AUTH_REFRESH_INVALID',
  );
  const responseKey = keyring.responseKey;
  const parentHash = refreshTokenHash(params.refresh_token);
  // Argon2id hashes (detached calls) run on the same pool: while they hold every thread, a
  // signature sent there would wait for one of them, and with it this frame and the later
  // frames of its connection. It is made here then, as before the pool was used. The pool's
  // size is UV_THREADPOOL_SIZE, which libuv reads itself (default 4).
  const poolFree = state.auth.hasher.queueStats.running < state.config.UV_THREADPOOL_SIZE;
  const access = poolFree ? await signJwtAsync(p.key, p.claims) : signJwt(p.key, p.claims);
  const issued = p.pair(access);
  const { refresh_hash: _hash, ...pair } = issued;
  const sealed = sealResponse(responseKey, parentHash, { ...pair, issued_at: p.now });
  return { ...issued, sealed_response: sealed };
}

export function authRefreshReplay(
  state: EnclaveState,
  params: MethodParams<'auth.refresh_replay'>,
): MethodResult<'auth.refresh_replay'> {
  const keyring = readyAuthKeyring(state);
  // On the clock that never goes back, as in authRefresh: a host that sets it back neither
  // reopens the window nor replays a pair once the spent token (and its session) has ended.
  const now = state.monotonicNow();
  checkRefreshToken(
    keyring.refreshKey,
    params.refresh_token,
    params.user_id,
    params.session_id,
    now,
  );
  const r = openResponse(
    keyring.responseKey,
    refreshTokenHash(params.refresh_token),
    params.sealed_response,
  );
  // The window is the enclave's to enforce: the host cannot stretch it to replay a stolen pair.
  if (now - r.issued_at > state.auth.config.AUTH_REFRESH_GRACE_SECONDS)
    throw new RpcError('AUTH_REFRESH_REUSED');
  return {
    access_token: r.access_token,
    access_expires_at: r.access_expires_at,
    refresh_token: r.refresh_token,
    refresh_expires_at: r.refresh_expires_at,
  };
}

export const AUTH_HANDLERS = {
  'auth.init': authInit,
  'auth.prepare_rotation': authPrepareRotation,
  'auth.activate': authActivate,
  'auth.jwks': authJwks,
  'auth.register': authRegister,
  'auth.login': authLogin,
  'auth.password_set': authPasswordSet,
  'auth.refresh': authRefresh,
  'auth.refresh_replay': authRefreshReplay,
  'auth.stats': authStats,
} as const;
