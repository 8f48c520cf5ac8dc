/**
 * Fake OKX v5 REST API (`/api/v5/*`), following OKX's v5 docs ("REST authentication",
 * "Get transaction details (last 3 months)"): `OK-ACCESS-SIGN` = base64 HMAC-SHA256 of
 * `timestamp + METHOD + requestPath(+?query) + body`, the ISO-8601 `OK-ACCESS-TIMESTAMP`
 * within 30 s of server time, the passphrase, and `/api/v5/trade/fills-history` with
 * `instType` required, `limit` ≤ 100, newest first, `after`/`before` bill-id cursors and only
 * the last 3 months. Errors are `{ code, msg, data: [] }` with OKX's codes (HTTP 401 for auth,
 * 400 for parameters, 429 code 50011 for the rate limit).
 *
 * Older fills are in OKX's quarterly archive (an apply-then-download flow of CSV files), which
 * this fake does not serve: a connector must report its coverage as starting 3 months back.
 */
import { allMarkets, receivedCurrencyFee, type GeneratedFill } from './generator.js';
import {
  hmacBase64,
  lowerBoundId,
  lowerBoundTime,
  parseUint,
  safeEqual,
  type FakeAccount,
  type FakeRequest,
  type FakeResponse,
} from './context.js';
import type { WindowLimiter } from './rate-limit.js';

const DAY = 86_400_000;
/** "Last 3 months": 90 days. */
export const OKX_HISTORY_MS = 90 * DAY;
const MAX_SKEW_MS = 30_000;
const BILL_BASE = 400_000_000_000_000_000n;
const ORD_BASE = 600_000_000_000_000_000n;

export interface OkxDeps {
  accounts: ReadonlyMap<string, FakeAccount>;
  limiter: WindowLimiter;
}

function fail(status: number, code: string, msg: string): FakeResponse {
  return { status, body: { code, msg, data: [] } };
}
const ok = (data: unknown[]): FakeResponse => ({ status: 200, body: { code: '0', msg: '', data } });

export const okxInstId = (f: { base: string; quote: string }) => `${f.base}-${f.quote}`;
export const okxBillId = (f: GeneratedFill) => String(BILL_BASE + BigInt(f.id));
export const okxOrdId = (f: GeneratedFill) => String(ORD_BASE + BigInt(f.orderId));

export function renderOkxFill(f: GeneratedFill) {
  // OKX spot charges the fee in the currency received (no third-currency discount).
  const { fee, feeAsset } = receivedCurrencyFee(f);
  return {
    instType: 'SPOT',
    instId: okxInstId(f),
    tradeId: String(f.id),
    ordId: okxOrdId(f),
    clOrdId: '',
    billId: okxBillId(f),
    subType: f.side === 'buy' ? '1' : '2',
    tag: '',
    fillPx: f.price,
    fillSz: f.qty,
    fillIdxPx: '',
    fillPnl: '0',
    fillPxVol: '',
    fillPxUsd: '',
    fillMarkVol: '',
    fillFwdPx: '',
    fillMarkPx: '',
    side: f.side,
    posSide: 'net',
    execType: f.isMaker ? 'M' : 'T',
    feeCcy: feeAsset,
    // OKX reports a charged fee as a negative number (a rebate is positive).
    fee: `-${fee}`,
    ts: String(f.time),
    fillTime: String(f.time),
  };
}

export function handleOkx(req: FakeRequest, deps: OkxDeps): FakeResponse {
  switch (req.path) {
    case '/api/v5/public/time':
      return ok([{ ts: String(req.now) }]);
    case '/api/v5/public/instruments': {
      const q = new URLSearchParams(req.rawQuery);
      if (!q.get('instType')) return fail(400, '50014', 'Parameter instType can not be empty.');
      if (q.get('instType') !== 'SPOT') return ok([]);
      return ok(
        allMarkets().map((m) => ({
          instType: 'SPOT',
          instId: okxInstId(m),
          baseCcy: m.base,
          quoteCcy: m.quote,
          state: 'live',
          tickSz: (10 ** -m.priceDp).toFixed(m.priceDp),
          lotSz: (10 ** -m.qtyDp).toFixed(m.qtyDp),
          minSz: (10 ** -m.qtyDp).toFixed(m.qtyDp),
        })),
      );
    }
    case '/api/v5/trade/fills-history':
    case '/api/v5/account/config':
    case '/api/v5/account/balance': {
      if (req.method !== 'GET') return fail(405, '50000', 'Method not allowed.');
      const auth = authenticate(req, deps);
      if ('status' in auth) return auth;
      const rl = deps.limiter.take(`${auth.apiKey}:${req.path}`, req.now);
      if (!rl.ok) return fail(429, '50011', 'Too Many Requests');
      if (req.path === '/api/v5/account/config')
        return ok([{ uid: auth.accountIds.okx, mainUid: auth.accountIds.okx, acctLv: '1' }]);
      return req.path === '/api/v5/account/balance'
        ? balance(auth, req.now)
        : fillsHistory(new URLSearchParams(req.rawQuery), auth, req.now);
    }
    default:
      return { status: 404, body: { msg: '', code: '404' } };
  }
}

function authenticate(req: FakeRequest, deps: OkxDeps): FakeAccount | FakeResponse {
  const h = req.headers;
  const key = h['ok-access-key'];
  const sign = h['ok-access-sign'];
  const ts = h['ok-access-timestamp'];
  const pass = h['ok-access-passphrase'];
  if (!key) return fail(401, '50103', 'Request header "OK-ACCESS-KEY" cannot be empty.');
  if (!pass) return fail(401, '50104', 'Request header "OK-ACCESS-PASSPHRASE" cannot be empty.');
  if (!sign) return fail(401, '50106', 'Request header "OK-ACCESS-SIGN" cannot be empty.');
  if (!ts) return fail(401, '50107', 'Request header "OK-ACCESS-TIMESTAMP" cannot be empty.');
  const acct = deps.accounts.get(key);
  if (!acct || acct.revoked) return fail(401, '50111', 'Invalid OK-ACCESS-KEY.');
  const t = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(ts) ? Date.parse(ts) : NaN;
  if (Number.isNaN(t)) return fail(401, '50112', 'Invalid OK-ACCESS-TIMESTAMP.');
  if (Math.abs(req.now - t) > MAX_SKEW_MS) return fail(401, '50102', 'Timestamp request expired.');
  if (acct.passphrase === undefined || !safeEqual(pass, acct.passphrase)) {
    return fail(401, '50105', 'Request header "OK-ACCESS-PASSPHRASE" incorrect.');
  }
  const requestPath = req.rawQuery === '' ? req.path : `${req.path}?${req.rawQuery}`;
  const expected = hmacBase64(acct.secret, `${ts}${req.method}${requestPath}${req.body}`);
  if (!safeEqual(sign, expected)) return fail(401, '50113', 'Invalid Sign');
  return acct;
}

function balance(acct: FakeAccount, now: number): FakeResponse {
  const details = [...acct.balances()].map(([ccy, v]) => ({
    ccy,
    cashBal: v,
    availBal: v,
    eq: v,
    frozenBal: '0',
  }));
  return ok([{ uTime: String(now), totalEq: '', details }]);
}

function fillsHistory(q: URLSearchParams, acct: FakeAccount, now: number): FakeResponse {
  const instType = q.get('instType');
  if (!instType) return fail(400, '50014', 'Parameter instType can not be empty.');
  if (!['SPOT', 'MARGIN', 'SWAP', 'FUTURES', 'OPTION'].includes(instType)) {
    return fail(400, '51000', 'Parameter instType error');
  }
  const num: Record<string, bigint | number | undefined> = {};
  for (const k of ['after', 'before']) {
    const v = q.get(k);
    if (v === null || v === '') continue;
    if (!/^\d{1,20}$/.test(v)) return fail(400, '51000', `Parameter ${k} error`);
    num[k] = BigInt(v);
  }
  for (const k of ['begin', 'end', 'limit']) {
    const v = q.get(k);
    if (v === null || v === '') continue;
    const n = parseUint(v);
    if (n === undefined) return fail(400, '51000', `Parameter ${k} error`);
    num[k] = n;
  }
  const limit = (num.limit as number | undefined) ?? 100;
  if (limit < 1 || limit > 100) return fail(400, '51000', 'Parameter limit error');
  const instId = q.get('instId');
  const market = instId ? allMarkets().find((m) => okxInstId(m) === instId) : undefined;
  if (instId && !market) return fail(400, '51001', "Instrument ID doesn't exist.");
  if (instType !== 'SPOT') return ok([]);
  const ordId = q.get('ordId');

  const all = market ? acct.byMarket(market.market) : acct.fills;
  // Only the last 3 months exist here; `begin`/`end` are further (inclusive) bounds on ts.
  const from = Math.max(now - OKX_HISTORY_MS, (num.begin as number | undefined) ?? 0);
  const to = (num.end as number | undefined) ?? Number.MAX_SAFE_INTEGER;
  // Bill ids grow with trade ids, which grow with time: the cursors are index bounds.
  const idOf = (b: bigint) => Number(b - BILL_BASE);
  let lo = lowerBoundTime(all, from);
  let hi = lowerBoundTime(all, to + 1);
  if (num.after !== undefined) hi = Math.min(hi, lowerBoundId(all, idOf(num.after as bigint)));
  if (num.before !== undefined)
    lo = Math.max(lo, lowerBoundId(all, idOf(num.before as bigint) + 1));
  const after = num.after as bigint | undefined;
  const before = num.before as bigint | undefined;
  const keep = (f: GeneratedFill) => {
    const b = BILL_BASE + BigInt(f.id);
    return (
      (after === undefined || b < after) &&
      (before === undefined || b > before) &&
      (ordId === null || okxOrdId(f) === ordId)
    );
  };
  const out: GeneratedFill[] = [];
  if (before !== undefined && after === undefined) {
    // The records just newer than `before`, still listed newest first.
    for (let i = lo; i < hi && out.length < limit; i++) if (keep(all[i]!)) out.push(all[i]!);
    out.reverse();
  } else {
    for (let i = hi - 1; i >= lo && out.length < limit; i--) if (keep(all[i]!)) out.push(all[i]!);
  }
  return ok(out.map(renderOkxFill));
}
