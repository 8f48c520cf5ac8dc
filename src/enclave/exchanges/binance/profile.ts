/**
 * Binance spot's HTTP behaviour for the shared request loop (`rest-api.md` "LIMITS", "Error
 * codes"): weight per IP per minute (6,000; we budget 5,000 to leave room for other clients of
 * the address), the `X-MBX-USED-WEIGHT-1M` header, 429/418 with `Retry-After`, and the error
 * codes that mean the key was refused: -2014 (key format), -2015 (invalid key, IP or
 * permissions), -1022 (signature invalid: the secret does not match the key), plus 401/403.
 */
import type { ExchangeProfile, Verdict } from '../session.js';

/** Request weights of the endpoints used (`rest-api.md`). */
export const BINANCE_WEIGHT = { myTrades: 20, account: 20, exchangeInfo: 20 } as const;

const KEY_REJECTED = new Set([-2014, -2015, -1022, -2008]);
/** -1000/-1001/-1006/-1007: unknown error, disconnected, unexpected answer, timeout. */
const RETRYABLE = new Set([-1000, -1001, -1006, -1007]);

function code(json: unknown): number | undefined {
  const c = (json as { code?: unknown } | null)?.code;
  return typeof c === 'number' && Number.isInteger(c) ? c : undefined;
}

const num = (v: unknown) => (typeof v === 'number' && Number.isSafeInteger(v) ? v : undefined);

export const binanceProfile: ExchangeProfile = {
  exchange: 'binance',
  policy: { capacity: 5000, windowMs: 60_000 },
  serverTime: {
    path: '/api/v3/time',
    parse: (j) => num((j as { serverTime?: unknown } | null)?.serverTime),
  },
  observe(res) {
    const v = res.headers['x-mbx-used-weight-1m'];
    return v !== undefined && /^\d{1,9}$/.test(v) ? { used: Number(v) } : {};
  },
  verdict(res, json): Verdict {
    const c = code(json);
    const detail = `binance-${c ?? res.status}`;
    if (res.status === 401 || (c !== undefined && KEY_REJECTED.has(c)))
      return { kind: 'key-rejected', detail };
    // 403 is Binance's WAF limit ("the WAF Limit has been violated"), not a verdict on the key:
    // treating it as a rejection would destroy a good credential.
    if (res.status === 403) return { kind: 'rate-limited', detail };
    if (c === -1003) return { kind: 'rate-limited', detail };
    // -1021: timestamp outside recvWindow, or ahead of the server.
    if (c === -1021) return { kind: 'clock-skew', detail };
    if (c !== undefined && RETRYABLE.has(c)) return { kind: 'unavailable', detail };
    if (res.status !== 200 || json === undefined) return { kind: 'bad', detail };
    return { kind: 'ok' };
  },
};
