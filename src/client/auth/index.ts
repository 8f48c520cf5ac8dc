/**
 * Client side of authentication (docs/protocol/auth.md): encrypt a password to the enclave (the
 * credential envelope, so not even the host sees it), verify access tokens against the JWKS
 * with jose (ES256 only, issuer and audience pinned), and check that every JWKS key is one the
 * attested enclave declared (its RFC 7638 thumbprint is bound into the report data).
 */
import { createLocalJWKSet, jwtVerify, type JWTPayload } from 'jose';
import {
  AccessClaimsSchema,
  AuthPlaintextSchema,
  JwksSchema,
  ecThumbprint,
  type AccessClaims,
  type AuthPlaintext,
  type Jwks,
} from '../../protocol/auth.js';
import { base64ToBytes, utf8 } from '../../protocol/encoding.js';
import { sealEnvelopeV1, type EnvelopeV1 } from '../../protocol/envelope/v1.js';
import { noblePrimitives } from '../noble-primitives.js';
import { answerJson } from '../service-call.js';

export interface PasswordEnvelopeInput {
  /** `link`: POST /auth/methods/link {password}; `change`: POST /auth/password/change. */
  action: AuthPlaintext['action'];
  email: string;
  password: string;
}

/** An envelope v1 whose plaintext is `{purpose: "auth", action, email, password, issued_at}`. */
export function encryptPassword(
  input: PasswordEnvelopeInput,
  enclavePubkey: string,
  options: { keyId?: string; issuedAt?: number } = {},
): EnvelopeV1 {
  const key = base64ToBytes(enclavePubkey);
  if (key.length !== 32) throw new TypeError('enclave public key must be 32 bytes');
  // Parsed through the enclave's own schema: the same email normalization, and a plaintext it
  // would refuse is refused here.
  const plaintext = utf8.encode(
    JSON.stringify(
      AuthPlaintextSchema.parse({
        purpose: 'auth',
        action: input.action,
        email: input.email,
        password: input.password,
        issued_at: options.issuedAt ?? Math.floor(Date.now() / 1000),
      }),
    ),
  );
  try {
    return sealEnvelopeV1(
      noblePrimitives,
      key,
      plaintext,
      options.keyId ? { keyId: options.keyId } : {},
    );
  } finally {
    plaintext.fill(0);
  }
}

export interface TokenPolicy {
  issuer: string;
  audience: string;
  /**
   * The kids of a verified attestation (`signing_keys.jwt`). Given, every JWKS key must be one
   * of them (jwksIsAttested), or nothing verifies: the JWKS is served by the host, which could
   * otherwise list a key of its own and mint tokens for anyone. Leave it out only for a JWKS
   * you already trust by other means.
   */
  attestedKids?: readonly string[];
  /** Verify as of this time (tests); default now. */
  currentDate?: Date;
}

/**
 * A verifier bound to one JWKS: the keys are checked (kid = thumbprint, and listed in
 * `policy.attestedKids` when given) and imported once, so each token costs only jose's
 * signature and claim checks. Throws on any failure.
 */
export function accessTokenVerifier(
  jwks: Jwks,
  policy: TokenPolicy,
): (token: string) => Promise<AccessClaims & JWTPayload> {
  const parsed = JwksSchema.parse(jwks);
  for (const k of parsed.keys)
    if (ecThumbprint(k.x, k.y) !== k.kid) throw new Error('JWKS kid is not the key thumbprint');
  if (policy.attestedKids !== undefined && !jwksIsAttested(parsed, policy.attestedKids))
    throw new Error('JWKS has a key the attestation does not list');
  const keySet = createLocalJWKSet({ keys: parsed.keys.map((k) => ({ ...k })) });
  return async (token) => {
    const { payload } = await jwtVerify(token, keySet, {
      algorithms: ['ES256'],
      issuer: policy.issuer,
      audience: policy.audience,
      requiredClaims: ['exp', 'iat', 'sub', 'jti'],
      ...(policy.currentDate ? { currentDate: policy.currentDate } : {}),
    });
    return { ...payload, ...AccessClaimsSchema.parse(payload) };
  };
}

/**
 * Verifies an access token against `jwks` (attested when `policy.attestedKids` is given); the
 * promise rejects on any failure, a bad JWKS included.
 */
export async function verifyAccessToken(
  token: string,
  jwks: Jwks,
  policy: TokenPolicy,
): Promise<AccessClaims & JWTPayload> {
  return accessTokenVerifier(jwks, policy)(token);
}

/**
 * True when every key of `jwks` has kid = its thumbprint and is listed in the attested
 * `signing_keys.jwt` (from a verified attestation response).
 */
export function jwksIsAttested(jwks: Jwks, attestedKids: readonly string[] | undefined): boolean {
  if (!attestedKids) return false;
  const parsed = JwksSchema.parse(jwks);
  return parsed.keys.every((k) => ecThumbprint(k.x, k.y) === k.kid && attestedKids.includes(k.kid));
}

export async function fetchJwks(url: string, fetchImpl: typeof fetch = fetch): Promise<Jwks> {
  const res = await fetchImpl(url, { headers: { accept: 'application/json' } });
  if (!res.ok) throw new Error(`JWKS request failed with status ${res.status}`);
  return JwksSchema.parse(await answerJson(res));
}
