/**
 * Coinbase Advanced Trade JSON → `Fill` (`GET /api/v3/brokerage/orders/historical/fills`,
 * "List Fills"): `{ fills: [...], cursor }`. Only `trade_type: FILL` rows are fills (REVERSAL,
 * CORRECTION and SYNTHETIC rows are adjustments). `product_id` `BTC-USD` gives the symbol; the
 * commission is in the quote currency; `trade_time` is RFC 3339 with up to nanoseconds
 * (truncated to the millisecond). When `size_in_quote` is true, `size` is the quote amount and
 * the base amount is size ÷ price, computed exactly in decimal and truncated to 18 places (as
 * ccxt's `Precise.stringDiv` does).
 */
import { z } from 'zod';
import { ExchangeError } from '../errors.js';
import {
  DecimalSchema,
  IdSchema,
  isZeroDecimal,
  parseWire,
  PositiveDecimalSchema,
} from '../fills.js';
import type { Fill } from '../types.js';
import { AccountIdWireSchema } from '../account-id.js';

const TIME_RE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z$/;

export function parseRfc3339Ms(s: string): number {
  const m = TIME_RE.exec(s);
  const t = m ? Date.parse(`${m[1]}Z`) : NaN;
  if (Number.isNaN(t)) throw new ExchangeError('EXCHANGE_BAD_RESPONSE', 'coinbase-time');
  return t + Number((m![2] ?? '').padEnd(3, '0').slice(0, 3));
}

/** a ÷ b for positive decimal strings, truncated to `dp` places. */
export function divDecimal(a: string, b: string, dp = 18): string {
  const scale = (s: string) => {
    const [i, f = ''] = s.split('.');
    return { n: BigInt(`${i}${f}`), d: f.length };
  };
  const x = scale(a);
  const y = scale(b);
  // a/b = (x.n / 10^x.d) / (y.n / 10^y.d); times 10^dp, integer division truncates.
  const q = (x.n * 10n ** BigInt(dp + y.d)) / (y.n * 10n ** BigInt(x.d));
  const s = q.toString().padStart(dp + 1, '0');
  const out = `${s.slice(0, -dp)}.${s.slice(-dp)}`.replace(/\.?0+$/, '');
  return out;
}

const FillSchema = z.object({
  trade_id: IdSchema,
  order_id: IdSchema,
  trade_time: z.string().regex(TIME_RE),
  trade_type: z.string(),
  price: PositiveDecimalSchema,
  size: PositiveDecimalSchema,
  commission: DecimalSchema,
  product_id: z.string().regex(/^[A-Z0-9]{1,20}-[A-Z0-9]{1,20}$/),
  size_in_quote: z.boolean().optional(),
  side: z.enum(['BUY', 'SELL']),
});

const PageSchema = z.object({
  fills: z.array(FillSchema).max(10_000),
  cursor: z.string().max(512).optional().default(''),
});

export function parseCoinbaseFills(json: unknown): { fills: Fill[]; cursor: string; rows: number } {
  const page = parseWire(PageSchema, json, 'coinbase-fills');
  const fills: Fill[] = [];
  for (const r of page.fills) {
    if (r.trade_type !== 'FILL') continue;
    const [base, quote] = r.product_id.split('-') as [string, string];
    const amount = r.size_in_quote ? divDecimal(r.size, r.price) : r.size;
    if (isZeroDecimal(amount)) throw new ExchangeError('EXCHANGE_BAD_RESPONSE', 'coinbase-size');
    fills.push({
      exchange: 'coinbase',
      symbol: `${base}/${quote}`,
      base,
      quote,
      id: r.trade_id,
      orderId: r.order_id,
      side: r.side === 'BUY' ? 'buy' : 'sell',
      price: r.price,
      amount,
      fee: isZeroDecimal(r.commission) ? null : { cost: r.commission, currency: quote },
      timestamp: parseRfc3339Ms(r.trade_time),
    });
  }
  return { fills, cursor: page.cursor, rows: page.fills.length };
}

const KeyPermissionsSchema = z.object({ portfolio_uuid: AccountIdWireSchema });

/** `/api/v3/brokerage/key_permissions`: the portfolio the key belongs to (`portfolio_uuid`). */
export function parseCoinbaseAccountId(json: unknown): string {
  return parseWire(KeyPermissionsSchema, json, 'coinbase-key-permissions').portfolio_uuid;
}
