/**
 * Coinbase Advanced Trade completeness ("List Fills"): `start_sequence_timestamp` /
 * `end_sequence_timestamp` (RFC 3339) bound the window, `limit` caps a page, and the answer's
 * `cursor` continues the same query until it comes back empty. Fills are keyed by trade id, so
 * a fill repeated across pages is kept once. Without `query.symbols` one scan covers every
 * product (symbols reported: those with fills); with symbols, each is asked for by `product_ids`.
 * Account id: the key's `portfolio_uuid` (`/api/v3/brokerage/key_permissions`).
 */
import { randomBytes } from 'node:crypto';
import type { ListingContext, PagerResult } from '../context.js';
import { ExchangeError } from '../errors.js';
import { encodeQuery, splitSymbol } from '../fills.js';
import { parseCoinbaseAccountId, parseCoinbaseFills } from './parser.js';
import { signCoinbaseRequest } from './signer.js';

export const COINBASE_PAGE = 250;
const MAX_PAGES = 100_000;

async function scan(ctx: ListingContext, productId: string | undefined): Promise<void> {
  let cursor = '';
  const seen = new Set<string>();
  for (let i = 0; i < MAX_PAGES; i++) {
    const params: [string, string][] = [
      ...(productId ? ([['product_ids', productId]] as [string, string][]) : []),
      ['start_sequence_timestamp', new Date(ctx.query.from).toISOString()],
      ['end_sequence_timestamp', new Date(ctx.query.to).toISOString()],
      ['limit', String(COINBASE_PAGE)],
    ];
    if (cursor) params.push(['cursor', cursor]);
    const query = encodeQuery(params);
    const json = await ctx.session.send(
      () =>
        signCoinbaseRequest({
          baseUrl: ctx.baseUrl,
          path: '/api/v3/brokerage/orders/historical/fills',
          query,
          apiKey: ctx.credentials.apiKey,
          secret: ctx.credentials.apiSecret,
          timestampS: Math.floor(ctx.session.now() / 1000),
          nonce: randomBytes(16).toString('hex'),
        }),
      1,
    );
    const page = parseCoinbaseFills(json);
    ctx.fills.addAll(page.fills);
    ctx.progress();
    if (!page.cursor || page.rows === 0) return;
    if (seen.has(page.cursor))
      throw new ExchangeError('EXCHANGE_BAD_RESPONSE', 'coinbase-cursor-loop');
    seen.add(page.cursor);
    cursor = page.cursor;
  }
  throw new ExchangeError('EXCHANGE_BAD_RESPONSE', 'coinbase-cursor-loop');
}

async function accountId(ctx: ListingContext): Promise<string> {
  const json = await ctx.session.send(
    () =>
      signCoinbaseRequest({
        baseUrl: ctx.baseUrl,
        path: '/api/v3/brokerage/key_permissions',
        query: '',
        apiKey: ctx.credentials.apiKey,
        secret: ctx.credentials.apiSecret,
        timestampS: Math.floor(ctx.session.now() / 1000),
        nonce: randomBytes(16).toString('hex'),
      }),
    1,
  );
  return parseCoinbaseAccountId(json);
}

export async function listCoinbase(ctx: ListingContext): Promise<PagerResult> {
  const account = await accountId(ctx);
  if (ctx.query.symbols) {
    const symbols = [...new Set(ctx.query.symbols)].sort();
    for (const s of symbols) {
      const { base, quote } = splitSymbol(s);
      await scan(ctx, `${base}-${quote}`);
    }
    return { symbols, accountId: account, symbolsComplete: false };
  }
  await scan(ctx, undefined);
  return { symbols: [...ctx.fills.symbols()], accountId: account, symbolsComplete: true };
}
