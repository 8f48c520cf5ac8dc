/**
 * Coinbase Advanced Trade's HTTP behaviour for the shared request loop (Advanced Trade API
 * "Rate limits", "Errors"): 401 (bad or expired JWT, unknown key) and 403 (key without the
 * view permission) mean the key was refused; 429 is the rate limit (30 private requests per
 * second per key); errors are `{ error, message }`.
 */
import type { ExchangeProfile, Verdict } from '../session.js';

export const coinbaseProfile: ExchangeProfile = {
  exchange: 'coinbase',
  policy: { capacity: 25, windowMs: 1000 },
  observe: () => ({}),
  verdict(res, json): Verdict {
    const detail = `coinbase-${res.status}`;
    if (res.status === 401 || res.status === 403) return { kind: 'key-rejected', detail };
    if (res.status !== 200 || json === undefined) return { kind: 'bad', detail };
    return { kind: 'ok' };
  },
};
