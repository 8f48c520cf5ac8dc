/**
 * Bybit v5 JSON → `Fill` (`GET /v5/execution/list`, `docs/v5/order/execution.mdx`) and the
 * spot instrument list (`GET /v5/market/instruments-info?category=spot`) that maps `BTCUSDT`
 * to `BTC/USDT`. Only `execType: Trade` rows are fills (funding, settlement, … are not).
 * `execFee` is in `feeCurrency`; older spot answers leave it empty, and then Bybit's spot rule
 * applies: a buy pays in the base coin, a sell in the quote coin. A negative `execFee` is a
 * maker rebate, which the `Fill` contract (fee cost ≥ 0) cannot carry: it is reported as no fee.
 */
import { z } from 'zod';
import { ExchangeError } from '../errors.js';
import {
  AssetSchema,
  IdSchema,
  isZeroDecimal,
  MillisSchema,
  parseWire,
  PositiveDecimalSchema,
  type Market,
} from '../fills.js';
import type { Fill } from '../types.js';
import { AccountIdWireSchema } from '../account-id.js';

const Envelope = <T extends z.ZodType>(result: T) => z.object({ retCode: z.literal(0), result });

const ExecutionSchema = z.object({
  symbol: z.string().regex(/^[A-Z0-9]{2,40}$/),
  side: z.enum(['Buy', 'Sell']),
  orderId: IdSchema,
  execId: IdSchema,
  execPrice: PositiveDecimalSchema,
  execQty: PositiveDecimalSchema,
  execFee: z
    .string()
    .regex(/^-?\d{1,40}(\.\d{1,40})?$/)
    .or(z.literal('')),
  feeCurrency: AssetSchema.or(z.literal('')).optional(),
  execType: z.string(),
  execTime: MillisSchema,
});

const ExecutionPageSchema = Envelope(
  z.object({
    list: z.array(ExecutionSchema).max(1000),
    nextPageCursor: z.string().max(512).optional().default(''),
  }),
);

export interface BybitPage {
  fills: Fill[];
  /** '' when this was the last page. */
  nextCursor: string;
}

export function parseBybitExecutions(
  json: unknown,
  markets: ReadonlyMap<string, Market>,
): BybitPage {
  const page = parseWire(ExecutionPageSchema, json, 'bybit-executions').result;
  const fills: Fill[] = [];
  for (const r of page.list) {
    if (r.execType !== 'Trade') continue;
    const m = markets.get(r.symbol);
    if (!m) throw new ExchangeError('EXCHANGE_BAD_RESPONSE', 'bybit-symbol');
    const side = r.side === 'Buy' ? 'buy' : 'sell';
    const currency = r.feeCurrency
      ? r.feeCurrency.toUpperCase()
      : side === 'buy'
        ? m.base
        : m.quote;
    const fee =
      r.execFee === '' || r.execFee.startsWith('-') || isZeroDecimal(r.execFee)
        ? null
        : { cost: r.execFee, currency };
    fills.push({
      exchange: 'bybit',
      symbol: m.symbol,
      base: m.base,
      quote: m.quote,
      id: r.execId,
      orderId: r.orderId,
      side,
      price: r.execPrice,
      amount: r.execQty,
      fee,
      timestamp: r.execTime,
    });
  }
  return { fills, nextCursor: page.nextPageCursor };
}

const InstrumentsSchema = Envelope(
  z.object({
    list: z.array(
      z.object({
        symbol: z.string().regex(/^[A-Z0-9]{2,40}$/),
        baseCoin: AssetSchema,
        quoteCoin: AssetSchema,
      }),
    ),
    nextPageCursor: z.string().max(512).optional().default(''),
  }),
);

export function parseBybitInstruments(json: unknown): { markets: Market[]; nextCursor: string } {
  const r = parseWire(InstrumentsSchema, json, 'bybit-instruments').result;
  return {
    markets: r.list.map((i) => {
      const base = i.baseCoin.toUpperCase();
      const quote = i.quoteCoin.toUpperCase();
      return { symbol: `${base}/${quote}`, base, quote, native: i.symbol };
    }),
    nextCursor: r.nextPageCursor,
  };
}

const ApiKeyInfoSchema = Envelope(z.object({ userID: AccountIdWireSchema }));

/** `/v5/user/query-api` ("Get API Key Information"): the key's `userID`. */
export function parseBybitAccountId(json: unknown): string {
  return parseWire(ApiKeyInfoSchema, json, 'bybit-query-api').result.userID;
}
