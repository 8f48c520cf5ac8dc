/**
 * OKX v5 completeness: `/api/v5/trade/fills-history` (instType SPOT) serves the last 3 months,
 * newest first, 100 rows a page; `after=<billId>` asks for the rows older than that bill, which
 * is a stable cursor (bill ids are unique, and pages never split on time). `begin`/`end`
 * (inclusive, ms) bound the window. Older fills exist only in OKX's quarterly archive, an
 * apply-then-download flow of CSV files (`/api/v5/trade/fills-archive`) that this connector does
 * not follow: when the window reaches further back than 3 months, the listing says so in
 * `coveredFrom` instead of silently presenting a shorter history as the whole one.
 *
 * Without `query.symbols` one scan covers every spot instrument (symbols reported: those with
 * fills); with symbols, each is scanned by `instId`. Account id: `uid` of
 * `/api/v5/account/config`.
 */
import type { ListingContext, PagerResult } from '../context.js';
import { ExchangeError } from '../errors.js';
import { encodeQuery, splitSymbol } from '../fills.js';
import { parseOkxAccountId, parseOkxFills } from './parser.js';
import { signOkxRequest } from './signer.js';

const DAY_MS = 86_400_000;
/** "Last 3 months", less a margin for the clocks. */
export const OKX_HISTORY_MS = 90 * DAY_MS - 3_600_000;
export const OKX_PAGE = 100;

function passphraseOf(ctx: ListingContext): string {
  const passphrase = ctx.credentials.passphrase;
  if (passphrase === undefined) throw new ExchangeError('EXCHANGE_KEY_REJECTED', 'okx-passphrase');
  return passphrase;
}

async function accountId(ctx: ListingContext): Promise<string> {
  const passphrase = passphraseOf(ctx);
  const json = await ctx.session.send(
    () =>
      signOkxRequest({
        baseUrl: ctx.baseUrl,
        path: '/api/v5/account/config',
        query: '',
        apiKey: ctx.credentials.apiKey,
        secret: ctx.credentials.apiSecret,
        passphrase,
        timestamp: ctx.session.now(),
      }),
    1,
  );
  return parseOkxAccountId(json);
}

async function scan(ctx: ListingContext, begin: number, instId: string | undefined) {
  const passphrase = passphraseOf(ctx);
  let after: bigint | undefined;
  for (;;) {
    const params: [string, string][] = [
      ['instType', 'SPOT'],
      ...(instId ? ([['instId', instId]] as [string, string][]) : []),
      ['begin', String(begin)],
      ['end', String(ctx.query.to - 1)],
      ['limit', String(OKX_PAGE)],
    ];
    if (after !== undefined) params.push(['after', String(after)]);
    const query = encodeQuery(params);
    const json = await ctx.session.send(
      () =>
        signOkxRequest({
          baseUrl: ctx.baseUrl,
          path: '/api/v5/trade/fills-history',
          query,
          apiKey: ctx.credentials.apiKey,
          secret: ctx.credentials.apiSecret,
          passphrase,
          timestamp: ctx.session.now(),
        }),
      1,
    );
    const rows = parseOkxFills(json);
    ctx.fills.addAll(rows.map((r) => r.fill));
    ctx.progress();
    if (rows.length < OKX_PAGE) return;
    let oldest = rows[0]!.billId;
    for (const r of rows) if (r.billId < oldest) oldest = r.billId;
    if (after !== undefined && oldest >= after)
      throw new ExchangeError('EXCHANGE_BAD_RESPONSE', 'okx-cursor');
    after = oldest;
  }
}

export async function listOkx(ctx: ListingContext): Promise<PagerResult> {
  const account = await accountId(ctx);
  const horizon = ctx.session.now() - OKX_HISTORY_MS;
  const begin = Math.max(ctx.query.from, horizon);
  let symbols: string[] | undefined;
  if (begin < ctx.query.to) {
    if (ctx.query.symbols) {
      symbols = [...new Set(ctx.query.symbols)].sort();
      for (const s of symbols) {
        const { base, quote } = splitSymbol(s);
        await scan(ctx, begin, `${base}-${quote}`);
      }
    } else await scan(ctx, begin, undefined);
  }
  return {
    symbols: symbols ?? [...ctx.fills.symbols()],
    accountId: account,
    symbolsComplete: !ctx.query.symbols,
    ...(begin > ctx.query.from ? { coveredFrom: Math.min(begin, ctx.query.to) } : {}),
  };
}
