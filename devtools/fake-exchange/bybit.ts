/**
 * Fake Bybit v5 REST API, following `bybit-exchange/docs` (v5 "Integration guidance",
 * "Get Trade History" `docs/v5/order/execution.mdx`, "Rate limit"): HMAC-SHA256 of
 * `timestamp + apiKey + recvWindow + queryString` in `X-BAPI-SIGN`, the timestamp rule
 * `server − recvWindow ≤ timestamp < server + 1000`, and `/v5/execution/list` with
 * `category` required, `limit` 1..100 (default 50), a 7-day window (none given: the last 7
 * days; one bound: 7 days from it), newest first, and `nextPageCursor`. Errors come as HTTP 200
 * with `retCode` (10001 params, 10002 time, 10003 key, 10004 sign, 10006 rate limit).
 */
import { allMarkets, receivedCurrencyFee, type GeneratedFill } from './generator.js';
import {
  hmacHex,
  lowerBoundTime,
  parseUint,
  safeEqual,
  type FakeAccount,
  type FakeRequest,
  type FakeResponse,
} from './context.js';
import type { WindowLimiter } from './rate-limit.js';

const DAY = 86_400_000;
const WINDOW = 7 * DAY;
const DEPTH = 730 * DAY;

export interface BybitDeps {
  accounts: ReadonlyMap<string, FakeAccount>;
  limiter: WindowLimiter;
}

function reply(
  now: number,
  retCode: number,
  retMsg: string,
  result: unknown = {},
  headers?: Record<string, string>,
): FakeResponse {
  return {
    status: 200,
    ...(headers ? { headers } : {}),
    body: { retCode, retMsg, result, retExtInfo: {}, time: now },
  };
}

const PUBLIC = new Set(['/v5/market/time', '/v5/market/instruments-info']);
const PRIVATE = new Set(['/v5/execution/list', '/v5/account/wallet-balance', '/v5/user/query-api']);

export function handleBybit(req: FakeRequest, deps: BybitDeps): FakeResponse {
  if (!PUBLIC.has(req.path) && !PRIVATE.has(req.path))
    return { status: 404, body: { retCode: 10404, retMsg: 'Not Found' } };
  if (req.method !== 'GET') return { status: 405, body: '' };
  const q = new URLSearchParams(req.rawQuery);
  if (req.path === '/v5/market/time') {
    return reply(req.now, 0, 'OK', {
      timeSecond: String(Math.floor(req.now / 1000)),
      timeNano: `${req.now}000000`,
    });
  }
  if (req.path === '/v5/market/instruments-info') {
    if (q.get('category') !== 'spot')
      return reply(req.now, 0, 'OK', {
        category: q.get('category') ?? '',
        list: [],
        nextPageCursor: '',
      });
    const list = allMarkets().map((m) => ({
      symbol: m.market,
      baseCoin: m.base,
      quoteCoin: m.quote,
      status: 'Trading',
      innovation: '0',
      marginTrading: 'none',
    }));
    return reply(req.now, 0, 'OK', { category: 'spot', list, nextPageCursor: '' });
  }
  const auth = authenticate(req, deps);
  if ('status' in auth) return auth;
  const rl = deps.limiter.take(`${auth.apiKey}:${req.path}`, req.now);
  const headers = {
    'x-bapi-limit': String(rl.limit),
    'x-bapi-limit-status': String(rl.remaining),
    'x-bapi-limit-reset-timestamp': String(rl.resetAt),
  };
  if (!rl.ok)
    return reply(req.now, 10006, 'Too many visits. Exceeded the API Rate Limit.', {}, headers);
  const res =
    req.path === '/v5/execution/list'
      ? executions(q, auth, req.now)
      : req.path === '/v5/user/query-api'
        ? queryApi(auth, req.now)
        : wallet(q, auth, req.now);
  return { ...res, headers };
}

function authenticate(req: FakeRequest, deps: BybitDeps): FakeAccount | FakeResponse {
  const key = req.headers['x-bapi-api-key'];
  const ts = req.headers['x-bapi-timestamp'];
  const sign = req.headers['x-bapi-sign'];
  const rwRaw = req.headers['x-bapi-recv-window'] ?? '5000';
  if (!key) return reply(req.now, 10003, 'API key is invalid.');
  const acct = deps.accounts.get(key);
  if (!acct || acct.revoked) return reply(req.now, 10003, 'API key is invalid.');
  const t = parseUint(ts);
  const rw = parseUint(rwRaw);
  if (t === undefined || rw === undefined)
    return reply(
      req.now,
      10002,
      'invalid request, please check your timestamp and recv_window param',
    );
  if (!(req.now - rw <= t && t < req.now + 1000)) {
    return reply(
      req.now,
      10002,
      `invalid request, please check your server timestamp or recv_window param. req_timestamp[${t}],server_timestamp[${req.now}],recv_window[${rw}]`,
    );
  }
  const expected = hmacHex(acct.secret, `${ts}${key}${rwRaw}${req.rawQuery}`);
  if (!sign || !safeEqual(sign.toLowerCase(), expected)) {
    return reply(req.now, 10004, 'error sign! Please check your signature generation algorithm.');
  }
  return acct;
}

function sideOf(f: GeneratedFill): 'Buy' | 'Sell' {
  return f.side === 'buy' ? 'Buy' : 'Sell';
}

/** Bybit's exec ids are decimal strings of 19 digits; ours keep the generator's order. */
export function bybitExecId(f: GeneratedFill): string {
  return String(2_100_000_000_000_000_000n + BigInt(f.id));
}
export function bybitOrderId(f: GeneratedFill): string {
  return String(1_600_000_000_000_000_000n + BigInt(f.orderId));
}

export function renderBybitExecution(f: GeneratedFill) {
  // Bybit spot charges the fee in the coin received (no third-currency discount).
  const { fee, feeAsset } = receivedCurrencyFee(f);
  return {
    symbol: f.market,
    orderId: bybitOrderId(f),
    orderLinkId: '',
    side: sideOf(f),
    orderPrice: f.price,
    orderQty: f.qty,
    leavesQty: '0',
    createType: 'CreateByUser',
    orderType: 'Limit',
    stopOrderType: '',
    execFee: fee,
    execId: bybitExecId(f),
    execPrice: f.price,
    execQty: f.qty,
    execType: 'Trade',
    execValue: f.quoteQty,
    execTime: String(f.time),
    feeCurrency: feeAsset,
    isMaker: f.isMaker,
    feeRate: '0.001',
    tradeIv: '',
    markIv: '',
    markPrice: '',
    indexPrice: '',
    underlyingPrice: '',
    blockTradeId: '',
    closedSize: '',
    seq: f.id,
    marketUnit: '',
  };
}

/** The cursor names the last row served (keyset: newest first by (time, id)); URL-encoded like Bybit's. */
function encodeCursor(f: GeneratedFill): string {
  return encodeURIComponent(`${f.id}:${f.time},${f.id}:${f.time}`);
}
function decodeCursor(c: string): { id: number; time: number } | undefined {
  let s = c;
  for (let i = 0; i < 3 && s.includes('%'); i++) {
    try {
      s = decodeURIComponent(s);
    } catch {
      return undefined;
    }
  }
  const m = /^(\d+):(\d+),\1:\2$/.exec(s);
  return m ? { id: Number(m[1]), time: Number(m[2]) } : undefined;
}

function executions(q: URLSearchParams, acct: FakeAccount, now: number): FakeResponse {
  const category = q.get('category');
  if (!category) return reply(now, 10001, 'params error: category is required');
  if (!['spot', 'linear', 'inverse', 'option'].includes(category))
    return reply(now, 10001, 'Illegal category');
  const limitRaw = q.get('limit');
  const limit = limitRaw === null ? 50 : parseUint(limitRaw);
  if (limit === undefined || limit < 1 || limit > 100)
    return reply(now, 10001, 'params error: limit must be in [1, 100]');
  const st = q.has('startTime') ? parseUint(q.get('startTime')!) : undefined;
  const et = q.has('endTime') ? parseUint(q.get('endTime')!) : undefined;
  if ((q.has('startTime') && st === undefined) || (q.has('endTime') && et === undefined)) {
    return reply(now, 10001, 'params error: startTime or endTime is invalid');
  }
  if (st !== undefined && et !== undefined) {
    if (et < st) return reply(now, 10001, 'params error: endTime must be greater than startTime');
    if (et - st > WINDOW)
      return reply(
        now,
        10001,
        'params error: The time range between startTime and endTime cannot exceed 7 days',
      );
  }
  const from = st ?? (et !== undefined ? et - WINDOW : now - WINDOW);
  const to = et ?? (st !== undefined ? st + WINDOW : now);
  if (from < now - DEPTH)
    return reply(now, 10001, 'params error: startTime cannot be earlier than 2 years');
  const symbol = q.get('symbol');
  if (symbol !== null && !allMarkets().some((m) => m.market === symbol))
    return reply(now, 10001, 'params error: symbol invalid');
  const execType = q.get('execType');
  const orderId = q.get('orderId');
  let cursor: { id: number; time: number } | undefined;
  const rawCursor = q.get('cursor');
  if (rawCursor !== null && rawCursor !== '') {
    cursor = decodeCursor(rawCursor);
    if (!cursor) return reply(now, 10001, 'params error: cursor invalid');
  }
  const empty = () => reply(now, 0, 'OK', { category, list: [], nextPageCursor: '' });
  if (category !== 'spot' || (execType !== null && execType !== 'Trade')) return empty();

  const all = symbol !== null ? acct.byMarket(symbol) : acct.fills;
  // Inclusive bounds [from, to]; walk newest first from the cursor (exclusive).
  let hi = lowerBoundTime(all, to + 1);
  const lo = lowerBoundTime(all, from);
  if (cursor) {
    const c = cursor;
    while (
      hi > lo &&
      (all[hi - 1]!.time > c.time || (all[hi - 1]!.time === c.time && all[hi - 1]!.id >= c.id))
    )
      hi--;
  }
  const list: GeneratedFill[] = [];
  let i = hi;
  while (i > lo && list.length < limit) {
    const f = all[--i]!;
    if (orderId !== null && bybitOrderId(f) !== orderId) continue;
    list.push(f);
  }
  let more = false;
  for (let j = i; j > lo; j--) {
    if (orderId === null || bybitOrderId(all[j - 1]!) === orderId) {
      more = true;
      break;
    }
  }
  const last = list[list.length - 1];
  return reply(now, 0, 'OK', {
    category,
    list: list.map(renderBybitExecution),
    nextPageCursor: more && last ? encodeCursor(last) : '',
  });
}

function wallet(q: URLSearchParams, acct: FakeAccount, now: number): FakeResponse {
  const type = q.get('accountType');
  if (type !== 'UNIFIED' && type !== 'SPOT')
    return reply(now, 10001, 'params error: accountType invalid');
  const coin = [...acct.balances()].map(([c, v]) => ({
    coin: c,
    walletBalance: v,
    equity: v,
    locked: '0',
    free: v,
  }));
  return reply(now, 0, 'OK', { list: [{ accountType: type, coin }] });
}

/** `/v5/user/query-api` ("Get API Key Information"), the fields a connector reads. */
function queryApi(acct: FakeAccount, now: number): FakeResponse {
  return reply(now, 0, '', {
    id: String(acct.accountIds.bybit % 100000),
    note: 'fake',
    apiKey: acct.apiKey,
    readOnly: 1,
    secret: '',
    permissions: { Spot: ['SpotTrade'] },
    ips: ['*'],
    type: 1,
    userID: acct.accountIds.bybit,
    parentUid: '0',
    isMaster: true,
  });
}
