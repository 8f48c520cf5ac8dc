/**
 * Email one-time codes in the enclave (docs/protocol/auth.md "Email one-time codes"): the code
 * is drawn, mailed and checked here; the host sees neither the code nor the mail. Without
 * SMTP_URL, and on the simulated platform only, the rendered mail is handed to the host, which
 * writes it under DATA_DIR/mail/ for the default run (a simulated enclave has no secrets worth
 * hiding from its host). On any other platform that case is AUTH_MAIL_UNAVAILABLE.
 */
import { randomUUID } from 'node:crypto';
import { RpcError } from '../../protocol/rpc/errors.js';
import type { MethodParams, MethodResult } from '../../protocol/rpc/methods.js';
import { readyAuthKeyring } from '../auth/auth-state.js';
import { bindMethod, checkMethodBinding } from '../auth/method-binding.js';
import type { OtpPurpose } from '../auth/otp.js';
import { sealPasswordHash } from '../auth/tokens.js';
import { parseSmtpUrl, sendMail, type Mail } from '../egress/smtp.js';
import { readPemFile } from '../platform/files.js';
import { passwordKeySource, type EnclaveState } from '../state.js';
import { issue, longEnough, passwordOf, policyOf } from './auth.js';

function codeMail(from: string, to: string, code: string, purpose: OtpPurpose): Mail {
  const what = {
    login: 'sign-in code',
    reset: 'password reset code',
    confirm: 'confirmation code',
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
  readyAuthKeyring(state);
  const { otp } = state.auth;
  const code = otp.start(params.purpose, params.email, state.now());
  try {
    const mail = codeMail(state.config.MAIL_FROM, params.email, code, params.purpose);
    return { dev_mail: await deliver(state, mail) };
  } catch (err) {
    otp.drop(params.purpose, params.email);
    throw err;
  }
}

export function otpVerify(
  state: EnclaveState,
  params: MethodParams<'auth.otp_verify'>,
): MethodResult<'auth.otp_verify'> {
  const keyring = readyAuthKeyring(state);
  state.auth.otp.verify('login', params.email, params.code, state.now());
  const { user, email } = params;
  if (user && !checkMethodBinding(keyring, 'email', email, user.user_id, user.binding))
    throw new RpcError('AUTH_METHOD_BINDING_INVALID');
  const userId = user?.user_id ?? randomUUID();
  const sessionId = randomUUID();
  return {
    user_id: userId,
    session_id: sessionId,
    ...issue(state, keyring, userId, sessionId, user?.roles ?? [], ['otp']),
    binding: user ? null : bindMethod(keyring, 'email', email, userId),
  };
}

/**
 * A forgotten password: a `reset` code mailed to the account's email, then the new password,
 * hashed and sealed here for the account the enclave bound that email to.
 */
export async function passwordReset(
  state: EnclaveState,
  params: MethodParams<'auth.password_reset'>,
): Promise<MethodResult<'auth.password_reset'>> {
  const keyring = readyAuthKeyring(state);
  const policy = policyOf(state);
  const { email, user } = params;
  state.auth.otp.verify('reset', email, params.code, state.now());
  if (!checkMethodBinding(keyring, 'email', email, user.user_id, user.binding))
    throw new RpcError('AUTH_METHOD_BINDING_INVALID');
  const password = await passwordOf(state, params.secret, email, 'reset');
  if (!longEnough(password)) throw new RpcError('AUTH_PASSWORD_TOO_SHORT');
  const phc = await state.auth.hasher.hash(password);
  return { password_sealed: sealPasswordHash(passwordKeySource(state), policy, user.user_id, phc) };
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
  'auth.otp_start': otpStart,
  'auth.otp_verify': otpVerify,
  'auth.password_reset': passwordReset,
} as const;
