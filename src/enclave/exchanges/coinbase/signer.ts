/**
 * Coinbase Advanced Trade request signing with a CDP API key (Coinbase Developer Platform
 * "API key authentication"; the claims are the ones ccxt 4.5.84 `createAuthToken` sends for
 * an EC key): every request carries `Authorization: Bearer <JWT>`, an ES256 JWT (RFC 7515/7518,
 * signature as the 64-byte r‖s of RFC 7518 §3.4) with header `{alg, typ, kid: keyName, nonce}`
 * and claims `{aud: ["retail_rest_api_proxy"], iss: "coinbase-cloud", nbf, exp: nbf + 120, sub:
 * keyName, iat, uri: "GET host/path"}`: the URI names the host and path, without scheme and
 * query, so a token is good for one endpoint for two minutes. The key is the P-256 private key
 * in PEM. Pure: time and nonce come in as arguments.
 */
import { createPrivateKey, sign, type KeyObject } from 'node:crypto';
import type { HttpRequest } from '../types.js';

export interface CoinbaseSignInput {
  baseUrl: string;
  path: string;
  query: string;
  /** `organizations/{org}/apiKeys/{key}`. */
  apiKey: string;
  /** EC P-256 private key, PEM (SEC1 or PKCS#8), or a KeyObject made from it. */
  secret: string | KeyObject;
  /** Seconds since the epoch. */
  timestampS: number;
  /** 32 hex digits, fresh per request. */
  nonce: string;
}

const b64url = (s: string | Buffer) => Buffer.from(s).toString('base64url');

export function coinbaseJwt(input: CoinbaseSignInput, uri: string): string {
  const key =
    typeof input.secret === 'string'
      ? createPrivateKey({ key: input.secret, format: 'pem' })
      : input.secret;
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1')
    throw new TypeError('secret: a Coinbase CDP key is an EC P-256 private key');
  const header = { alg: 'ES256', typ: 'JWT', kid: input.apiKey, nonce: input.nonce };
  const t = input.timestampS;
  const claims = {
    aud: ['retail_rest_api_proxy'],
    iss: 'coinbase-cloud',
    nbf: t,
    exp: t + 120,
    sub: input.apiKey,
    iat: t,
    uri,
  };
  const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const sig = sign('sha256', Buffer.from(signingInput), { key, dsaEncoding: 'ieee-p1363' });
  return `${signingInput}.${sig.toString('base64url')}`;
}

export function signCoinbaseRequest(input: CoinbaseSignInput): HttpRequest {
  const url = `${input.baseUrl}${input.path}${input.query ? `?${input.query}` : ''}`;
  const u = new URL(url);
  const uri = `GET ${u.host}${u.pathname}`;
  return {
    method: 'GET',
    url,
    headers: { Authorization: `Bearer ${coinbaseJwt(input, uri)}` },
  };
}
