/**
 * `cloister auth ...` (docs/protocol/auth.md):
 *   auth verify <token> --jwks <url|file> [--issuer I] [--audience A]   verify an access token
 *       against a JWKS alone, with jose (ES256 only); prints the claims, exit 1 when refused
 *   auth register|login --email E   the password comes from CLOISTER_PASSWORD (never argv) and is
 *       encrypted to the attested enclave key first, so the host never sees it; login prints the
 *       token pair (use it as CLOISTER_ACCESS_TOKEN for submit, status, revoke)
 */
import { readFileSync } from 'node:fs';
import { encryptPassword, fetchJwks, verifyAccessToken } from '../client/index.js';
import { JwksSchema, type Jwks } from '../protocol/auth.js';
import { requestJson } from './http.js';
import { attest, type TrustOptions } from './trust.js';

export class AuthUsageError extends Error {}

async function loadJwks(source: string): Promise<Jwks> {
  if (/^https?:\/\//.test(source)) return fetchJwks(source);
  return JwksSchema.parse(JSON.parse(readFileSync(source, 'utf8')));
}

export async function authVerify(opts: {
  token: string | undefined;
  jwks: string | undefined;
  issuer: string;
  audience: string;
}): Promise<Record<string, unknown>> {
  if (!opts.token || !opts.jwks)
    throw new AuthUsageError('usage: cloister auth verify <token> --jwks <url|file>');
  const jwks = await loadJwks(opts.jwks);
  return verifyAccessToken(opts.token, jwks, { issuer: opts.issuer, audience: opts.audience });
}

export async function authAccount(
  action: 'register' | 'login',
  opts: { email: string | undefined; url: string; trust: TrustOptions },
): Promise<unknown> {
  const password = process.env.CLOISTER_PASSWORD;
  if (!opts.email) throw new AuthUsageError(`usage: cloister auth ${action} --email E`);
  if (!password) throw new AuthUsageError('set CLOISTER_PASSWORD in the environment');
  const { verification } = await attest(opts.trust);
  if (!verification.valid)
    throw new Error(`attestation refused, nothing sent:\n  ${verification.reasons.join('\n  ')}`);
  const envelope = encryptPassword(
    { action, email: opts.email, password },
    verification.enclavePubkey!,
    { keyId: verification.keyId! },
  );
  return requestJson(`${opts.url}/auth/${action}`, {
    method: 'POST',
    body: { email: opts.email, envelope },
  });
}
