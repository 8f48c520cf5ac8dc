/**
 * `cloister auth ...` (docs/protocol/auth.md):
 *   auth verify <token> --jwks <url|file> [--issuer I] [--audience A] [--expect-measurement …]
 *       verify an access token against a JWKS with jose (ES256 only), its keys checked against
 *       the attested enclave's when a measurement is given; prints the claims, exit 1 when refused
 *   auth register|login --email E   the password comes from CLOISTER_PASSWORD (never argv) and is
 *       encrypted to the attested enclave key first, so the host never sees it; login prints the
 *       token pair (use it as CLOISTER_ACCESS_TOKEN for submit, status, revoke)
 *   auth confirm --email E --code C   with email confirmation on, finishes a registration with the
 *       mailed code and the registration's password (CLOISTER_PASSWORD, encrypted as at register)
 */
import { readFileSync } from 'node:fs';
import { encryptPassword, fetchJwks, verifyAccessToken } from '../client/index.js';
import { sendWithFreshEnvelope } from '../client/fresh-envelope.js';
import type { EnvelopeV1 } from '../protocol/envelope/v1.js';
import { addr, eip191Signer } from 'micro-eth-signer';
import { JwksSchema, type AuthPlaintext, type Jwks } from '../protocol/auth.js';
import { formatSiweMessage } from '../protocol/siwe.js';
import { saveLogin, usesStoredLogin } from './credentials.js';
import { requestJson } from './http.js';
import { attest, type TrustOptions } from './trust.js';

export class AuthUsageError extends Error {}

async function loadJwks(source: string): Promise<Jwks> {
  if (/^https?:\/\//.test(source)) return fetchJwks(source);
  return JwksSchema.parse(JSON.parse(readFileSync(source, 'utf8')));
}

/**
 * Verifies an access token against a JWKS. With `trust` (an accepted measurement), the service's
 * attestation is verified first and every JWKS key must be one it lists (`signing_keys.jwt`):
 * the JWKS is served by the host, which could otherwise list a key of its own and mint tokens.
 * Without it the JWKS is taken as given (one the caller trusts by other means).
 */
export async function authVerify(opts: {
  token: string | undefined;
  jwks: string | undefined;
  issuer: string;
  audience: string;
  trust?: TrustOptions;
}): Promise<Record<string, unknown>> {
  if (!opts.token || !opts.jwks)
    throw new AuthUsageError('usage: cloister auth verify <token> --jwks <url|file>');
  let attestedKids: string[] | undefined;
  if (opts.trust) {
    const { verification } = await attest(opts.trust);
    if (!verification.valid)
      throw new Error(`attestation refused:\n  ${verification.reasons.join('\n  ')}`);
    // An attested enclave without an auth keyring lists no JWT key: then none verifies.
    attestedKids = verification.signingKeys?.jwt ?? [];
  }
  const jwks = await loadJwks(opts.jwks);
  return verifyAccessToken(opts.token, jwks, {
    issuer: opts.issuer,
    audience: opts.audience,
    ...(attestedKids ? { attestedKids } : {}),
  });
}

/**
 * CLOISTER_PASSWORD encrypted to the attested enclave (nothing is sent if attestation fails) and
 * sent by `send`; a refusal by a just-restarted enclave is retried once, re-sealed
 * (ENVELOPE_BEFORE_START, client/fresh-envelope.ts).
 */
async function withPasswordEnvelope(
  action: AuthPlaintext['action'],
  email: string,
  trust: TrustOptions,
  send: (envelope: EnvelopeV1) => Promise<unknown>,
): Promise<unknown> {
  const password = process.env.CLOISTER_PASSWORD;
  if (!password) throw new AuthUsageError('set CLOISTER_PASSWORD in the environment');
  const { verification } = await attest(trust);
  if (!verification.valid)
    throw new Error(`attestation refused, nothing sent:\n  ${verification.reasons.join('\n  ')}`);
  return sendWithFreshEnvelope(
    (issuedAt) =>
      encryptPassword({ action, email, password }, verification.enclavePubkey!, {
        keyId: verification.keyId!,
        issuedAt,
      }),
    send,
  );
}

/**
 * The second factor a login carries when the account has TOTP (`--totp-code` or
 * `--recovery-code`; at most one), as the login routes name it.
 */
export function secondFactorBody(o: {
  totpCode?: string | undefined;
  recoveryCode?: string | undefined;
}): { totp_code: string } | { recovery_code: string } | Record<string, never> {
  if (o.totpCode !== undefined && o.recoveryCode !== undefined)
    throw new AuthUsageError('give --totp-code or --recovery-code, not both');
  if (o.totpCode !== undefined) return { totp_code: o.totpCode };
  if (o.recoveryCode !== undefined) return { recovery_code: o.recoveryCode };
  return {};
}

export async function authAccount(
  action: 'register' | 'login',
  opts: {
    email: string | undefined;
    url: string;
    trust: TrustOptions;
    totpCode?: string | undefined;
    recoveryCode?: string | undefined;
  },
): Promise<unknown> {
  if (!opts.email) throw new AuthUsageError(`usage: cloister auth ${action} --email E`);
  const second = action === 'login' ? secondFactorBody(opts) : {};
  const email = opts.email;
  return withPasswordEnvelope(action, email, opts.trust, (envelope) =>
    requestJson(`${opts.url}/auth/${action}`, {
      method: 'POST',
      body: { email, envelope, ...second },
    }),
  );
}

/**
 * `POST /auth/register/confirm` (docs/protocol/auth.md): the code mailed to a pending account and
 * the password it was registered with, sealed for `register` as the registration's was (the
 * enclave checks it against the pending account's, so a later registration of the address by
 * someone else is not what the owner's code confirms).
 */
export async function authConfirmRegistration(opts: {
  email: string | undefined;
  code: string | undefined;
  url: string;
  trust: TrustOptions;
}): Promise<unknown> {
  const { email, code } = opts;
  if (!email || !code) throw new AuthUsageError('usage: cloister auth confirm --email E --code C');
  return withPasswordEnvelope('register', email, opts.trust, (envelope) =>
    requestJson(`${opts.url}/auth/register/confirm`, {
      method: 'POST',
      body: { email, code, envelope },
    }),
  );
}

/** What `auth register` prints when the registration waits for its mailed code (202). */
export function registrationNextStep(res: unknown, email: string): string | undefined {
  if ((res as { accepted?: unknown } | null)?.accepted !== true) return undefined;
  return `registration accepted: a confirmation code was mailed to ${email}. Finish with
  CLOISTER_PASSWORD=… cloister auth confirm --email ${email} --code <code>
(the same password and trust options as this command)`;
}

/**
 * `cloister auth recovery start|confirm|status|cancel|complete` (docs/protocol/auth.md "Account
 * recovery"): start needs only --email; confirm also the mailed --code and the new password
 * (CLOISTER_PASSWORD, encrypted to the attested enclave), and prints the completion code of a
 * time-locked recovery; complete needs --email and that --completion-code; status and cancel
 * use the session (CLOISTER_ACCESS_TOKEN or the saved login).
 */
export async function authRecovery(
  step: string,
  opts: {
    email?: string | undefined;
    code?: string | undefined;
    completionCode?: string | undefined;
    url: string;
    trust: TrustOptions;
  },
): Promise<unknown> {
  const { url, email } = opts;
  if (step === 'status') return requestJson(`${url}/auth/recovery`, { auth: true });
  if (step === 'cancel')
    return requestJson(`${url}/auth/recovery`, { auth: true, method: 'DELETE' });
  if (email && step === 'start')
    return requestJson(`${url}/auth/recovery/start`, { method: 'POST', body: { email } });
  if (email && step === 'complete' && opts.completionCode)
    return requestJson(`${url}/auth/recovery/complete`, {
      method: 'POST',
      body: { email, completion_code: opts.completionCode },
    });
  if (email && step === 'confirm' && opts.code) {
    const code = opts.code;
    return withPasswordEnvelope('reset', email, opts.trust, (envelope) =>
      requestJson(`${url}/auth/recovery/confirm`, {
        method: 'POST',
        body: { email, code, envelope },
      }),
    );
  }
  throw new AuthUsageError(
    'usage: cloister auth recovery start --email E | confirm --email E --code C | status | cancel | complete --email E --completion-code K',
  );
}

/**
 * Linking methods and changing the password (docs/protocol/auth.md "Linked methods"), with the
 * access token; each needs step-up. The password (CLOISTER_PASSWORD) is encrypted to the attested
 * enclave for the account's email (`--email`), as at login:
 *   auth methods link-password --email E                 a password for an account without one
 *   auth methods link-email --email E [--code C]         without --code mails a link code; with
 *       it links the address
 *   auth methods link-siwe --key-file F                  an Ethereum address (signs as auth siwe)
 *   auth password change --email E                       a new password; other sessions end
 */
export async function authLink(
  step: string,
  opts: AuthMoreOptions & { trust: TrustOptions },
): Promise<unknown> {
  const { url, email } = opts;
  const post = (path: string, body: Record<string, unknown>) =>
    requestJson(`${url}${path}`, { auth: true, method: 'POST', body });
  if (email && (step === 'link-password' || step === 'change')) {
    return withPasswordEnvelope(
      step === 'change' ? 'change' : 'link',
      email,
      opts.trust,
      (envelope) =>
        step === 'change'
          ? post('/auth/password/change', { password: { envelope } })
          : post('/auth/methods/link', { password: { envelope } }),
    );
  }
  if (email && step === 'link-email')
    return opts.code
      ? post('/auth/methods/link', { email: { email, code: opts.code } })
      : post('/auth/methods/link/email/start', { email });
  if (step === 'link-siwe' && opts.keyFile) {
    const key = readFileSync(opts.keyFile, 'utf8').trim();
    const message = await siweMessage(opts, addr.fromPrivateKey(key));
    return post('/auth/methods/link', {
      siwe: { message, signature: eip191Signer.sign(message, key) },
    });
  }
  throw new AuthUsageError(
    'usage: cloister auth methods link-password --email E | link-email --email E [--code C] | link-siwe --key-file F; cloister auth password change --email E',
  );
}

/**
 * `cloister auth siwe|otp|methods` (issue 15):
 *   auth siwe --key-file F [--domain D] [--chain-id N]   signs in with Ethereum: gets a nonce,
 *       builds the EIP-4361 message, signs it with the hex private key in F (EIP-191), logs in
 *   auth siwe --print [--address A]                      prints the message for an external
 *       wallet instead; then `auth siwe --message-file M --signature S` logs in with it
 *   auth otp start --email E | auth otp verify --email E --code C   email one-time codes
 *   auth methods [list] | auth methods unlink <id>       login methods (CLOISTER_ACCESS_TOKEN)
 *   auth totp enroll|confirm|remove|step-up              TOTP second factor (CLOISTER_ACCESS_TOKEN)
 *   auth passkey [options]                               passkeys need a browser; prints options
 *   auth recovery start|confirm|status|cancel|complete   account recovery (authRecovery below)
 */
export interface AuthMoreOptions {
  url: string;
  email?: string | undefined;
  code?: string | undefined;
  keyFile?: string | undefined;
  domain?: string | undefined;
  chainId?: string | undefined;
  address?: string | undefined;
  print?: boolean | undefined;
  messageFile?: string | undefined;
  signature?: string | undefined;
  label?: string | undefined;
  recoveryCode?: string | undefined;
  /** The TOTP code a login (SIWE, email code) carries when the account has TOTP. */
  totpCode?: string | undefined;
}

async function siweMessage(o: AuthMoreOptions, address: string): Promise<string> {
  const { nonce } = (await requestJson(`${o.url}/auth/siwe/nonce`)) as { nonce: string };
  const base = new URL(o.url);
  const domain = o.domain ?? base.host;
  return formatSiweMessage({
    domain,
    address: addr.addChecksum(address),
    statement: 'Sign in to Cloister',
    uri: `${base.protocol}//${domain}`,
    chainId: Number(o.chainId ?? '1'),
    nonce,
    issuedAt: new Date().toISOString(),
  });
}

export async function authMore(sub: string, args: string[], o: AuthMoreOptions): Promise<unknown> {
  if (sub === 'siwe') {
    if (o.messageFile && o.signature) {
      const message = readFileSync(o.messageFile, 'utf8');
      return requestJson(`${o.url}/auth/siwe/login`, {
        method: 'POST',
        body: { message, signature: o.signature, ...secondFactorBody(o) },
      });
    }
    if (o.print) {
      if (!o.address) throw new AuthUsageError('usage: cloister auth siwe --print --address 0x…');
      return { message: await siweMessage(o, o.address) };
    }
    if (!o.keyFile) throw new AuthUsageError('usage: cloister auth siwe --key-file F | --print');
    const key = readFileSync(o.keyFile, 'utf8').trim();
    const message = await siweMessage(o, addr.fromPrivateKey(key));
    const signature = eip191Signer.sign(message, key);
    return requestJson(`${o.url}/auth/siwe/login`, {
      method: 'POST',
      body: { message, signature, ...secondFactorBody(o) },
    });
  }
  if (sub === 'otp') {
    if (!o.email) throw new AuthUsageError('usage: cloister auth otp start|verify --email E');
    if (args[0] === 'start')
      return requestJson(`${o.url}/auth/otp/start`, { method: 'POST', body: { email: o.email } });
    if (args[0] === 'verify' && o.code)
      return requestJson(`${o.url}/auth/otp/verify`, {
        method: 'POST',
        body: { email: o.email, code: o.code, ...secondFactorBody(o) },
      });
    throw new AuthUsageError('usage: cloister auth otp start|verify --email E [--code C]');
  }
  if (sub === 'methods') {
    if (args[0] === undefined || args[0] === 'list')
      return requestJson(`${o.url}/auth/methods`, { auth: true });
    if (args[0] === 'unlink' && args[1])
      return requestJson(`${o.url}/auth/methods/${encodeURIComponent(args[1])}`, {
        auth: true,
        method: 'DELETE',
      });
    throw new AuthUsageError('usage: cloister auth methods [list | unlink <id>]');
  }
  if (sub === 'totp') {
    if (args[0] === 'enroll')
      return requestJson(`${o.url}/auth/totp/enroll`, {
        auth: true,
        method: 'POST',
        body: o.label ? { label: o.label } : {},
      });
    if (args[0] === 'confirm' && o.code)
      return requestJson(`${o.url}/auth/totp/confirm`, {
        auth: true,
        method: 'POST',
        body: { code: o.code },
      });
    if (args[0] === 'remove')
      return requestJson(`${o.url}/auth/totp`, { auth: true, method: 'DELETE' });
    if (args[0] === 'step-up' && (o.code || o.recoveryCode)) {
      const stored = usesStoredLogin();
      const pair = (await requestJson(`${o.url}/auth/step-up`, {
        auth: true,
        method: 'POST',
        body: o.code ? { totp_code: o.code } : { recovery_code: o.recoveryCode },
      })) as { refresh_token: string };
      // The step-up ends the session's earlier refresh tokens, the stored one too: keep the new
      // pair, whose access token passes step-ups for AUTH_STEP_UP_SECONDS.
      if (stored) saveLogin(new URL(o.url).origin, pair);
      return pair;
    }
    throw new AuthUsageError(
      'usage: cloister auth totp enroll [--totp-label L] | confirm --code C | remove | step-up --code C | --recovery-code R',
    );
  }
  if (sub === 'passkey') {
    // A passkey lives in an authenticator that only a browser (WebAuthn) or a platform API can
    // drive; the CLI can show what the service asks for, not answer it.
    if (args[0] === 'options')
      return requestJson(`${o.url}/auth/passkeys/login/options`, { method: 'POST' });
    return {
      note: 'passkeys need a browser or platform authenticator (WebAuthn): register and sign in from the web app; `cloister auth passkey options` prints the login options the service issues',
    };
  }
  throw new AuthUsageError('usage: cloister auth <siwe|otp|totp|passkey|methods> [options]');
}
