/**
 * Bybit v5 completeness (`docs/v5/order/execution.mdx`): `/v5/execution/list` with
 * `category=spot` serves at most 7 days per query (no times: the last 7 days only), newest
 * first, 100 rows a page, and a `nextPageCursor` that is valid within that query; history
 * reaches back 2 years. So the window [from, to) is walked in 7-day slices
 * `[w, min(w + 7 d, to) − 1]` (the API's bounds are inclusive), and each slice by cursor until
 * the cursor is empty. Fills repeated across pages (Bybit warns of "sorting issues when
 * execTime is the same") are deduplicated by (symbol, execId).
 *
 * Without `query.symbols` one account-wide scan covers every spot symbol; the symbols reported
 * are those with fills (a subset of what was covered, so never an over-claim). With symbols,
 * each is scanned on its own. The instrument list maps `BTCUSDT` to `BTC/USDT`. Account id:
 * `userID` of `/v5/user/query-api`.
 */
import type { ListingContext, PagerResult } from '../context.js';
import { ExchangeError } from '../errors.js';
import { splitSymbol, type Market } from '../fills.js';
import { parseBybitAccountId, parseBybitExecutions, parseBybitInstruments } from './parser.js';
import { bybitQuery, signBybitRequest } from './signer.js';

const DAY_MS = 86_400_000;
export const BYBIT_WINDOW_MS = 7 * DAY_MS;
/** Two years, less a margin so the first slice is not refused at the edge. */
export const BYBIT_HISTORY_MS = 730 * DAY_MS - 3_600_000;
export const BYBIT_PAGE = 100;
/** A window holding more pages than this is treated as a misbehaving server. */
const MAX_PAGES_PER_WINDOW = 100_000;

type Params = [string, string][];

async function instruments(ctx: ListingContext): Promise<Map<string, Market>> {
  const out = new Map<string, Market>();
  let cursor = '';
  for (let i = 0; i < 100; i++) {
    const params: Params = [
      ['category', 'spot'],
      ['limit', '1000'],
    ];
    if (cursor) params.push(['cursor', cursor]);
    const q = bybitQuery(params);
    const json = await ctx.session.send(
      () => ({
        method: 'GET',
        url: `${ctx.baseUrl}/v5/market/instruments-info?${q}`,
        headers: {},
      }),
      1,
    );
    const page = parseBybitInstruments(json);
    for (const m of page.markets) out.set(m.native, m);
    if (!page.nextCursor || page.nextCursor === cursor) return out;
    cursor = page.nextCursor;
  }
  throw new ExchangeError('EXCHANGE_BAD_RESPONSE', 'bybit-instruments-cursor');
}

async function scanWindow(
  ctx: ListingContext,
  markets: ReadonlyMap<string, Market>,
  start: number,
  end: number,
  native: string | undefined,
): Promise<void> {
  let cursor = '';
  const seen = new Set<string>();
  for (let i = 0; i < MAX_PAGES_PER_WINDOW; i++) {
    const params: Params = [
      ['category', 'spot'],
      ...(native ? ([['symbol', native]] as Params) : []),
      ['execType', 'Trade'],
      ['startTime', String(start)],
      ['endTime', String(end)],
      ['limit', String(BYBIT_PAGE)],
    ];
    if (cursor) params.push(['cursor', cursor]);
    const query = bybitQuery(params);
    const json = await ctx.session.send(
      () =>
        signBybitRequest({
          baseUrl: ctx.baseUrl,
          path: '/v5/execution/list',
          query,
          apiKey: ctx.credentials.apiKey,
          secret: ctx.credentials.apiSecret,
          timestamp: ctx.session.now(),
          recvWindow: ctx.recvWindowMs,
        }),
      1,
    );
    const page = parseBybitExecutions(json, markets);
    ctx.fills.addAll(page.fills);
    ctx.progress();
    if (!page.nextCursor) return;
    if (seen.has(page.nextCursor))
      throw new ExchangeError('EXCHANGE_BAD_RESPONSE', 'bybit-cursor-loop');
    seen.add(page.nextCursor);
    cursor = page.nextCursor;
  }
  throw new ExchangeError('EXCHANGE_BAD_RESPONSE', 'bybit-cursor-loop');
}

async function accountId(ctx: ListingContext): Promise<string> {
  const json = await ctx.session.send(
    () =>
      signBybitRequest({
        baseUrl: ctx.baseUrl,
        path: '/v5/user/query-api',
        query: '',
        apiKey: ctx.credentials.apiKey,
        secret: ctx.credentials.apiSecret,
        timestamp: ctx.session.now(),
        recvWindow: ctx.recvWindowMs,
      }),
    1,
  );
  return parseBybitAccountId(json);
}

export async function listBybit(ctx: ListingContext): Promise<PagerResult> {
  const account = await accountId(ctx);
  const markets = await instruments(ctx);
  const horizon = ctx.session.now() - BYBIT_HISTORY_MS;
  const start = Math.max(ctx.query.from, horizon);
  const { to } = ctx.query;
  let scopes: (Market | undefined)[] = [undefined];
  if (ctx.query.symbols) {
    const wanted = new Set(ctx.query.symbols.map((s) => (splitSymbol(s), s)));
    const bySymbol = new Map([...markets.values()].map((m) => [m.symbol, m]));
    scopes = [...wanted].sort().flatMap((s) => bySymbol.get(s) ?? []);
  }
  for (const scope of scopes)
    for (let w = start; w < to; w += BYBIT_WINDOW_MS)
      await scanWindow(ctx, markets, w, Math.min(w + BYBIT_WINDOW_MS, to) - 1, scope?.native);
  const symbols = ctx.query.symbols ? scopes.map((m) => m!.symbol) : [...ctx.fills.symbols()];
  return {
    symbols,
    accountId: account,
    symbolsComplete: !ctx.query.symbols,
    // Bybit keeps 2 years: anything older does not exist there.
    ...(start > ctx.query.from ? { coveredFrom: start } : {}),
  };
}
