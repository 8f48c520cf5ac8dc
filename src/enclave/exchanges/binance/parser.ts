/**
 * Binance spot JSON → `Fill` (`GET /api/v3/myTrades`, `rest-api.md` "Account trade list"),
 * plus the two discovery answers (`/api/v3/exchangeInfo` symbols, `/api/v3/account` balances).
 * Decimal strings are kept as Binance printed them. `isBuyer` gives the side; `commission` in
 * `commissionAsset` is the fee (quote, base or a third asset such as BNB); a zero commission is
 * no fee. Validation is by zod: a response of another shape is EXCHANGE_BAD_RESPONSE.
 */
import { z } from 'zod';
import {
  AssetSchema,
  DecimalSchema,
  IdSchema,
  isZeroDecimal,
  MillisSchema,
  parseWire,
  PositiveDecimalSchema,
  type Market,
} from '../fills.js';
import { ExchangeError } from '../errors.js';
import type { Fill } from '../types.js';
import { AccountIdWireSchema } from '../account-id.js';

const TradeSchema = z.object({
  symbol: z.string(),
  id: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  orderId: IdSchema,
  price: PositiveDecimalSchema,
  qty: PositiveDecimalSchema,
  commission: DecimalSchema,
  commissionAsset: AssetSchema.or(z.literal('')),
  time: MillisSchema,
  isBuyer: z.boolean(),
});
const TradesSchema = z.array(TradeSchema).max(1000);

export interface BinanceTrade {
  /** Numeric trade id, the `fromId` cursor. */
  id: number;
  fill: Fill;
}

/** Parses one page of myTrades for `market` (every row must be of that symbol). */
export function parseBinanceTrades(json: unknown, market: Market): BinanceTrade[] {
  const rows = parseWire(TradesSchema, json, 'binance-trades');
  return rows.map((r) => {
    if (r.symbol !== market.native)
      throw new ExchangeError('EXCHANGE_BAD_RESPONSE', 'binance-trades');
    const fee =
      isZeroDecimal(r.commission) || r.commissionAsset === ''
        ? null
        : { cost: r.commission, currency: r.commissionAsset.toUpperCase() };
    return {
      id: r.id,
      fill: {
        exchange: 'binance',
        symbol: market.symbol,
        base: market.base,
        quote: market.quote,
        id: String(r.id),
        orderId: r.orderId,
        side: r.isBuyer ? 'buy' : 'sell',
        price: r.price,
        amount: r.qty,
        fee,
        timestamp: r.time,
      },
    };
  });
}

const ExchangeInfoSchema = z.object({
  symbols: z.array(
    z.object({
      symbol: z.string().regex(/^[A-Z0-9]{2,40}$/),
      baseAsset: AssetSchema,
      quoteAsset: AssetSchema,
    }),
  ),
});

export function parseBinanceMarkets(json: unknown): Market[] {
  return parseWire(ExchangeInfoSchema, json, 'binance-exchange-info').symbols.map((s) => {
    const base = s.baseAsset.toUpperCase();
    const quote = s.quoteAsset.toUpperCase();
    return { symbol: `${base}/${quote}`, base, quote, native: s.symbol };
  });
}

const AccountSchema = z.object({
  uid: AccountIdWireSchema.optional(),
  balances: z.array(z.object({ asset: AssetSchema, free: DecimalSchema, locked: DecimalSchema })),
});

/** Assets with a non-zero balance (free or locked). */
export function parseBinanceHeldAssets(json: unknown): Set<string> {
  return parseBinanceAccount(json).held;
}

/** `/api/v3/account`: the account's `uid` and its assets with a non-zero balance. */
export function parseBinanceAccount(json: unknown): { held: Set<string>; accountId?: string } {
  const acct = parseWire(AccountSchema, json, 'binance-account');
  const held = new Set(
    acct.balances
      .filter((b) => !isZeroDecimal(b.free) || !isZeroDecimal(b.locked))
      .map((b) => b.asset.toUpperCase()),
  );
  return acct.uid !== undefined ? { held, accountId: acct.uid } : { held };
}
