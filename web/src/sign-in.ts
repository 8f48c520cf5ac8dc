/**
 * The sign-in ceremonies the sign-in page and the step-up dialog share: password (encrypted to
 * the verified enclave key, as the CLI does), passkey (WebAuthn through @simplewebauthn/browser;
 * the enclave verifies the assertion), email code and SIWE. Each ends in `signedIn`, which
 * keeps the tokens for this tab.
 */
import {
  startAuthentication,
  startRegistration,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
} from '@simplewebauthn/browser';
import { authClient, encryptPassword, sendWithFreshEnvelope } from '../../src/client/index.js';
import { account, adoptStepUp, api, endSession, withSession } from './api.js';
import { rolesOf, subOf } from './jwt.js';
import { requireTrusted } from './trust.js';

interface TokenPair {
  user_id?: string;
  access_token: string;
  refresh_token: string;
}

/** Why a step-up's answer was not kept: it signs in to another account than the tab's. */
export const OTHER_ACCOUNT =
  "That sign-in is of another account than this tab's: it was not kept, and the operation was not done.";

/**
 * A step-up's pair: the same session, passed on to this session's other tabs (api.ts). A pair of
 * another account (a host that answers with a session of its own) is refused, never kept: the
 * tab would go on as that account under this one's email, and seal what follows to it.
 */
export async function steppedUp(t: TokenPair): Promise<void> {
  if (!adoptStepUp(t.access_token, t.refresh_token)) await refuseOtherAccount(t);
}

/** Ends the session of a pair that is not this tab's account (best effort), and says so. */
async function refuseOtherAccount(t: TokenPair): Promise<never> {
  await endSession(t.access_token);
  throw new Error(OTHER_ACCOUNT);
}

/**
 * Keeps the pair; `email` when the method knows it, else the account's linked email (if any).
 * `sameAs`: a sign-in again (the step-up dialog) must be of this user id, or nothing is kept.
 */
export async function signedIn(t: TokenPair, email?: string, sameAs?: string): Promise<void> {
  if (sameAs !== undefined && (t.user_id ?? subOf(t.access_token)) !== sameAs)
    await refuseOtherAccount(t);
  account.set({
    userId: t.user_id ?? subOf(t.access_token),
    email: email ?? '',
    accessToken: t.access_token,
    refreshToken: t.refresh_token,
    roles: rolesOf(t.access_token),
  });
  if (email) return;
  const m = await api<{ methods: { kind: string; identifier: string | null }[] }>(
    '/auth/methods',
  ).catch(() => ({ methods: [] }));
  const linked = m.methods.find((x) => x.kind === 'email')?.identifier;
  const a = account.get();
  if (a) account.set({ ...a, email: linked ?? 'signed in' });
}

/** A typed second-factor code as the API names it: six digits from the app, else a recovery code. */
export function secondFactor(code: string): { totp_code: string } | { recovery_code: string } {
  const c = code.trim();
  return /^\d{6}$/.test(c) ? { totp_code: c } : { recovery_code: c };
}

/** The SDK's auth routes (src/client/auth/http-client.ts) on this origin, with `accessToken`. */
export function sdk(accessToken?: string) {
  return authClient({ baseUrl: location.origin, ...(accessToken ? { accessToken } : {}) });
}

/**
 * A password as an envelope sealed to the verified enclave key for `action` and `email`, given to
 * `send`; a refusal by a just-restarted enclave (ENVELOPE_BEFORE_START) is retried once with a
 * fresh seal (the SDK's sendWithFreshEnvelope).
 */
export async function withPasswordEnvelope<T>(
  action: 'register' | 'login' | 'reset' | 'link' | 'change',
  email: string,
  password: string,
  send: (secret: { envelope: ReturnType<typeof encryptPassword> }) => Promise<T>,
): Promise<T> {
  const v = await requireTrusted();
  return sendWithFreshEnvelope(
    (issuedAt) => ({
      envelope: encryptPassword({ action, email, password }, v.enclavePubkey!, {
        keyId: v.keyId!,
        issuedAt,
      }),
    }),
    send,
  );
}

export async function passwordAction(
  action: 'register' | 'login',
  email: string,
  password: string,
  code?: string,
): Promise<unknown> {
  return withPasswordEnvelope(action, email, password, ({ envelope }) =>
    api<unknown>(`/auth/${action}`, {
      method: 'POST',
      body: { email, envelope, ...(code?.trim() ? secondFactor(code) : {}) },
      auth: false,
    }),
  );
}

/** A registration the service keeps pending until the mailed code confirms it (202). */
export function awaitsConfirmation(answer: unknown): boolean {
  return (answer as { accepted?: unknown } | null)?.accepted === true;
}

/**
 * `POST /auth/register/confirm`: the mailed code and the registration's password, sealed for
 * `register` as the registration was (the enclave checks it against the pending account's).
 */
export async function confirmRegistration(
  email: string,
  password: string,
  code: string,
): Promise<void> {
  await withPasswordEnvelope('register', email, password, ({ envelope }) =>
    api<unknown>('/auth/register/confirm', {
      method: 'POST',
      body: { email, code: code.trim(), envelope },
      auth: false,
    }),
  );
}

/**
 * `code`: the authenticator or recovery code of an account with TOTP (AUTH_MFA_REQUIRED without).
 * `sameAs`: the user id the sign-in must be of (signedIn).
 */
export async function passwordLogin(
  email: string,
  password: string,
  code?: string,
  sameAs?: string,
): Promise<void> {
  const t = (await passwordAction('login', email, password, code)) as TokenPair;
  await signedIn(t, email, sameAs);
}

/**
 * Sign in with a discoverable passkey of this site. `second`: the authenticator or recovery code
 * an account with TOTP needs when the authenticator did not verify the user.
 */
export async function passkeyLogin(second?: string, sameAs?: string): Promise<void> {
  const { options } = await api<{ options: PublicKeyCredentialRequestOptionsJSON }>(
    '/auth/passkeys/login/options',
    { method: 'POST', auth: false },
  );
  const response = await startAuthentication({ optionsJSON: options });
  const t = await api<TokenPair>('/auth/passkeys/login/verify', {
    method: 'POST',
    body: { response, ...(second?.trim() ? secondFactor(second) : {}) },
    auth: false,
  });
  await signedIn(t, undefined, sameAs);
}

/**
 * Step-up with a passkey of this account (`POST /auth/step-up/passkey/options`, the assertion to
 * `POST /auth/step-up {passkey}`): a new pair for the same session.
 */
export async function passkeyStepUp(): Promise<void> {
  const t = await withSession(async (token) => {
    const { options } = await sdk(token).passkeyStepUpOptions();
    const response = await startAuthentication({
      optionsJSON: options as unknown as PublicKeyCredentialRequestOptionsJSON,
    });
    return sdk(token).passkeyStepUp(response as unknown as Record<string, unknown>);
  });
  await steppedUp(t);
}

/** Step-up with a code mailed to the account's address: `start` mails it, then the code. */
export async function emailStepUpStart(): Promise<void> {
  await withSession((token) => sdk(token).stepUpEmailStart());
}
export async function emailStepUp(code: string): Promise<void> {
  const t = await withSession((token) => sdk(token).stepUpEmail(code.trim()));
  await steppedUp(t);
}

/** Adds a passkey to the signed-in account (the service may ask for a step-up first). */
export async function passkeyRegister(userName?: string): Promise<string> {
  const { options } = await api<{ options: PublicKeyCredentialCreationOptionsJSON }>(
    '/auth/passkeys/register/options',
    { method: 'POST', body: userName ? { user_name: userName } : {} },
  );
  const response = await startRegistration({ optionsJSON: options });
  const r = await api<{ id: string }>('/auth/passkeys/register/verify', {
    method: 'POST',
    body: { response },
  });
  return r.id;
}

export async function otpStart(email: string): Promise<void> {
  await api('/auth/otp/start', { method: 'POST', body: { email }, auth: false });
}

/** `second`: the authenticator or recovery code of an account with TOTP. */
export async function otpVerify(email: string, code: string, second?: string): Promise<void> {
  const t = await api<TokenPair>('/auth/otp/verify', {
    method: 'POST',
    body: { email, code, ...(second?.trim() ? secondFactor(second) : {}) },
    auth: false,
  });
  await signedIn(t, email);
}
