/**
 * Test doubles for the connector tests: an HttpTransport that routes by path to small
 * in-test handlers (recording every request), and a clock whose sleep advances time instead
 * of waiting. Never imported from src/.
 */
import type {
  HttpRequest,
  HttpResponse,
  HttpTransport,
} from '../../src/enclave/exchanges/types.js';
import type { Clock } from '../../src/enclave/exchanges/rate-limiter.js';

export interface RoutedRequest {
  method: string;
  path: string;
  rawQuery: string;
  query: URLSearchParams;
  headers: Record<string, string>;
}

export interface Reply {
  status?: number;
  /** Lower-case names; `date: null` leaves out the default `date` header. */
  headers?: Record<string, string | null>;
  /** A string is sent as is; anything else as JSON. */
  body: unknown;
}

export type Handler = (req: RoutedRequest) => Reply | Promise<Reply>;

/** The account-id endpoints every listing reads first, unless a test routes them itself. */
export const TEST_ACCOUNT_IDS = {
  bybit: 24617703,
  okx: '44705892343619584',
  coinbase: 'b87a2d3f-8a1e-4b3d-9d5e-2f1c0a9e7d61',
};
const ACCOUNT_ID_HANDLERS: Record<string, Handler> = {
  '/v5/user/query-api': () => ({
    body: { retCode: 0, retMsg: '', result: { userID: TEST_ACCOUNT_IDS.bybit }, time: 0 },
  }),
  '/api/v5/account/config': () => ({
    body: { code: '0', msg: '', data: [{ uid: TEST_ACCOUNT_IDS.okx }] },
  }),
  '/api/v3/brokerage/key_permissions': () => ({
    body: { can_view: true, portfolio_uuid: TEST_ACCOUNT_IDS.coinbase },
  }),
};

/**
 * Answers like an origin server: every reply carries a `date` header (RFC 9110 §6.6.1) from
 * `opts.now` (ms; default the wall clock) unless its handler sets one, or sets it to `null`
 * (a reply without one).
 */
export function routeTransport(
  handlers: Record<string, Handler>,
  opts: { now?: () => number } = {},
): HttpTransport & { log: RoutedRequest[]; raw: HttpRequest[] } {
  const now = opts.now ?? Date.now;
  const log: RoutedRequest[] = [];
  const raw: HttpRequest[] = [];
  return {
    log,
    raw,
    async request(req: HttpRequest): Promise<HttpResponse> {
      raw.push(req);
      const u = new URL(req.url);
      const rawQuery = u.search.slice(1);
      const r: RoutedRequest = {
        method: req.method,
        path: u.pathname,
        rawQuery,
        query: new URLSearchParams(rawQuery),
        headers: Object.fromEntries(
          Object.entries(req.headers).map(([k, v]) => [k.toLowerCase(), v]),
        ),
      };
      log.push(r);
      const h = handlers[u.pathname] ?? ACCOUNT_ID_HANDLERS[u.pathname];
      if (!h) return { status: 404, headers: {}, body: '' };
      const out = await h(r);
      const headers: Record<string, string> = { date: new Date(now()).toUTCString() };
      for (const [k, v] of Object.entries(out.headers ?? {}))
        if (v === null) delete headers[k];
        else headers[k] = v;
      return {
        status: out.status ?? 200,
        headers,
        body: typeof out.body === 'string' ? out.body : JSON.stringify(out.body),
      };
    },
  };
}

export function fakeClock(start: number): Clock & { slept: number[]; t: number } {
  const c = {
    t: start,
    slept: [] as number[],
    now: () => c.t,
    sleep: async (ms: number) => {
      c.slept.push(ms);
      c.t += ms;
    },
  };
  return c;
}
