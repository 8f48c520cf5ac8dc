/**
 * Email one-time codes in the enclave (docs/protocol/auth.md "Email one-time codes"): the code
 * is drawn, mailed and checked here; the host sees neither the code nor the mail. Without
 * SMTP_URL, and on the simulated platform only, the rendered mail is handed to the host, which
 * writes it under DATA_DIR/mail/ for the default run (a simulated enclave has no secrets worth
 * hiding from its host). On any other platform that case is AUTH_MAIL_UNAVAILABLE.
 */
import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';
import { bytesEqual } from '../../protocol/encoding.js';
import { RpcError } from '../../protocol/rpc/errors.js';
import type { MethodParams, MethodResult } from '../../protocol/rpc/methods.js';
import { readyAuthKeyring } from '../auth/auth-state.js';
import { newSessionId } from '../auth/session-id.js';
import { bindMethod, checkMethodBinding, derivedKey } from '../auth/method-binding.js';
import type { OtpPurpose } from '../auth/otp.js';
import { sealPasswordHash, unsealPasswordHash } from '../auth/tokens.js';
import { parseSmtpUrl, sendMail, type Mail } from '../egress/smtp.js';
import { readPemFile } from '../platform/files.js';
import { passwordKeySource, type EnclaveState } from '../state.js';
import { issue, longEnough, passwordOf, policyOf } from './auth.js';
import { caller, dueSecondFactor } from './auth-totp.js';

function codeMail(from: string, to: string, code: string, purpose: OtpPurpose): Mail {
  const what = {
    login: 'sign-in code',
    reset: 'password reset code',
    confirm: 'confirmation code',
    recovery: 'account recovery code',
    step_up: 'confirmation code for a sensitive operation',
    link: 'code to link this address to your account',
  }[purpose];
  return {
    from,
    to,
    subject: `Your Cloister ${what}`,
    text:
      `Your Cloister ${what} is ${code}\n\n` +
      'It works once, for 10 minutes. If you did not ask for it, ignore this mail.\n',
  };
}

async function deliver(state: EnclaveState, mail: Mail): Promise<Mail | null> {
  const { config } = state;
  const simulated = state.platform.name === 'simulated';
  if (config.SMTP_URL === undefined) {
    if (simulated) return mail;
    throw new RpcError('AUTH_MAIL_UNAVAILABLE');
  }
  try {
    await sendMail(parseSmtpUrl(config.SMTP_URL), mail, {
      ...(config.EGRESS_MODE === 'tunnel' && config.EGRESS_PROXY_SOCKET !== undefined
        ? { proxy: { socketPath: config.EGRESS_PROXY_SOCKET } }
        : {}),
      ...(config.EGRESS_CA_FILE !== undefined ? { caPem: readPemFile(config.EGRESS_CA_FILE) } : {}),
      allowPlainLocal: simulated,
    });
  } catch {
    throw new RpcError('AUTH_MAIL_UNAVAILABLE');
  }
  return null;
}

export async function otpStart(
  state: EnclaveState,
  params: MethodParams<'auth.otp_start'>,
): Promise<MethodResult<'auth.otp_start'>> {
  const keyring = readyAuthKeyring(state);
  const { otp } = state.auth;
  // A `link` code is bound to the account of the token that asked (checked here): it links the
  // address to that account only. No other purpose takes a token.
  if ((params.purpose === 'link') !== (params.access_token !== undefined))
    throw new RpcError('AUTH_TOKEN_INVALID');
  const account =
    params.access_token === undefined ? undefined : caller(state, keyring, params.access_token).sub;
  // Codes expire, and sends are counted, on the clock that never goes back: set back, it would
  // make an expired code valid again.
  const code = otp.start(params.purpose, params.email, state.monotonicNow(), account);
  try {
    const mail = codeMail(state.config.MAIL_FROM, params.email, code, params.purpose);
    return { dev_mail: await deliver(state, mail) };
  } catch (err) {
    otp.drop(params.purpose, params.email, account);
    throw err;
  }
}

export function otpVerify(
  state: EnclaveState,
  params: MethodParams<'auth.otp_verify'>,
): MethodResult<'auth.otp_verify'> {
  const keyring = readyAuthKeyring(state);
  const { user, email } = params;
  const { otp } = state.auth;
  const now = state.monotonicNow();
  // With TOTP due, a right code stays pending until the second factor passes too: a client told
  // AUTH_MFA_REQUIRED sends the same mailed code again with its TOTP code.
  const mfaDue = Boolean(user?.totp_sealed);
  otp.verify('login', email, params.code, now, { keep: mfaDue });
  if (user && !checkMethodBinding(keyring, 'email', email, user.user_id, user.binding))
    throw new RpcError('AUTH_METHOD_BINDING_INVALID');
  const userId = user?.user_id ?? randomUUID();
  const due = dueSecondFactor(state, keyring, userId, user, params.second);
  if (mfaDue) otp.verify('login', email, params.code, now);
  const sessionId = newSessionId(state.now());
  return {
    user_id: userId,
    session_id: sessionId,
    ...issue(state, keyring, userId, sessionId, user?.roles ?? [], ['otp', ...due.amr]),
    binding: user ? null : bindMethod(keyring, 'email', email, userId),
    recovery_mac: due.recovery_mac,
    totp_step: due.totp_step,
  };
}

/**
 * Link an email to the caller's account: the `link` code mailed for that account (the token,
 * checked here, names it) and this address. Returns the binding the host stores.
 */
export function emailLink(
  state: EnclaveState,
  params: MethodParams<'auth.email_link'>,
): MethodResult<'auth.email_link'> {
  const keyring = readyAuthKeyring(state);
  const { sub } = caller(state, keyring, params.access_token);
  state.auth.otp.verify('link', params.email, params.code, state.monotonicNow(), {
    account: sub,
  });
  return {
    user_id: sub,
    email: params.email,
    binding: bindMethod(keyring, 'email', params.email, sub),
  };
}

/**
 * A mailed code (`purpose`) and a new password: the code, the binding of the account's email
 * and the minimum length are checked; the password is hashed and sealed to the account (for
 * the pending recovery `pendingRecovery` only, when given: see sealPasswordHash).
 */
async function sealedNewPassword(
  state: EnclaveState,
  params: MethodParams<'auth.password_reset'>,
  purpose: 'reset' | 'recovery',
  pendingRecovery?: string,
): Promise<string> {
  const keyring = readyAuthKeyring(state);
  const policy = policyOf(state);
  const { email, user } = params;
  state.auth.otp.verify(purpose, email, params.code, state.monotonicNow());
  if (!checkMethodBinding(keyring, 'email', email, user.user_id, user.binding))
    throw new RpcError('AUTH_METHOD_BINDING_INVALID');
  const password = await passwordOf(state, params.secret, email, 'reset');
  if (!longEnough(password)) throw new RpcError('AUTH_PASSWORD_TOO_SHORT');
  const phc = await state.auth.hasher.hash(password);
  return sealPasswordHash(passwordKeySource(state), policy, user.user_id, phc, pendingRecovery);
}

/** A forgotten password: a `reset` code mailed to the account's email, then the new password. */
export async function passwordReset(
  state: EnclaveState,
  params: MethodParams<'auth.password_reset'>,
): Promise<MethodResult<'auth.password_reset'>> {
  return { password_sealed: await sealedNewPassword(state, params, 'reset') };
}

/** How long a time-locked recovery can be completed once its wait is over. */
export const RECOVERY_COMPLETE_WINDOW_SECONDS = 7 * 86400;

interface PendingRecovery {
  userId: string;
  recoveryId: string;
  unlockAt: number;
  expiresAt: number;
  /** The new password, sealed for this recovery only. */
  sealed: string;
  /** The account's sealed password when the recovery was confirmed (null: none). */
  passwordState: string | null;
  completionCode: string;
}

/**
 * The enclave's MAC over a pending recovery: the account, the times, the pending password, the
 * account's password then (by its SHA-256) and the code holder's completion code (which is not
 * stored: whoever completes must show it).
 */
function recoveryMac(keyring: Parameters<typeof derivedKey>[0], p: PendingRecovery): Buffer {
  const state =
    p.passwordState === null
      ? 'none'
      : createHash('sha256').update(p.passwordState, 'ascii').digest('hex');
  return createHmac('sha256', derivedKey(keyring, 'cloister/auth/account-recovery/v2'))
    .update(
      [p.userId, p.recoveryId, p.unlockAt, p.expiresAt, p.sealed, state, p.completionCode].join(
        '\n',
      ),
    )
    .digest();
}

/**
 * Account recovery: a `recovery` code and a new password. With a second factor on the account
 * the enclave fixes the unlock time and the deadline, seals the password for this recovery
 * only and MACs it all with the account's current password and a completion code it hands the
 * code holder (auth.recovery_complete checks them), so the host cannot shorten the time-lock,
 * use the pending password, or replay a recovery once the password changed.
 */
export async function recoveryConfirm(
  state: EnclaveState,
  params: MethodParams<'auth.recovery_confirm'>,
): Promise<MethodResult<'auth.recovery_confirm'>> {
  const { second_factor: secondFactor, password_state: passwordState, ...rest } = params;
  const recoveryId = randomUUID();
  const immediate = {
    recovery_id: recoveryId,
    unlock_at: null,
    expires_at: null,
    mac: null,
    completion_code: null,
  };
  if (!secondFactor)
    return { password_sealed: await sealedNewPassword(state, rest, 'recovery'), ...immediate };
  const sealed = await sealedNewPassword(state, rest, 'recovery', recoveryId);
  const keyring = readyAuthKeyring(state);
  // Never earlier than a time this enclave gave: a recovery "started a delay ago" would unlock
  // at once (as the wallet's, methods/wallet.ts).
  const unlockAt = state.monotonicNow() + state.auth.config.AUTH_RECOVERY_DELAY_SECONDS;
  const pending: PendingRecovery = {
    userId: params.user.user_id,
    recoveryId,
    unlockAt,
    expiresAt: unlockAt + RECOVERY_COMPLETE_WINDOW_SECONDS,
    sealed,
    passwordState,
    completionCode: randomBytes(16).toString('base64url'),
  };
  return {
    password_sealed: sealed,
    recovery_id: recoveryId,
    unlock_at: unlockAt,
    expires_at: pending.expiresAt,
    mac: recoveryMac(keyring, pending).toString('base64url'),
    completion_code: pending.completionCode,
  };
}

/**
 * The end of a time-locked recovery: AUTH_RECOVERY_INVALID if the row was altered, the
 * completion code is wrong, the account's password changed since, or the deadline passed;
 * AUTH_RECOVERY_LOCKED if early (told only to whoever shows the right code). Returns the new
 * password sealed as the account's.
 */
export function recoveryComplete(
  state: EnclaveState,
  params: MethodParams<'auth.recovery_complete'>,
): MethodResult<'auth.recovery_complete'> {
  const keyring = readyAuthKeyring(state);
  const want = recoveryMac(keyring, {
    userId: params.user_id,
    recoveryId: params.recovery_id,
    unlockAt: params.unlock_at,
    expiresAt: params.expires_at,
    sealed: params.password_sealed,
    passwordState: params.password_state,
    completionCode: params.completion_code,
  });
  const now = state.monotonicNow();
  if (!bytesEqual(want, Buffer.from(params.mac, 'base64url')) || now >= params.expires_at)
    throw new RpcError('AUTH_RECOVERY_INVALID');
  if (now < params.unlock_at) throw new RpcError('AUTH_RECOVERY_LOCKED');
  const source = passwordKeySource(state);
  const policy = policyOf(state);
  const phc = unsealPasswordHash(
    source,
    policy,
    params.user_id,
    params.password_sealed,
    params.recovery_id,
  );
  if (phc === null) throw new RpcError('AUTH_RECOVERY_INVALID');
  return { password_sealed: sealPasswordHash(source, policy, params.user_id, phc) };
}

/**
 * Registration confirmation: the `confirm` code mailed to the pending account's email, and the
 * password it was registered with. A registration replaces an unconfirmed one and mails the same
 * mailbox, so the code alone confirmed whichever registration came last: someone who registered
 * the owner's address right after the owner had the owner confirm their password.
 */
export async function confirmEmail(
  state: EnclaveState,
  params: MethodParams<'auth.confirm_email'>,
): Promise<MethodResult<'auth.confirm_email'>> {
  const keyring = readyAuthKeyring(state);
  const { email, user } = params;
  const password = await passwordOf(state, params.secret, email, 'register');
  const phc = unsealPasswordHash(
    passwordKeySource(state),
    policyOf(state),
    user.user_id,
    user.password_sealed,
  );
  // One Argon2id verify on every path (a taken address's call names no account).
  const ok = phc
    ? await state.auth.hasher.verify(phc, password)
    : await state.auth.hasher.verifyDummy(password);
  state.auth.otp.verify('confirm', email, params.code, state.monotonicNow());
  if (!checkMethodBinding(keyring, 'email', email, user.user_id, user.binding))
    throw new RpcError('AUTH_METHOD_BINDING_INVALID');
  // After the code: only the mailbox's holder learns that the password is not this one's.
  if (!ok || !phc) throw new RpcError('AUTH_INVALID_CREDENTIALS');
  return { confirmed: true };
}

export const OTP_HANDLERS = {
  'auth.confirm_email': confirmEmail,
  'auth.email_link': emailLink,
  'auth.otp_start': otpStart,
  'auth.otp_verify': otpVerify,
  'auth.password_reset': passwordReset,
  'auth.recovery_complete': recoveryComplete,
  'auth.recovery_confirm': recoveryConfirm,
} as const;
