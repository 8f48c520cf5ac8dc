/**
 * Bybit v5 request signing (bybit-exchange/docs v5 "Integration guidance" → "Authentication"):
 * `X-BAPI-SIGN` = hex HMAC-SHA256(secret, timestamp + apiKey + recvWindow + queryString) for
 * GET, with the key, timestamp (ms) and receive window in `X-BAPI-API-KEY`,
 * `X-BAPI-TIMESTAMP` and `X-BAPI-RECV-WINDOW`. The query string signed is the one sent, byte
 * for byte. Pure: the time comes in as an argument.
 */
import { createHmac, type KeyObject } from 'node:crypto';
import type { HttpRequest } from '../types.js';

export interface BybitSignInput {
  baseUrl: string;
  path: string;
  /** The query string exactly as it will be sent (no leading `?`). */
  query: string;
  apiKey: string;
  secret: string | KeyObject;
  timestamp: number;
  recvWindow: number;
}

export function bybitSignature(
  secret: string | KeyObject,
  timestamp: number,
  apiKey: string,
  recvWindow: number,
  payload: string,
): string {
  return createHmac('sha256', secret)
    .update(`${timestamp}${apiKey}${recvWindow}${payload}`)
    .digest('hex');
}

export function signBybitRequest(input: BybitSignInput): HttpRequest {
  const sign = bybitSignature(
    input.secret,
    input.timestamp,
    input.apiKey,
    input.recvWindow,
    input.query,
  );
  return {
    method: 'GET',
    url: `${input.baseUrl}${input.path}${input.query ? `?${input.query}` : ''}`,
    headers: {
      'X-BAPI-API-KEY': input.apiKey,
      'X-BAPI-TIMESTAMP': String(input.timestamp),
      'X-BAPI-RECV-WINDOW': String(input.recvWindow),
      'X-BAPI-SIGN': sign,
    },
  };
}

/**
 * Query string for Bybit: values percent-encoded, except a `cursor` that is already in URL
 * form (Bybit hands out `nextPageCursor` URL-encoded and expects it back as given).
 */
export function bybitQuery(params: readonly (readonly [string, string])[]): string {
  return params
    .map(([k, v]) => {
      const raw = k === 'cursor' && /^[A-Za-z0-9%._~-]+$/.test(v);
      return `${encodeURIComponent(k)}=${raw ? v : encodeURIComponent(v)}`;
    })
    .join('&');
}
