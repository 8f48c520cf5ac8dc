/**
 * Fake Binance spot REST API (`/api/v3/*`), following Binance's `rest-api.md` (spot):
 * HMAC-SHA256 request signing over the raw `totalParams` (query then body), `timestamp` and
 * `recvWindow` (≤ 60000), request weight per IP with `X-MBX-USED-WEIGHT-1M`, 429/418 with
 * `Retry-After`, and the `myTrades` parameter rules: symbol required, limit ≤ 1000, `fromId`
 * not combined with times (-1128), `endTime − startTime` ≤ 24 h (-1127).
 * Errors are Binance's `{ code, msg }` with its HTTP statuses.
 */
import { allMarkets, type GeneratedFill } from './generator.js';
import {
  hmacHex,
  lowerBoundId,
  lowerBoundTime,
  parseUint,
  safeEqual,
  type FakeAccount,
  type FakeRequest,
  type FakeResponse,
} from './context.js';
import type { BinanceWeightLimiter } from './rate-limit.js';

const DAY = 86_400_000;
const MAX_RECV_WINDOW = 60_000;

export const BINANCE_WEIGHTS: Record<string, number> = {
  '/api/v3/time': 1,
  '/api/v3/ping': 1,
  '/api/v3/exchangeInfo': 20,
  '/api/v3/account': 20,
  '/api/v3/myTrades': 20,
};

/** Binance's error texts, verbatim where the docs give them (`errors.md`). */
export const BINANCE_ERRORS = {
  tooManyRequests: -1003,
  timestamp: -1021,
  signature: -1022,
  illegalParam: -1100,
  duplicateParam: -1101,
  mandatoryParam: -1102,
  unreadParams: -1104,
  badSymbol: -1121,
  intervalTooBig: -1127,
  badCombination: -1128,
  recvWindow: -1131,
  badApiKeyFormat: -2014,
  rejectedApiKey: -2015,
} as const;

function err(status: number, code: number, msg: string): FakeResponse {
  return { status, body: { code, msg } };
}
const mandatory = (p: string) =>
  err(400, -1102, `Mandatory parameter '${p}' was not sent, was empty/null, or malformed.`);
const illegal = (p: string) =>
  err(400, -1100, `Illegal characters found in parameter '${p}'; legal range is '^[0-9]{1,20}$'.`);

export interface BinanceDeps {
  accounts: ReadonlyMap<string, FakeAccount>;
  limiter: BinanceWeightLimiter;
}

/** Answers one request under `/api/v3/` (Coinbase's `/api/v3/brokerage/` is routed elsewhere). */
export function handleBinance(req: FakeRequest, deps: BinanceDeps): FakeResponse {
  const weight = BINANCE_WEIGHTS[req.path];
  if (weight === undefined) return { status: 404, body: '' };
  const verdict = deps.limiter.charge(req.ip, weight, req.now);
  const headers = {
    'x-mbx-used-weight': String(verdict.used),
    'x-mbx-used-weight-1m': String(verdict.used),
  };
  const res = route(req, deps, verdict);
  return { ...res, headers: { ...headers, ...res.headers } };
}

function route(
  req: FakeRequest,
  deps: BinanceDeps,
  verdict: ReturnType<BinanceWeightLimiter['charge']>,
): FakeResponse {
  if (verdict.kind === 'banned') {
    return {
      status: 418,
      headers: { 'retry-after': String(verdict.retryAfterS) },
      body: {
        code: -1003,
        msg: `Way too much request weight used; IP banned until ${verdict.until}. Please use WebSocket Streams for live updates to avoid bans.`,
      },
    };
  }
  if (verdict.kind === 'limited') {
    return {
      status: 429,
      headers: { 'retry-after': String(verdict.retryAfterS) },
      body: {
        code: -1003,
        msg: `Too much request weight used; current limit is ${deps.limiter.limits.weightPerWindow} request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid bans.`,
      },
    };
  }
  if (req.method !== 'GET') return { status: 405, body: '' };
  switch (req.path) {
    case '/api/v3/ping':
      return { status: 200, body: {} };
    case '/api/v3/time':
      return { status: 200, body: { serverTime: req.now } };
    case '/api/v3/exchangeInfo':
      return exchangeInfo(req);
    default: {
      const auth = authenticate(req, deps);
      if ('status' in auth) return auth;
      if (req.path === '/api/v3/account') return account(auth.params, auth.account, req.now);
      return myTrades(auth.params, auth.account);
    }
  }
}

function exchangeInfo(req: FakeRequest): FakeResponse {
  const params = new URLSearchParams(req.rawQuery);
  const only = params.get('symbol');
  const markets = allMarkets().filter((m) => only === null || m.market === only);
  if (only !== null && markets.length === 0) return err(400, -1121, 'Invalid symbol.');
  return {
    status: 200,
    body: {
      timezone: 'UTC',
      serverTime: req.now,
      rateLimits: [
        { rateLimitType: 'REQUEST_WEIGHT', interval: 'MINUTE', intervalNum: 1, limit: 6000 },
      ],
      exchangeFilters: [],
      symbols: markets.map((m) => ({
        symbol: m.market,
        status: 'TRADING',
        baseAsset: m.base,
        baseAssetPrecision: 8,
        quoteAsset: m.quote,
        quotePrecision: 8,
        quoteAssetPrecision: 8,
        isSpotTradingAllowed: true,
        isMarginTradingAllowed: false,
        permissions: [],
        permissionSets: [['SPOT']],
        filters: [
          {
            filterType: 'PRICE_FILTER',
            minPrice: (10 ** -m.priceDp).toFixed(m.priceDp),
            maxPrice: '1000000.00000000',
            tickSize: (10 ** -m.priceDp).toFixed(m.priceDp),
          },
          {
            filterType: 'LOT_SIZE',
            minQty: (10 ** -m.qtyDp).toFixed(m.qtyDp),
            maxQty: '9000000.00000000',
            stepSize: (10 ** -m.qtyDp).toFixed(m.qtyDp),
          },
        ],
      })),
    },
  };
}

type Authed = { account: FakeAccount; params: Map<string, string> };

/**
 * SIGNED endpoint security (rest-api.md "SIGNED endpoint security"): key header, then the
 * HMAC over `totalParams` exactly as received (without `&signature=…`), then the time window
 * `timestamp < serverTime + 1000 && serverTime − timestamp <= recvWindow`.
 */
function authenticate(req: FakeRequest, deps: BinanceDeps): Authed | FakeResponse {
  const key = req.headers['x-mbx-apikey'];
  if (key === undefined || key === '') return err(401, -2014, 'API-key format invalid.');
  const account = deps.accounts.get(key);
  if (!account || account.revoked)
    return err(401, -2015, 'Invalid API-key, IP, or permissions for action.');
  const params = new Map<string, string>();
  for (const [k, v] of new URLSearchParams(req.rawQuery)) {
    if (params.has(k)) return err(400, -1101, 'Duplicate values for a parameter detected.');
    params.set(k, v);
  }
  const ts = parseUint(params.get('timestamp'));
  if (ts === undefined) return mandatory('timestamp');
  let recvWindow = 5000;
  if (params.has('recvWindow')) {
    const rw = parseUint(params.get('recvWindow'));
    if (rw === undefined) return illegal('recvWindow');
    if (rw > MAX_RECV_WINDOW) return err(400, -1131, 'recvWindow must be less than 60000');
    recvWindow = rw;
  }
  if (ts >= req.now + 1000)
    return err(400, -1021, "Timestamp for this request was 1000ms ahead of the server's time.");
  if (req.now - ts > recvWindow)
    return err(400, -1021, 'Timestamp for this request is outside of the recvWindow.');
  const sig = params.get('signature');
  if (sig === undefined || sig === '') return mandatory('signature');
  // totalParams: the raw query with the `signature` pair removed, then the body.
  const parts = req.rawQuery.split('&').filter((p) => !p.startsWith('signature='));
  const expected = hmacHex(account.secret, parts.join('&') + req.body);
  if (!safeEqual(sig.toLowerCase(), expected))
    return err(400, -1022, 'Signature for this request is not valid.');
  params.delete('signature');
  return { account, params };
}

function unread(params: Map<string, string>, allowed: readonly string[]): FakeResponse | undefined {
  const extra = [...params.keys()].filter(
    (k) => !allowed.includes(k) && k !== 'timestamp' && k !== 'recvWindow',
  );
  if (extra.length === 0) return undefined;
  const n = params.size + 1;
  return err(
    400,
    -1104,
    `Not all sent parameters were read; read '${n - extra.length}' parameter(s) but was sent '${n}'.`,
  );
}

function account(params: Map<string, string>, acct: FakeAccount, now: number): FakeResponse {
  const bad = unread(params, ['omitZeroBalances']);
  if (bad) return bad;
  const omitZero = params.get('omitZeroBalances') === 'true';
  const balances = [...acct.balances()]
    .filter(([, v]) => !omitZero || !/^0\.0+$/.test(v))
    .map(([asset, free]) => ({ asset, free, locked: '0.00000000' }));
  return {
    status: 200,
    body: {
      makerCommission: 10,
      takerCommission: 10,
      uid: acct.accountIds.binance,
      buyerCommission: 0,
      sellerCommission: 0,
      commissionRates: {
        maker: '0.00100000',
        taker: '0.00100000',
        buyer: '0.00000000',
        seller: '0.00000000',
      },
      canTrade: false,
      canWithdraw: false,
      canDeposit: false,
      brokered: false,
      requireSelfTradePrevention: false,
      preventSor: false,
      updateTime: now,
      accountType: 'SPOT',
      balances,
      permissions: ['SPOT'],
    },
  };
}

/** Binance prints prices and quantities with 8 decimals. */
function dp8(s: string): string {
  const [i, f = ''] = s.split('.');
  return `${i}.${f.padEnd(8, '0')}`;
}

export function renderBinanceTrade(f: GeneratedFill) {
  return {
    symbol: f.market,
    id: f.id,
    orderId: f.orderId,
    orderListId: -1,
    price: dp8(f.price),
    qty: dp8(f.qty),
    quoteQty: f.quoteQty,
    commission: f.fee,
    commissionAsset: f.feeAsset,
    time: f.time,
    isBuyer: f.side === 'buy',
    isMaker: f.isMaker,
    isBestMatch: true,
  };
}

/**
 * GET /api/v3/myTrades. Supported combinations (rest-api.md, CHANGELOG 2022-12): symbol;
 * + orderId (+ fromId); + startTime; + endTime; + startTime & endTime; + fromId.
 */
function myTrades(params: Map<string, string>, acct: FakeAccount): FakeResponse {
  const bad = unread(params, ['symbol', 'orderId', 'startTime', 'endTime', 'fromId', 'limit']);
  if (bad) return bad;
  const symbol = params.get('symbol');
  if (symbol === undefined || symbol === '') return mandatory('symbol');
  if (!allMarkets().some((m) => m.market === symbol)) return err(400, -1121, 'Invalid symbol.');
  const num: Record<string, number | undefined> = {};
  for (const k of ['orderId', 'startTime', 'endTime', 'fromId', 'limit']) {
    if (!params.has(k)) continue;
    const v = parseUint(params.get(k));
    if (v === undefined) return illegal(k);
    num[k] = v;
  }
  const limit = num.limit ?? 500;
  if (limit < 1 || limit > 1000)
    return err(400, -1100, "Illegal characters found in parameter 'limit'; legal range is '1000'.");
  const { orderId, startTime, endTime, fromId } = num;
  const timed = startTime !== undefined || endTime !== undefined;
  if (fromId !== undefined && timed)
    return err(400, -1128, 'Combination of optional parameters invalid.');
  if (orderId !== undefined && timed)
    return err(400, -1128, 'Combination of optional parameters invalid.');
  if (startTime !== undefined && endTime !== undefined && endTime - startTime > DAY) {
    return err(400, -1127, 'More than 24 hours between startTime and endTime.');
  }
  let fills = acct.byMarket(symbol);
  if (orderId !== undefined) fills = fills.filter((f) => f.orderId === orderId);
  let page: GeneratedFill[];
  if (fromId !== undefined) {
    const i = lowerBoundId(fills, fromId);
    page = fills.slice(i, i + limit);
  } else if (timed) {
    // Inclusive bounds; one bound alone means a 24 h window from (or up to) it.
    const from = startTime ?? endTime! - DAY;
    const to = endTime ?? startTime! + DAY;
    const lo = lowerBoundTime(fills, from);
    const hi = lowerBoundTime(fills, to + 1);
    page =
      startTime !== undefined
        ? fills.slice(lo, Math.min(hi, lo + limit))
        : fills.slice(Math.max(lo, hi - limit), hi);
  } else {
    page = fills.slice(Math.max(0, fills.length - limit));
  }
  return { status: 200, body: page.map(renderBinanceTrade) };
}
