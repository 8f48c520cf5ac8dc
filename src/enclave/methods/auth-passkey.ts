/**
 * Passkeys (WebAuthn Level 3) with @simplewebauthn/server, verified here (docs/protocol/auth.md
 * "Passkeys"). Challenges are made and remembered by the enclave (a registration challenge is
 * tagged with the account that asked for it); the credential's public key and sign counter are
 * stored by the host under the enclave's binding over (passkey, credential id, user id,
 * public key, counter), re-made at every login with the new counter, so the host cannot swap in
 * a key of its own or move a credential to another account. Attestation `none` is asked for;
 * the relying party is AUTH_RP_ID and AUTH_ORIGINS.
 */
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from '@simplewebauthn/server';
import { webauthnRpOf } from '../../protocol/enclave-env.js';
import { RpcError } from '../../protocol/rpc/errors.js';
import type { MethodParams, MethodResult } from '../../protocol/rpc/methods.js';
import { readyAuthKeyring } from '../auth/auth-state.js';
import { newSessionId } from '../auth/session-id.js';
import { bindMethod, checkMethodBinding } from '../auth/method-binding.js';
import type { EnclaveState } from '../state.js';
import { issue } from './auth.js';
import { caller, dueSecondFactor } from './auth-totp.js';
import type { AuthKeyring } from '../auth/auth-keyring.js';

const CHALLENGE_TTL_SECONDS = 300;
const utf8 = new TextEncoder();

/** A challenge the enclave remembers, as the bytes WebAuthn signs over. */
function newChallenge(state: EnclaveState, tag: string): Uint8Array<ArrayBuffer> {
  const { value } = state.auth.passkeyChallenges.issue(state.now(), CHALLENGE_TTL_SECONDS, tag);
  return bytesOf(value);
}

function bytesOf(text: string): Uint8Array<ArrayBuffer> {
  const encoded = utf8.encode(text);
  const out = new Uint8Array(new ArrayBuffer(encoded.length));
  out.set(encoded);
  return out;
}

/** clientData.challenge (base64url) is one of ours, live, for this tag: taken once. */
function takeChallenge(state: EnclaveState, tag: string) {
  return (challenge: string): boolean => {
    const value = Buffer.from(challenge, 'base64url').toString('utf8');
    return (
      /^[0-9a-f]{24}$/.test(value) && state.auth.passkeyChallenges.take(value, state.now(), tag)
    );
  };
}

const extraOf = (publicKey: string, counter: number) => `${publicKey}.${counter}`;

export async function passkeyRegisterOptions(
  state: EnclaveState,
  params: MethodParams<'auth.passkey_register_options'>,
): Promise<MethodResult<'auth.passkey_register_options'>> {
  const keyring = readyAuthKeyring(state);
  const { sub } = caller(state, keyring, params.access_token);
  const { rpId } = webauthnRpOf(state.auth.config);
  const options = await generateRegistrationOptions({
    rpName: 'Cloister',
    rpID: rpId,
    userName: params.user_name,
    userID: bytesOf(sub),
    challenge: newChallenge(state, `register:${sub}`),
    attestationType: 'none',
    excludeCredentials: params.exclude.map((id) => ({ id })),
    authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
    timeout: CHALLENGE_TTL_SECONDS * 1000,
  });
  return { options: options as unknown as Record<string, unknown> };
}

export async function passkeyRegisterVerify(
  state: EnclaveState,
  params: MethodParams<'auth.passkey_register_verify'>,
): Promise<MethodResult<'auth.passkey_register_verify'>> {
  const keyring = readyAuthKeyring(state);
  const { sub } = caller(state, keyring, params.access_token);
  const { rpId, origins } = webauthnRpOf(state.auth.config);
  let credential;
  try {
    const r = await verifyRegistrationResponse({
      response: params.response as never,
      expectedChallenge: takeChallenge(state, `register:${sub}`),
      expectedOrigin: origins,
      expectedRPID: rpId,
      requireUserVerification: false,
    });
    if (!r.verified) throw new Error('not verified');
    credential = r.registrationInfo.credential;
  } catch {
    throw new RpcError('AUTH_PASSKEY_INVALID');
  }
  const publicKey = Buffer.from(credential.publicKey).toString('base64url');
  return {
    user_id: sub,
    credential_id: credential.id,
    public_key: publicKey,
    counter: credential.counter,
    binding: bindMethod(
      keyring,
      'passkey',
      credential.id,
      sub,
      extraOf(publicKey, credential.counter),
    ),
  };
}

export async function passkeyLoginOptions(
  state: EnclaveState,
): Promise<MethodResult<'auth.passkey_login_options'>> {
  readyAuthKeyring(state);
  const { rpId } = webauthnRpOf(state.auth.config);
  const options = await generateAuthenticationOptions({
    rpID: rpId,
    challenge: newChallenge(state, 'login'),
    userVerification: 'preferred',
    timeout: CHALLENGE_TTL_SECONDS * 1000,
  });
  return { options: options as unknown as Record<string, unknown> };
}

/**
 * Verifies an assertion by the stored credential `c` over a challenge tagged `tag`: the binding
 * first (a key or counter the host changed: AUTH_METHOD_BINDING_INVALID), then
 * verifyAuthenticationResponse (challenge, origin, RP id, signature, a counter that grew unless
 * both are 0). Returns whether the user was verified, the new counter and its binding.
 */
async function verifyAssertion(
  state: EnclaveState,
  keyring: AuthKeyring,
  response: Record<string, unknown>,
  c: MethodParams<'auth.passkey_step_up'>['credential'],
  tag: string,
): Promise<{ userVerified: boolean; counter: number; binding: string }> {
  const { rpId, origins } = webauthnRpOf(state.auth.config);
  if (
    !checkMethodBinding(
      keyring,
      'passkey',
      c.credential_id,
      c.user_id,
      c.binding,
      extraOf(c.public_key, c.counter),
    )
  )
    throw new RpcError('AUTH_METHOD_BINDING_INVALID');
  let info;
  try {
    const r = await verifyAuthenticationResponse({
      response: response as never,
      expectedChallenge: takeChallenge(state, tag),
      expectedOrigin: origins,
      expectedRPID: rpId,
      credential: {
        id: c.credential_id,
        publicKey: new Uint8Array(Buffer.from(c.public_key, 'base64url')),
        counter: c.counter,
      },
      requireUserVerification: false,
    });
    if (!r.verified) throw new Error('not verified');
    info = r.authenticationInfo;
  } catch {
    // A counter that did not grow (a cloned authenticator) lands here too.
    throw new RpcError('AUTH_PASSKEY_INVALID');
  }
  return {
    userVerified: info.userVerified,
    counter: info.newCounter,
    binding: bindMethod(
      keyring,
      'passkey',
      c.credential_id,
      c.user_id,
      extraOf(c.public_key, info.newCounter),
    ),
  };
}

export async function passkeyLoginVerify(
  state: EnclaveState,
  params: MethodParams<'auth.passkey_login_verify'>,
): Promise<MethodResult<'auth.passkey_login_verify'>> {
  const keyring = readyAuthKeyring(state);
  const c = params.credential;
  if (!c) throw new RpcError('AUTH_PASSKEY_INVALID');
  const { roles, totp_sealed, recovery_macs, ...credential } = c;
  const v = await verifyAssertion(state, keyring, params.response, credential, 'login');
  // RFC 8176: hwk (a hardware-bound key); with user verification (PIN, biometrics) it is a
  // multi-factor authenticator on its own: `user` and `mfa`. Without, an account with TOTP
  // also needs its code (the passkey is then only something the user has).
  const due = v.userVerified
    ? { amr: ['user', 'mfa'], recovery_mac: null, totp_step: null }
    : dueSecondFactor(state, keyring, c.user_id, { totp_sealed, recovery_macs }, params.second);
  const sessionId = newSessionId(state.now());
  return {
    user_id: c.user_id,
    session_id: sessionId,
    ...issue(state, keyring, c.user_id, sessionId, roles, ['hwk', ...due.amr]),
    counter: v.counter,
    binding: v.binding,
    recovery_mac: due.recovery_mac,
    totp_step: due.totp_step,
  };
}

/** Step-up by passkey, step 1: options allowing the account's own credentials. */
export async function passkeyStepUpOptions(
  state: EnclaveState,
  params: MethodParams<'auth.passkey_step_up_options'>,
): Promise<MethodResult<'auth.passkey_step_up_options'>> {
  const keyring = readyAuthKeyring(state);
  const { sub } = caller(state, keyring, params.access_token);
  const { rpId } = webauthnRpOf(state.auth.config);
  const options = await generateAuthenticationOptions({
    rpID: rpId,
    challenge: newChallenge(state, `step_up:${sub}`),
    allowCredentials: params.allow.map((id) => ({ id })),
    userVerification: 'preferred',
    timeout: CHALLENGE_TTL_SECONDS * 1000,
  });
  return { options: options as unknown as Record<string, unknown> };
}

/**
 * What a session's `amr` must hold for a passkey that did not verify the user (possession only)
 * to make a second factor: a factor other than a key (`hwk`) proven in that session. A session
 * from that key alone, or a refreshed one (no `amr`), stays single-factor.
 */
const OTHER_FACTORS = ['pwd', 'otp', 'swk', 'user'];

/**
 * Step 2: an assertion by a passkey of the token's own account over a step-up challenge made
 * for that account. The same session gets a pair with `amr` + `hwk` (and `user` when verified)
 * and a fresh `auth_time`; `mfa` when the passkey verified the user, or when the session rests
 * on another factor (the session's login and the passkey are then two factors). Every `amr`
 * this enclave issues with `mfa` also holds one of OTHER_FACTORS, so none is carried forward
 * without the rule holding.
 */
export async function passkeyStepUp(
  state: EnclaveState,
  params: MethodParams<'auth.passkey_step_up'>,
): Promise<MethodResult<'auth.passkey_step_up'>> {
  const keyring = readyAuthKeyring(state);
  const claims = caller(state, keyring, params.access_token);
  const c = params.credential;
  if (c.user_id !== claims.sub) throw new RpcError('AUTH_PASSKEY_INVALID');
  const v = await verifyAssertion(state, keyring, params.response, c, `step_up:${claims.sub}`);
  const before = claims.amr ?? [];
  const twoFactors = v.userVerified || before.some((m) => OTHER_FACTORS.includes(m));
  const amr = [
    ...new Set([
      ...before,
      'hwk',
      ...(v.userVerified ? ['user'] : []),
      ...(twoFactors ? ['mfa'] : []),
    ]),
  ];
  return {
    user_id: claims.sub,
    session_id: claims.sid,
    ...issue(state, keyring, claims.sub, claims.sid, params.roles, amr),
    counter: v.counter,
    binding: v.binding,
  };
}

export const PASSKEY_HANDLERS = {
  'auth.passkey_register_options': passkeyRegisterOptions,
  'auth.passkey_register_verify': passkeyRegisterVerify,
  'auth.passkey_login_options': passkeyLoginOptions,
  'auth.passkey_login_verify': passkeyLoginVerify,
  'auth.passkey_step_up_options': passkeyStepUpOptions,
  'auth.passkey_step_up': passkeyStepUp,
} as const;
