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
import { parseSmtpUrl, sendMail, type Mail } from '../egress/smtp.js';
import { readPemFile } from '../platform/files.js';
import type { EnclaveState } from '../state.js';
import { issue, policyOf } from './auth.js';

function codeMail(from: string, to: string, code: string): Mail {
  return {
    from,
    to,
    subject: 'Your Cloister sign-in code',
    text:
      `Your Cloister sign-in code is ${code}\n\n` +
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
  const code = otp.start(params.email, state.now());
  try {
    const dev = await deliver(state, codeMail(state.config.MAIL_FROM, params.email, code));
    return { dev_mail: dev };
  } catch (err) {
    otp.drop(params.email);
    throw err;
  }
}

export function otpVerify(
  state: EnclaveState,
  params: MethodParams<'auth.otp_verify'>,
): MethodResult<'auth.otp_verify'> {
  const keyring = readyAuthKeyring(state);
  const policy = policyOf(state);
  state.auth.otp.verify(params.email, params.code, state.now());
  const { user, email } = params;
  if (
    user &&
    !checkMethodBinding(state.platform, policy, 'email', email, user.user_id, user.binding)
  )
    throw new RpcError('AUTH_METHOD_BINDING_INVALID');
  const userId = user?.user_id ?? randomUUID();
  const sessionId = randomUUID();
  return {
    user_id: userId,
    session_id: sessionId,
    ...issue(state, keyring, userId, sessionId, user?.roles ?? []),
    binding: user ? null : bindMethod(state.platform, policy, 'email', email, userId),
  };
}

export const OTP_HANDLERS = {
  'auth.otp_start': otpStart,
  'auth.otp_verify': otpVerify,
} as const;
