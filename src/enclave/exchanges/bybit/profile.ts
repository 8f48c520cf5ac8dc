/**
 * Bybit v5's HTTP behaviour for the shared request loop (docs v5 "Rate limit", "Error codes"):
 * errors arrive as HTTP 200 with a `retCode`; 10003/10004/10005/10007/10010/33004 mean the key,
 * its signature, its permissions or its IP binding were refused; 10006 is the per-key rate
 * limit, which `X-Bapi-Limit-Status` (requests left) and `X-Bapi-Limit-Reset-Timestamp`
 * announce; 10002 is a timestamp outside the receive window. HTTP 403 is Bybit's IP-level limit
 * ("access too frequently", a ban of some minutes), not a key error; 401 is a refused key.
 */
import type { ExchangeProfile, Verdict } from '../session.js';

const KEY_REJECTED = new Set([10003, 10004, 10005, 10007, 10009, 10010, 33004]);
const RETRYABLE = new Set([10000, 10016]);

function retCode(json: unknown): number | undefined {
  const c = (json as { retCode?: unknown } | null)?.retCode;
  return typeof c === 'number' && Number.isInteger(c) ? c : undefined;
}

function resetAt(v: string | undefined): number | undefined {
  return v !== undefined && /^\d{10,16}$/.test(v) ? Number(v) : undefined;
}

export const bybitProfile: ExchangeProfile = {
  exchange: 'bybit',
  // The IP limit: 600 requests per 5 s; the per-key limits come from the headers.
  policy: { capacity: 500, windowMs: 5000 },
  serverTime: {
    path: '/v5/market/time',
    parse: (j) => {
      const n = (j as { result?: { timeNano?: unknown } } | null)?.result?.timeNano;
      return typeof n === 'string' && /^\d{13,19}$/.test(n) ? Number(n.slice(0, -6)) : undefined;
    },
  },
  observe(res) {
    const left = res.headers['x-bapi-limit-status'];
    const reset = resetAt(res.headers['x-bapi-limit-reset-timestamp']);
    if (left === '0' && reset !== undefined) return { blockedUntil: reset };
    return {};
  },
  verdict(res, json, now): Verdict {
    const c = retCode(json);
    const detail = `bybit-${c ?? res.status}`;
    if (res.status === 401 || (c !== undefined && KEY_REJECTED.has(c)))
      return { kind: 'key-rejected', detail };
    if (res.status === 403) return { kind: 'rate-limited', detail, banned: true };
    if (c === 10006) {
      const reset = resetAt(res.headers['x-bapi-limit-reset-timestamp']);
      return {
        kind: 'rate-limited',
        detail,
        ...(reset !== undefined ? { retryAfterMs: Math.max(0, reset - now) } : {}),
      };
    }
    if (c === 10002) return { kind: 'clock-skew', detail };
    if (c !== undefined && RETRYABLE.has(c)) return { kind: 'unavailable', detail };
    if (res.status !== 200 || c !== 0) return { kind: 'bad', detail };
    return { kind: 'ok' };
  },
};
