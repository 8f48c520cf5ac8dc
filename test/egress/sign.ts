/**
 * Independent request signers for the fake-exchange tests (node:crypto, straight from the
 * exchanges' docs), so the fake's verifiers are checked against code that is not theirs.
 */
import { createHmac } from 'node:crypto';

export const KEY = 'test-api-key';
export const SECRET = 'test-secret';

/** Binance: `signature` = hex HMAC-SHA256(secret, query) appended last. */
export function binanceUrl(base: string, path: string, query: string, secret = SECRET): string {
  const sig = createHmac('sha256', secret).update(query).digest('hex');
  return `${base}${path}?${query}${query ? '&' : ''}signature=${sig}`;
}

export async function binanceGet(
  base: string,
  path: string,
  params: Record<string, string | number>,
  opts: { secret?: string; key?: string; timestamp?: number; recvWindow?: number } = {},
): Promise<{ status: number; headers: Headers; json: unknown }> {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) q.set(k, String(v));
  if (opts.recvWindow !== undefined) q.set('recvWindow', String(opts.recvWindow));
  q.set('timestamp', String(opts.timestamp ?? Date.now()));
  const res = await fetch(binanceUrl(base, path, q.toString(), opts.secret), {
    headers: { 'X-MBX-APIKEY': opts.key ?? KEY },
  });
  return { status: res.status, headers: res.headers, json: await res.json() };
}

export interface BybitReply {
  retCode: number;
  retMsg: string;
  result: Record<string, unknown> & { list?: Record<string, string>[]; nextPageCursor?: string };
}

/** Bybit v5: X-BAPI-SIGN = hex HMAC-SHA256(secret, timestamp + key + recvWindow + query). */
export async function bybitGet(
  base: string,
  path: string,
  query: string,
  opts: { secret?: string; key?: string; timestamp?: number; recvWindow?: number } = {},
): Promise<{
  status: number;
  headers: Headers;
  json: BybitReply;
}> {
  const ts = String(opts.timestamp ?? Date.now());
  const key = opts.key ?? KEY;
  const rw = String(opts.recvWindow ?? 5000);
  const sign = createHmac('sha256', opts.secret ?? SECRET)
    .update(ts + key + rw + query)
    .digest('hex');
  const res = await fetch(`${base}${path}?${query}`, {
    headers: {
      'X-BAPI-API-KEY': key,
      'X-BAPI-TIMESTAMP': ts,
      'X-BAPI-RECV-WINDOW': rw,
      'X-BAPI-SIGN': sign,
    },
  });
  return { status: res.status, headers: res.headers, json: (await res.json()) as BybitReply };
}
