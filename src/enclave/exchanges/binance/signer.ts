/**
 * Binance spot request signing (binance-spot-api-docs `rest-api.md`, "SIGNED (TRADE, USER_DATA
 * and MARGIN) endpoint security"): `signature` = hex HMAC-SHA256(secret, totalParams), where
 * totalParams is the query string exactly as sent (here: the parameters in the caller's order,
 * then `recvWindow`, then `timestamp`) and no body; `signature` is appended last, and the key
 * travels in `X-MBX-APIKEY`. Pure: the time comes in as an argument.
 */
import { createHmac, type KeyObject } from 'node:crypto';
import { encodeQuery } from '../fills.js';
import type { HttpRequest } from '../types.js';

export interface BinanceSignInput {
  baseUrl: string;
  path: string;
  /** Parameters in the order they are sent. */
  params: readonly (readonly [string, string])[];
  apiKey: string;
  secret: string | KeyObject;
  timestamp: number;
  recvWindow: number;
}

export function binanceSignature(secret: string | KeyObject, totalParams: string): string {
  return createHmac('sha256', secret).update(totalParams).digest('hex');
}

export function signBinanceRequest(input: BinanceSignInput): HttpRequest {
  const query = encodeQuery([
    ...input.params,
    ['recvWindow', String(input.recvWindow)],
    ['timestamp', String(input.timestamp)],
  ]);
  const signature = binanceSignature(input.secret, query);
  return {
    method: 'GET',
    url: `${input.baseUrl}${input.path}?${query}&signature=${signature}`,
    headers: { 'X-MBX-APIKEY': input.apiKey },
  };
}

/** Unsigned (public) endpoints: exchangeInfo. */
export function binancePublicRequest(
  baseUrl: string,
  path: string,
  params: readonly (readonly [string, string])[] = [],
): HttpRequest {
  const q = encodeQuery(params);
  return { method: 'GET', url: `${baseUrl}${path}${q ? `?${q}` : ''}`, headers: {} };
}
