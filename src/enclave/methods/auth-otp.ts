/**
 * Email one-time codes in the enclave (docs/protocol/auth.md "Email one-time codes"): the code
 * is drawn, mailed and checked here; the host sees neither the code nor the mail. Without
 * SMTP_URL, and on the simulated platform only, the rendered mail is handed to the host, which
 * writes it under DATA_DIR/mail/ for the default run (a simulated enclave has no secrets worth
 * hiding from its host). On any other platform that case is AUTH_MAIL_UNAVAILABLE.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { bytesEqual } from '../../protocol/encoding.js';
import { RpcError } from '../../protocol/rpc/errors.js';
import type { MethodParams, MethodResult } from '../../protocol/rpc/methods.js';
import { readyAuthKeyring } from '../auth/auth-state.js';
import { bindMethod, checkMethodBinding, derivedKey } from '../auth/method-binding.js';
import type { OtpPurpose } from '../auth/otp.js';
import { sealPasswordHash } from '../auth/tokens.js';
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
  const code = otp.start(params.purpose, params.email, state.now(), account);
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
  const now = state.now();
  // With TOTP due, a right code stays pending until the second factor passes too: a client told
  // AUTH_MFA_REQUIRED sends the same mailed code again with its TOTP code.
  const mfaDue = Boolean(user?.totp_sealed);
  otp.verify('login', email, params.code, now, { keep: mfaDue });
  if (user && !checkMethodBinding(keyring, 'email', email, user.user_id, user.binding))
    throw new RpcError('AUTH_METHOD_BINDING_INVALID');
  const userId = user?.user_id ?? randomUUID();
  const due = dueSecondFactor(state, keyring, userId, user, params.second);
  if (mfaDue) otp.verify('login', email, params.code, now);
  const sessionId = randomUUID();
  return {
    user_id: userId,
    session_id: sessionId,
    ...issue(state, keyring, userId, sessionId, user?.roles ?? [], ['otp', ...due.amr]),
    binding: user ? null : bindMethod(keyring, 'email', email, userId),
    recovery_mac: due.recovery_mac,
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
  state.auth.otp.verify('link', params.email, params.code, state.now(), { account: sub });
  return {
    user_id: sub,
    email: params.email,
    binding: bindMethod(keyring, 'email', params.email, sub),
  };
}

/**
 * A mailed code (`purpose`) and a new password: the code, the binding of the account's email
 * and the minimum length are checked; the password is hashed and sealed to the account.
 */
async function sealedNewPassword(
  state: EnclaveState,
  params: MethodParams<'auth.password_reset'>,
  purpose: 'reset' | 'recovery',
): Promise<string> {
  const keyring = readyAuthKeyring(state);
  const policy = policyOf(state);
  const { email, user } = params;
  state.auth.otp.verify(purpose, email, params.code, state.now());
  if (!checkMethodBinding(keyring, 'email', email, user.user_id, user.binding))
    throw new RpcError('AUTH_METHOD_BINDING_INVALID');
  const password = await passwordOf(state, params.secret, email, 'reset');
  if (!longEnough(password)) throw new RpcError('AUTH_PASSWORD_TOO_SHORT');
  const phc = await state.auth.hasher.hash(password);
  return sealPasswordHash(passwordKeySource(state), policy, user.user_id, phc);
}

/** A forgotten password: a `reset` code mailed to the account's email, then the new password. */
export async function passwordReset(
  state: EnclaveState,
  params: MethodParams<'auth.password_reset'>,
): Promise<MethodResult<'auth.password_reset'>> {
  return { password_sealed: await sealedNewPassword(state, params, 'reset') };
}

/** The enclave's MAC over a pending recovery: binds the account, the unlock time and the password. */
function recoveryMac(
  keyring: Parameters<typeof derivedKey>[0],
  userId: string,
  recoveryId: string,
  unlockAt: number,
  sealed: string,
): string {
  return createHmac('sha256', derivedKey(keyring, 'cloister/auth/account-recovery/v1'))
    .update(`${userId}\n${recoveryId}\n${unlockAt}\n${sealed}`)
    .digest('base64url');
}

/**
 * Account recovery: a `recovery` code and a new password. With a second factor on the account
 * the enclave fixes the unlock time and MACs it with the sealed password (auth.recovery_complete
 * checks both), so the host cannot shorten the time-lock.
 */
export async function recoveryConfirm(
  state: EnclaveState,
  params: MethodParams<'auth.recovery_confirm'>,
): Promise<MethodResult<'auth.recovery_confirm'>> {
  const { second_factor: secondFactor, ...rest } = params;
  const sealed = await sealedNewPassword(state, rest, 'recovery');
  const keyring = readyAuthKeyring(state);
  const { user } = params;
  const recoveryId = randomUUID();
  if (!secondFactor)
    return { password_sealed: sealed, recovery_id: recoveryId, unlock_at: null, mac: null };
  const unlockAt = state.now() + state.auth.config.AUTH_RECOVERY_DELAY_SECONDS;
  return {
    password_sealed: sealed,
    recovery_id: recoveryId,
    unlock_at: unlockAt,
    mac: recoveryMac(keyring, user.user_id, recoveryId, unlockAt, sealed),
  };
}

/** The end of a time-locked recovery: AUTH_RECOVERY_INVALID if altered, _LOCKED if early. */
export function recoveryComplete(
  state: EnclaveState,
  params: MethodParams<'auth.recovery_complete'>,
): MethodResult<'auth.recovery_complete'> {
  const keyring = readyAuthKeyring(state);
  const want = Buffer.from(
    recoveryMac(
      keyring,
      params.user_id,
      params.recovery_id,
      params.unlock_at,
      params.password_sealed,
    ),
    'base64url',
  );
  if (!bytesEqual(want, Buffer.from(params.mac, 'base64url')))
    throw new RpcError('AUTH_RECOVERY_INVALID');
  if (state.now() < params.unlock_at) throw new RpcError('AUTH_RECOVERY_LOCKED');
  return { unlocked: true };
}

/** Registration confirmation: the `confirm` code mailed to the pending account's email. */
export function confirmEmail(
  state: EnclaveState,
  params: MethodParams<'auth.confirm_email'>,
): MethodResult<'auth.confirm_email'> {
  const keyring = readyAuthKeyring(state);
  const { email, user } = params;
  state.auth.otp.verify('confirm', email, params.code, state.now());
  if (!checkMethodBinding(keyring, 'email', email, user.user_id, user.binding))
    throw new RpcError('AUTH_METHOD_BINDING_INVALID');
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
