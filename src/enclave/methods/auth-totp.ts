/**
 * TOTP enrolment, the second factor at login, and step-up (docs/protocol/auth.md "TOTP",
 * "Step-up"). The caller of enrolment and step-up is whoever the access token names, checked
 * here (verifyOwnClaims), never the host's say-so. The secret is drawn and sealed here; the
 * host stores the sealed blob and the recovery codes' MACs.
 */
import { bytesEqual } from '../../protocol/encoding.js';
import { RpcError } from '../../protocol/rpc/errors.js';
import type { SecondFactor } from '../../protocol/rpc/auth-methods.js';
import type { MethodParams, MethodResult } from '../../protocol/rpc/methods.js';
import type { AuthKeyring } from '../auth/auth-keyring.js';
import { readyAuthKeyring } from '../auth/auth-state.js';
import { checkMethodBinding } from '../auth/method-binding.js';
import { keyRetentionSeconds } from '../auth/config.js';
import { verifyOwnClaims } from '../auth/jwt.js';
import {
  checkTotp,
  newRecoveryCodes,
  newTotpSecret,
  openTotpSecret,
  otpauthUri,
  recoveryCodeMac,
  sealTotpSecret,
  totpStep,
} from '../auth/totp.js';
import type { EnclaveState } from '../state.js';
import { issue } from './auth.js';

/** The claims of an access token this enclave signed and that has not expired. */
export function caller(state: EnclaveState, keyring: AuthKeyring, token: string) {
  const c = state.auth.config;
  const now = state.now();
  const claims = verifyOwnClaims(
    token,
    (kid) => keyring.publishedKey(kid, now, keyRetentionSeconds(c)),
    { iss: c.AUTH_ISSUER, aud: c.AUTH_AUDIENCE, now },
  );
  if (!claims || typeof claims.sid !== 'string') throw new RpcError('AUTH_TOKEN_INVALID');
  return { ...claims, sid: claims.sid };
}

/**
 * The second factor of a login or step-up for `userId`: a TOTP code against the sealed secret,
 * or a recovery code whose MAC is one of `recoveryMacs` (the account's unspent codes as the host
 * stores them: MACs only this enclave can make, so the host cannot pass off a code of its own);
 * the host must then spend that row (else no session is stored).
 */
export function secondFactor(
  state: EnclaveState,
  keyring: AuthKeyring,
  userId: string,
  totpSealed: string | null | undefined,
  second: SecondFactor | undefined,
  recoveryMacs: readonly string[] = [],
): { recovery_mac: string | null; totp_step: number | null } {
  if (!totpSealed) throw new RpcError('AUTH_MFA_INVALID');
  if (!second) throw new RpcError('AUTH_MFA_REQUIRED');
  return limitedGuess(state, userId, () => {
    if ('recovery_code' in second) {
      const mac = Buffer.from(recoveryCodeMac(keyring, userId, second.recovery_code), 'base64url');
      const known = recoveryMacs.find((m) => bytesEqual(Buffer.from(m, 'base64url'), mac));
      if (known === undefined) throw new RpcError('AUTH_MFA_INVALID');
      return { recovery_mac: known, totp_step: null };
    }
    // The clock that never goes back: set back, it would make a used code's step current again.
    const step = checkTotp(
      keyring,
      state.auth.totpReplay,
      userId,
      totpSealed,
      second.totp_code,
      state.monotonicNow(),
    );
    return { recovery_mac: null, totp_step: step };
  });
}

/**
 * The second factor of a login by any first factor (password, SIWE, email code, passkey
 * without user verification) when the host hands over the account's confirmed TOTP
 * (`due.totp_sealed`): checked as above; the token's `amr` then adds `otp` and `mfa`.
 */
export function dueSecondFactor(
  state: EnclaveState,
  keyring: AuthKeyring,
  userId: string,
  due: { totp_sealed?: string | null | undefined; recovery_macs?: string[] | undefined } | null,
  second: SecondFactor | undefined,
): { amr: string[]; recovery_mac: string | null; totp_step: number | null } {
  if (!due?.totp_sealed) return { amr: [], recovery_mac: null, totp_step: null };
  const r = secondFactor(state, keyring, userId, due.totp_sealed, second, due.recovery_macs);
  return { amr: ['otp', 'mfa'], ...r };
}

/** Runs a second-factor check of `userId` unless it is locked out; counts it when wrong. */
function limitedGuess<T>(state: EnclaveState, userId: string, check: () => T): T {
  const guesses = state.auth.totpReplay;
  const now = state.monotonicNow();
  if (guesses.locked(userId, now)) throw new RpcError('AUTH_MFA_INVALID');
  try {
    return check();
  } catch (err) {
    if (err instanceof RpcError && err.code === 'AUTH_MFA_INVALID') guesses.failed(userId, now);
    throw err;
  }
}

export function totpEnroll(
  state: EnclaveState,
  params: MethodParams<'auth.totp_enroll'>,
): MethodResult<'auth.totp_enroll'> {
  const keyring = readyAuthKeyring(state);
  const { sub } = caller(state, keyring, params.access_token);
  const secret = newTotpSecret();
  try {
    return {
      user_id: sub,
      totp_sealed: sealTotpSecret(keyring, sub, secret),
      otpauth_uri: otpauthUri(secret, params.label),
    };
  } finally {
    secret.fill(0);
  }
}

export function totpConfirm(
  state: EnclaveState,
  params: MethodParams<'auth.totp_confirm'>,
): MethodResult<'auth.totp_confirm'> {
  const keyring = readyAuthKeyring(state);
  const { sub } = caller(state, keyring, params.access_token);
  const secret = openTotpSecret(keyring, sub, params.totp_sealed);
  const now = state.monotonicNow();
  let step: number;
  try {
    step = limitedGuess(state, sub, () => {
      const s = totpStep(secret, params.code, now);
      if (s === null || !state.auth.totpReplay.accept(sub, s, now))
        throw new RpcError('AUTH_MFA_INVALID');
      return s;
    });
  } finally {
    secret.fill(0);
  }
  const { codes, macs } = newRecoveryCodes(keyring, sub);
  return { user_id: sub, recovery_codes: codes, recovery_macs: macs, totp_step: step };
}

export function stepUp(
  state: EnclaveState,
  params: MethodParams<'auth.step_up'>,
): MethodResult<'auth.step_up'> {
  const keyring = readyAuthKeyring(state);
  const claims = caller(state, keyring, params.access_token);
  const spent = secondFactor(
    state,
    keyring,
    claims.sub,
    params.totp_sealed,
    params.second,
    params.recovery_macs,
  );
  const amr = [...new Set([...(claims.amr ?? []), 'otp', 'mfa'])];
  return {
    user_id: claims.sub,
    session_id: claims.sid,
    ...issue(state, keyring, claims.sub, claims.sid, params.roles, amr),
    ...spent,
  };
}

/** Step-up by a `step_up` email code, for the email bound to the token's own account. */
export function stepUpEmail(
  state: EnclaveState,
  params: MethodParams<'auth.step_up_email'>,
): MethodResult<'auth.step_up_email'> {
  const keyring = readyAuthKeyring(state);
  const claims = caller(state, keyring, params.access_token);
  if (!checkMethodBinding(keyring, 'email', params.email, claims.sub, params.binding))
    throw new RpcError('AUTH_METHOD_BINDING_INVALID');
  state.auth.otp.verify('step_up', params.email, params.code, state.monotonicNow());
  // A mailbox is not a second factor: the fresh token says `otp`, and never carries an earlier
  // `mfa` forward under the new auth_time (that would renew an MFA step-up by mail forever).
  const amr = [...new Set([...(claims.amr ?? []).filter((m) => m !== 'mfa'), 'otp'])];
  return {
    user_id: claims.sub,
    session_id: claims.sid,
    ...issue(state, keyring, claims.sub, claims.sid, params.roles, amr),
  };
}

export const TOTP_HANDLERS = {
  'auth.step_up_email': stepUpEmail,
  'auth.totp_enroll': totpEnroll,
  'auth.totp_confirm': totpConfirm,
  'auth.step_up': stepUp,
} as const;
