/**
 * OKX v5 request signing (OKX API v5 docs, "REST Authentication"): `OK-ACCESS-SIGN` =
 * base64(HMAC-SHA256(secret, timestamp + METHOD + requestPath + body)), where requestPath is
 * the path as sent including `?query`, and `OK-ACCESS-TIMESTAMP` is the ISO-8601 UTC time with
 * milliseconds (`2020-12-08T09:08:57.715Z`); `OK-ACCESS-KEY` and `OK-ACCESS-PASSPHRASE` are sent
 * as given. Pure: the time comes in as an argument.
 */
import { createHmac, type KeyObject } from 'node:crypto';
import type { HttpRequest } from '../types.js';

export interface OkxSignInput {
  baseUrl: string;
  path: string;
  query: string;
  apiKey: string;
  secret: string | KeyObject;
  passphrase: string;
  timestamp: number;
}

export function okxSignature(
  secret: string | KeyObject,
  isoTimestamp: string,
  method: string,
  requestPath: string,
  body = '',
): string {
  return createHmac('sha256', secret)
    .update(`${isoTimestamp}${method}${requestPath}${body}`)
    .digest('base64');
}

export function signOkxRequest(input: OkxSignInput): HttpRequest {
  const url = `${input.baseUrl}${input.path}${input.query ? `?${input.query}` : ''}`;
  // The path the server sees: a base URL with a path prefix is part of it.
  const u = new URL(url);
  const requestPath = `${u.pathname}${u.search}`;
  const ts = new Date(input.timestamp).toISOString();
  return {
    method: 'GET',
    url,
    headers: {
      'OK-ACCESS-KEY': input.apiKey,
      'OK-ACCESS-SIGN': okxSignature(input.secret, ts, 'GET', requestPath),
      'OK-ACCESS-TIMESTAMP': ts,
      'OK-ACCESS-PASSPHRASE': input.passphrase,
    },
  };
}
