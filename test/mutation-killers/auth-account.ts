/** An account registered and logged in by password on an in-process enclave (auth killer files). */
import { randomUUID } from 'node:crypto';
import type { TestEnclave } from '../helpers/enclave-state.js';
import { SoftAuthenticator } from '../helpers/webauthn.js';
import { ok } from './rpc.js';

export const PASSWORD = 'correct horse battery staple';

export async function account(t: TestEnclave, roles: string[] = []) {
  const email = `${randomUUID()}@example.test`;
  const reg = await ok(t, 'auth.register', { email, secret: { password: PASSWORD } });
  const login = await ok(t, 'auth.login', {
    email,
    secret: { password: PASSWORD },
    user: { user_id: reg.user_id, password_sealed: reg.password_sealed, roles },
  });
  return {
    email,
    userId: reg.user_id,
    binding: reg.email_binding,
    passwordSealed: reg.password_sealed,
    token: login.access_token,
    sessionId: login.session_id,
    /** The whole `auth.login` answer (the refresh token with it). */
    login,
  };
}

/** The claims of a JWT, unchecked. */
export const claimsOf = (jwt: string) =>
  JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;

/** A software passkey for `rp` at `origin`, registered to account `a` (`uv: false`: unverified). */
export async function registerPasskey(
  t: TestEnclave,
  a: { token: string; email: string },
  rp: string,
  origin: string,
  opts: { uv?: boolean } = {},
) {
  const device = new SoftAuthenticator(rp, origin);
  const { options } = await ok(t, 'auth.passkey_register_options', {
    access_token: a.token,
    user_name: a.email,
    exclude: [],
  });
  const reg = await ok(t, 'auth.passkey_register_verify', {
    access_token: a.token,
    response: device.create(options, origin, opts),
  });
  return { device, reg };
}
