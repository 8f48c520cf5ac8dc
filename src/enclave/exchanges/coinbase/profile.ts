/**
 * Coinbase Advanced Trade's HTTP behaviour for the shared request loop (Advanced Trade API
 * "Rate limits", "Errors"): 401 (bad or expired JWT, unknown key) and 403 (key without the
 * view permission) mean the key was refused; 429 is the rate limit (30 private requests per
 * second per key); errors are `{ error, message }`. An expired JWT is a 401 too: the session
 * tells it from a refused key by the answer's `Date` (session.ts).
 */
import type { ExchangeProfile, Verdict } from '../session.js';

export const coinbaseProfile: ExchangeProfile = {
  exchange: 'coinbase',
  policy: { capacity: 25, windowMs: 1000 },
  observe: () => ({}),
  // Public ("Get Server Time"): a 401 while its `Date` disagrees with ours is synced first.
  serverTime: {
    path: '/api/v3/brokerage/time',
    parse: (j) => {
      const ms = (j as { epochMillis?: unknown } | null)?.epochMillis;
      return typeof ms === 'string' && /^\d{13}$/.test(ms) ? Number(ms) : undefined;
    },
  },
  verdict(res, json): Verdict {
    const detail = `coinbase-${res.status}`;
    if (res.status === 401 || res.status === 403) return { kind: 'key-rejected', detail };
    if (res.status !== 200 || json === undefined) return { kind: 'bad', detail };
    return { kind: 'ok' };
  },
};
