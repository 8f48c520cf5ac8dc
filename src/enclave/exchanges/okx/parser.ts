/**
 * OKX v5 JSON → `Fill` (`GET /api/v5/trade/fills-history`, "Get transaction details (last 3
 * months)"). `instId` `BTC-USDT` gives the unified symbol; `fillPx`/`fillSz` price and amount;
 * `fee` is signed the OKX way (negative = charged, positive = rebate) in `feeCcy`: a charge
 * becomes the positive fee cost, a rebate (which the `Fill` contract, fee cost ≥ 0, cannot
 * carry) is reported as no fee. `billId` is the paging cursor.
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
} from '../fills.js';
import type { Fill } from '../types.js';
import { AccountIdWireSchema } from '../account-id.js';

const FillSchema = z.object({
  instId: z.string().regex(/^[A-Z0-9]{1,20}-[A-Z0-9]{1,20}$/),
  tradeId: IdSchema,
  ordId: IdSchema,
  billId: z.string().regex(/^\d{1,20}$/),
  fillPx: PositiveDecimalSchema,
  fillSz: PositiveDecimalSchema,
  side: z.enum(['buy', 'sell']),
  fee: z
    .string()
    .regex(/^-?\d{1,40}(\.\d{1,40})?$/)
    .or(z.literal('')),
  feeCcy: AssetSchema.or(z.literal('')),
  ts: MillisSchema,
});

const PageSchema = z.object({ code: z.literal('0'), data: z.array(FillSchema).max(1000) });

export interface OkxRow {
  billId: bigint;
  fill: Fill;
}

export function parseOkxFills(json: unknown): OkxRow[] {
  return parseWire(PageSchema, json, 'okx-fills').data.map((r) => {
    const [base, quote] = r.instId.split('-') as [string, string];
    let fee: Fill['fee'] = null;
    if (r.fee.startsWith('-') && !isZeroDecimal(r.fee)) {
      if (r.feeCcy === '') throw new ExchangeError('EXCHANGE_BAD_RESPONSE', 'okx-fee');
      fee = { cost: r.fee.slice(1), currency: r.feeCcy.toUpperCase() };
    }
    return {
      billId: BigInt(r.billId),
      fill: {
        exchange: 'okx',
        symbol: `${base}/${quote}`,
        base,
        quote,
        id: r.tradeId,
        orderId: r.ordId,
        side: r.side,
        price: r.fillPx,
        amount: r.fillSz,
        fee,
        timestamp: r.ts,
      },
    };
  });
}

const ConfigSchema = z.object({
  code: z.literal('0'),
  data: z.array(z.object({ uid: AccountIdWireSchema })).length(1),
});

/** `/api/v5/account/config` ("Get account configuration"): the account's `uid`. */
export function parseOkxAccountId(json: unknown): string {
  return parseWire(ConfigSchema, json, 'okx-account-config').data[0]!.uid;
}
