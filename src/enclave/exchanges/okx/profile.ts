/**
 * OKX v5's HTTP behaviour for the shared request loop (OKX v5 docs "Error Code", "Rate
 * Limits"): `{ code, msg, data }` with code "0" on success; 50100/50101/50105/50110/50111/
 * 50113/50119/50120 (frozen, wrong environment, passphrase, IP, key, signature, missing key,
 * permission) and HTTP 401 mean the key was refused; 50011/50061 and HTTP 429 are rate
 * limits; 50001/50004/50013 (service busy, timeout) and 50102/50112 (timestamp) are worth a
 * retry. `fills-history` allows 10 requests per 2 s.
 */
import type { ExchangeProfile, Verdict } from '../session.js';

const KEY_REJECTED = new Set([
  '50100',
  '50101',
  '50103',
  '50104',
  '50105',
  '50106',
  '50110',
  '50111',
  '50113',
  '50119',
  '50120',
]);
const RETRYABLE = new Set(['50001', '50004', '50013', '50026']);
/** 50102: timestamp expired; 50112: invalid timestamp. */
const SKEW = new Set(['50102', '50112']);

function code(json: unknown): string | undefined {
  const c = (json as { code?: unknown } | null)?.code;
  return typeof c === 'string' && /^\d{1,6}$/.test(c) ? c : undefined;
}

export const okxProfile: ExchangeProfile = {
  exchange: 'okx',
  policy: { capacity: 10, windowMs: 2000 },
  observe: () => ({}),
  serverTime: {
    path: '/api/v5/public/time',
    parse: (j) => {
      const ts = (j as { data?: { ts?: unknown }[] } | null)?.data?.[0]?.ts;
      return typeof ts === 'string' && /^\d{13}$/.test(ts) ? Number(ts) : undefined;
    },
  },
  verdict(res, json): Verdict {
    const c = code(json);
    const detail = `okx-${c ?? res.status}`;
    // Checked first: OKX answers a refused timestamp with HTTP 401.
    if (c !== undefined && SKEW.has(c)) return { kind: 'clock-skew', detail };
    if ((c !== undefined && KEY_REJECTED.has(c)) || res.status === 401 || res.status === 403)
      return { kind: 'key-rejected', detail };
    if (c === '50011' || c === '50061') return { kind: 'rate-limited', detail };
    if (c !== undefined && RETRYABLE.has(c)) return { kind: 'unavailable', detail };
    if (res.status !== 200 || c !== '0') return { kind: 'bad', detail };
    return { kind: 'ok' };
  },
};
