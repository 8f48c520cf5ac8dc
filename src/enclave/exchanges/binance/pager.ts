/**
 * Binance spot completeness (`rest-api.md` "Account trade list", CHANGELOG 2022-12): myTrades
 * needs a symbol, returns at most 1,000 rows, takes `fromId` (trade id ≥, ascending) **or** a
 * time range of at most 24 h, never both. Timestamps cannot page safely (fills share a
 * millisecond), so per symbol:
 *
 * 1. find the first trade id at or after `from`: a 24 h window probe `[from, from+24h)` for a
 *    full page answers in one call when that day holds fewer than a page (its smallest id, in
 *    whatever order the server lists a time range). Otherwise an upper bound (the probe's
 *    smallest id, or the newest trade, which also says whether anything exists after `from`),
 *    the oldest trade (`fromId=0`: is the whole history inside the window?), and a binary
 *    search over ids with `fromId=x&limit=1` (ids grow with time per symbol) find it in
 *    log2(id) calls, where walking 24 h windows would cost one call per day of the window;
 * 2. page by `fromId` with limit 1,000 until a short page or a trade at or after `to`.
 *
 * Symbols: the query's, else discovered from the account: assets with a balance, paired with
 * the configured quote assets, among the exchange's spot symbols (a compatible service without
 * `/api/v3/account` gets every quoted symbol scanned, when there are at most 60). A symbol the exchange does not
 * list is skipped, and only scanned symbols are reported. Discovery by balance misses a symbol
 * whose base asset was sold out, so a Binance listing is never `symbolsComplete`.
 *
 * Account id: `uid` of `/api/v3/account` (read with the balances, or on its own when the query
 * names its symbols).
 */
import type { ListingContext, PagerResult } from '../context.js';
import { ExchangeError } from '../errors.js';
import { splitSymbol, type Market } from '../fills.js';
import { parseBinanceAccount, parseBinanceMarkets, parseBinanceTrades } from './parser.js';
import type { BinanceTrade } from './parser.js';
import { BINANCE_WEIGHT } from './profile.js';
import { binancePublicRequest, signBinanceRequest } from './signer.js';

const DAY_MS = 86_400_000;
export const BINANCE_PAGE = 1000;
/** Without balances, at most this many symbols are scanned blind (2 × 20 weight each). */
const MAX_BLIND_SYMBOLS = 60;

type Params = [string, string][];

function signed(ctx: ListingContext, path: string, params: Params, weight: number) {
  return ctx.session.send(
    () =>
      signBinanceRequest({
        baseUrl: ctx.baseUrl,
        path,
        params,
        apiKey: ctx.credentials.apiKey,
        secret: ctx.credentials.apiSecret,
        timestamp: ctx.session.now(),
        recvWindow: ctx.recvWindowMs,
      }),
    weight,
  );
}

async function trades(ctx: ListingContext, m: Market, params: Params): Promise<BinanceTrade[]> {
  const json = await signed(
    ctx,
    '/api/v3/myTrades',
    [['symbol', m.native], ...params],
    BINANCE_WEIGHT.myTrades,
  );
  const page = parseBinanceTrades(json, m);
  ctx.progress();
  return page;
}

/** The first trade id with time ≥ from (and < to), or undefined when there is none. */
async function firstIdFrom(ctx: ListingContext, m: Market, from: number, to: number) {
  // The day probe asks for a full page (same weight as one row): a short page holds every
  // trade of that day whatever order the server lists a time range in, so its smallest id is
  // the answer. A full page only bounds it from above.
  const probeEnd = Math.min(from + DAY_MS, to) - 1;
  const probe = await trades(ctx, m, [
    ['startTime', String(from)],
    ['endTime', String(probeEnd)],
    ['limit', String(BINANCE_PAGE)],
  ]);
  let upper: BinanceTrade | undefined;
  for (const t of probe) if (!upper || t.id < upper.id) upper = t;
  if (upper && probe.length < BINANCE_PAGE) return upper.id;
  if (!upper) {
    if (probeEnd + 1 >= to) return undefined;
    const newest = (await trades(ctx, m, [['limit', '1']]))[0];
    if (!newest || newest.fill.timestamp <= probeEnd) return undefined;
    upper = newest;
  }
  // The whole history inside the window (the default request) costs one more call.
  const oldest = (
    await trades(ctx, m, [
      ['fromId', '0'],
      ['limit', '1'],
    ])
  )[0];
  // A trade was seen at or after `from`: no trade at all is no answer, and the symbol must not
  // end as if it had no fills in the window (nor loop, below, on ids that do not advance).
  if (!oldest || oldest.id > upper.id)
    throw new ExchangeError('EXCHANGE_BAD_RESPONSE', 'binance-cursor');
  if (oldest.fill.timestamp >= from) return oldest.id;
  // P(x) = "the first trade with id ≥ x is at/after `from`" is monotone in x; P(upper.id) holds.
  let lo = oldest.id + 1;
  let hi = upper.id;
  let answer = upper.id;
  while (lo < hi) {
    const mid = lo + Math.floor((hi - lo) / 2);
    const t = (
      await trades(ctx, m, [
        ['fromId', String(mid)],
        ['limit', '1'],
      ])
    )[0];
    // Binance answers `fromId=x` from id x up; an empty answer below a trade already seen, or a
    // trade before x, leaves `lo` where it was (an endless search) or ends the symbol empty.
    if (!t || t.id < mid) throw new ExchangeError('EXCHANGE_BAD_RESPONSE', 'binance-cursor');
    if (t.fill.timestamp >= from) {
      hi = mid;
      answer = t.id;
    } else lo = t.id + 1;
  }
  return answer;
}

async function scanSymbol(ctx: ListingContext, m: Market): Promise<void> {
  const { from, to } = ctx.query;
  let fromId = await firstIdFrom(ctx, m, from, to);
  while (fromId !== undefined) {
    const page = await trades(ctx, m, [
      ['fromId', String(fromId)],
      ['limit', String(BINANCE_PAGE)],
    ]);
    ctx.fills.addAll(page.map((t) => t.fill));
    const last = page[page.length - 1];
    if (!last || page.length < BINANCE_PAGE || last.fill.timestamp >= to) break;
    // Strictly increasing ids, or a misbehaving server could loop us forever; a full page
    // that does not pass `fromId` is no end of the history either: refused, never signed.
    // Ids grow with time, and paging starts at the first id at or after `from`: a full page
    // ending before `from` is a server walking old ids, whose pages would never reach `to`.
    if (last.id < fromId || last.fill.timestamp < from)
      throw new ExchangeError('EXCHANGE_BAD_RESPONSE', 'binance-cursor');
    fromId = last.id + 1;
  }
}

async function account(ctx: ListingContext) {
  return parseBinanceAccount(
    await signed(ctx, '/api/v3/account', [['omitZeroBalances', 'true']], BINANCE_WEIGHT.account),
  );
}

/** The uid when the symbols are given; a compatible service without the endpoint has none. */
async function uidOnly(ctx: ListingContext): Promise<string | undefined> {
  try {
    return (await account(ctx)).accountId;
  } catch (err) {
    if (err instanceof ExchangeError && err.code === 'EXCHANGE_BAD_RESPONSE') return undefined;
    throw err;
  }
}

async function marketsToScan(
  ctx: ListingContext,
): Promise<{ markets: Market[]; accountId?: string }> {
  const info = await ctx.session.send(
    () => binancePublicRequest(ctx.baseUrl, '/api/v3/exchangeInfo'),
    BINANCE_WEIGHT.exchangeInfo,
  );
  const markets = parseBinanceMarkets(info);
  const bySymbol = new Map(markets.map((m) => [m.symbol, m]));
  if (ctx.query.symbols) {
    const wanted = new Set(ctx.query.symbols.map((s) => (splitSymbol(s), s)));
    const accountId = await uidOnly(ctx);
    return {
      markets: [...wanted].flatMap((s) => bySymbol.get(s) ?? []),
      ...(accountId !== undefined ? { accountId } : {}),
    };
  }
  const quotes = new Set(ctx.quoteAssets);
  const quoted = markets.filter((m) => quotes.has(m.quote));
  try {
    const { held, accountId } = await account(ctx);
    return {
      markets: quoted.filter((m) => held.has(m.base)),
      ...(accountId !== undefined ? { accountId } : {}),
    };
  } catch (err) {
    // A Binance-compatible service without the account endpoint: scan every quoted symbol
    // (each costs two calls when it has no fills), if there are few enough to afford it.
    if (err instanceof ExchangeError && err.code === 'EXCHANGE_BAD_RESPONSE')
      if (quoted.length <= MAX_BLIND_SYMBOLS) return { markets: quoted };
    throw err;
  }
}

export async function listBinance(ctx: ListingContext): Promise<PagerResult> {
  const scan = await marketsToScan(ctx);
  const markets = scan.markets.sort((a, b) => (a.symbol < b.symbol ? -1 : 1));
  for (const m of markets) await scanSymbol(ctx, m);
  return {
    symbols: markets.map((m) => m.symbol),
    symbolsComplete: false,
    ...(scan.accountId !== undefined ? { accountId: scan.accountId } : {}),
  };
}
