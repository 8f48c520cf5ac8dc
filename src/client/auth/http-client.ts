/**
 * The sign-in routes over HTTP (isomorphic: `fetch` only; docs/protocol/auth.md): password login
 * with a second factor, email one-time codes, Sign-In with Ethereum, TOTP enrolment, step-up,
 * passkey ceremonies (the WebAuthn browser calls stay the application's: pass the options to
 * `navigator.credentials.create/get`, or `@simplewebauthn/browser`, and the response back here)
 * and linked methods. Errors are `AuthApiError` with the stable code of docs/errors.md
 * (`AUTH_MFA_REQUIRED`: send the login again with a code; `STEP_UP_REQUIRED`: call `stepUp`).
 */
import { ApiError, callService } from '../service-call.js';

export interface AuthClientOptions {
  /** Service origin, e.g. `https://cloister.example`. */
  baseUrl: string;
  /** The access token, for the routes that need one. */
  accessToken?: string;
  fetch?: typeof fetch;
}

export interface AuthTokens {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  refresh_token: string;
  refresh_expires_in: number;
  user_id?: string;
}

/** A second factor: a code from the authenticator app or a recovery code. */
export type SecondFactorInput = { totp_code: string } | { recovery_code: string };

export class AuthApiError extends ApiError {
  override name = 'AuthApiError';
}

function call<T>(
  opts: AuthClientOptions,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  body?: Record<string, unknown>,
): Promise<T> {
  return callService<T>(
    opts,
    method,
    path,
    body,
    (status, code, details) => new AuthApiError(status, code, details),
  );
}

export function authClient(opts: AuthClientOptions) {
  return {
    /** Password login; with TOTP enrolled, pass `second` (else AUTH_MFA_REQUIRED). */
    login: (email: string, password: string, second?: SecondFactorInput) =>
      call<AuthTokens>(opts, 'POST', '/auth/login', { email, password, ...second }),
    otpStart: (email: string) =>
      call<{ accepted: true }>(opts, 'POST', '/auth/otp/start', { email }),
    /** With TOTP enrolled, pass `second` (AUTH_MFA_REQUIRED: the same code again with it). */
    otpVerify: (email: string, code: string, second?: SecondFactorInput) =>
      call<AuthTokens>(opts, 'POST', '/auth/otp/verify', { email, code, ...second }),
    siweNonce: () => call<{ nonce: string; expires_at: number }>(opts, 'GET', '/auth/siwe/nonce'),
    /** With TOTP enrolled, pass `second` with the signature (a refused try spends the nonce). */
    siweLogin: (message: string, signature: string, second?: SecondFactorInput) =>
      call<AuthTokens>(opts, 'POST', '/auth/siwe/login', { message, signature, ...second }),
    /** TOTP enrolment: the otpauth URI (the secret, shown once: render it as a QR code). */
    totpEnroll: (label?: string) =>
      call<{ otpauth_uri: string }>(opts, 'POST', '/auth/totp/enroll', label ? { label } : {}),
    /** Confirm with a code: the 10 recovery codes, shown once. */
    totpConfirm: (code: string) =>
      call<{ recovery_codes: string[] }>(opts, 'POST', '/auth/totp/confirm', { code }),
    totpRemove: () => call<{ success: true }>(opts, 'DELETE', '/auth/totp'),
    /** Account recovery: mails a recovery code to an address linked to an account (always 202). */
    recoveryStart: (email: string) =>
      call<{ accepted: true }>(opts, 'POST', '/auth/recovery/start', { email }),
    /**
     * The mailed code and the new password (or its envelope): `reset` at once, or `pending`
     * until `unlock_at` when the account has a second factor, with the `completion_code` that
     * recoveryComplete needs (keep it: the service does not store it).
     */
    recoveryConfirm: (
      email: string,
      code: string,
      secret: { password: string } | { envelope: unknown },
    ) =>
      call<{ status: 'reset' | 'pending'; unlock_at?: string; completion_code?: string }>(
        opts,
        'POST',
        '/auth/recovery/confirm',
        { email, code, ...secret },
      ),
    /** The account's pending recovery, seen from a logged-in session. */
    recoveryStatus: () =>
      call<{ pending: { unlock_at: string; can_complete: boolean } | null }>(
        opts,
        'GET',
        '/auth/recovery',
      ),
    /** Cancel the account's pending recovery (any session, no step-up). */
    recoveryCancel: () => call<{ success: true }>(opts, 'DELETE', '/auth/recovery'),
    /**
     * After unlock_at, with the completion code recoveryConfirm returned: the new password
     * takes effect, TOTP and passkeys are removed, every session ends.
     */
    recoveryComplete: (email: string, completionCode: string) =>
      call<{ success: true }>(opts, 'POST', '/auth/recovery/complete', {
        email,
        completion_code: completionCode,
      }),
    /** Step-up by email (account without TOTP): mails a code; then stepUpEmail(code). */
    stepUpEmailStart: () => call<{ accepted: true }>(opts, 'POST', '/auth/step-up/email/start'),
    stepUpEmail: (code: string) =>
      call<AuthTokens>(opts, 'POST', '/auth/step-up', { email_code: code }),
    /** A fresh pair for this session with the second factor in `amr` (after STEP_UP_REQUIRED). */
    stepUp: (second: SecondFactorInput) =>
      call<AuthTokens>(opts, 'POST', '/auth/step-up', { ...second }),
    passkeyRegisterOptions: (userName?: string) =>
      call<{ options: Record<string, unknown> }>(
        opts,
        'POST',
        '/auth/passkeys/register/options',
        userName ? { user_name: userName } : {},
      ),
    passkeyRegisterVerify: (response: Record<string, unknown>) =>
      call<{ id: string }>(opts, 'POST', '/auth/passkeys/register/verify', { response }),
    passkeyLoginOptions: () =>
      call<{ options: Record<string, unknown> }>(opts, 'POST', '/auth/passkeys/login/options'),
    /** `second`: with TOTP enrolled, for an authenticator that does not verify the user. */
    passkeyLoginVerify: (response: Record<string, unknown>, second?: SecondFactorInput) =>
      call<AuthTokens>(opts, 'POST', '/auth/passkeys/login/verify', { response, ...second }),
    /** Step-up by passkey: request options for this account's passkeys (then `get()`). */
    passkeyStepUpOptions: () =>
      call<{ options: Record<string, unknown> }>(opts, 'POST', '/auth/step-up/passkey/options'),
    /**
     * The assertion for those options: a fresh pair for this session, amr hwk (+ mfa when the
     * authenticator verified the user or the session has another factor).
     */
    passkeyStepUp: (response: Record<string, unknown>) =>
      call<AuthTokens>(opts, 'POST', '/auth/step-up', { passkey: response }),
    /** Link a password (account without one; step-up): typed, or `{envelope}` (action `link`). */
    linkPassword: (password: string | { envelope: unknown }) =>
      call<{ id: 'password' }>(opts, 'POST', '/auth/methods/link', { password }),
    /** Link an email, step 1 (step-up): the enclave mails a code bound to this account. */
    linkEmailStart: (email: string) =>
      call<{ accepted: true }>(opts, 'POST', '/auth/methods/link/email/start', { email }),
    /** Step 2: the mailed code links the address (409 AUTH_METHOD_TAKEN if an account has it). */
    linkEmail: (email: string, code: string) =>
      call<{ id: string }>(opts, 'POST', '/auth/methods/link', { email: { email, code } }),
    /** Link an Ethereum address: a SIWE message it signed (nonce from siweNonce). */
    linkSiwe: (message: string, signature: string) =>
      call<{ id: string }>(opts, 'POST', '/auth/methods/link', { siwe: { message, signature } }),
    /** Change the password (step-up): every other session ends. */
    changePassword: (password: string | { envelope: unknown }) =>
      call<{ success: true; revoked: number }>(opts, 'POST', '/auth/password/change', {
        password,
      }),
    methods: () =>
      call<{ methods: { id: string; kind: string; identifier: string | null }[]; totp: boolean }>(
        opts,
        'GET',
        '/auth/methods',
      ),
    unlinkMethod: (id: string) =>
      call<{ success: true }>(opts, 'DELETE', `/auth/methods/${encodeURIComponent(id)}`),
  };
}
export type AuthClient = ReturnType<typeof authClient>;
