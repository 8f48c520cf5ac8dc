/**
 * What a complete connector must return for an account, per exchange: the generator's fills
 * mapped to the enclave's `Fill` (src/enclave/exchanges/types.ts) with the ids and decimal
 * strings exactly as this fake serves them. Tests compare a connector's listing against it
 * (decimal strings may need normalizing: Binance pads to 8 decimals).
 */
import type { Fill } from '../../src/enclave/exchanges/types.js';
import { renderBinanceTrade } from './binance.js';
import { bybitExecId, bybitOrderId } from './bybit.js';
import { coinbaseCommission, renderCoinbaseFill } from './coinbase.js';
import type { FakeAccount } from './context.js';
import { receivedCurrencyFee, type GeneratedFill } from './generator.js';
import { OKX_HISTORY_MS, okxOrdId } from './okx.js';

export type FakeExchangeName = Fill['exchange'];

export interface ExpectedQuery {
  /** Window [from, to), ms. */
  from?: number;
  to?: number;
  /** Unified symbols (`BTC/USDT`); all when absent. */
  symbols?: readonly string[];
  /** Server time, for OKX's 3-month horizon. Default Date.now(). */
  now?: number;
}

function native(f: GeneratedFill): { cost: string; currency: string } {
  const { fee, feeAsset } = receivedCurrencyFee(f);
  return { cost: fee, currency: feeAsset };
}

export function toFill(exchange: FakeExchangeName, f: GeneratedFill): Fill {
  const common = {
    exchange,
    symbol: `${f.base}/${f.quote}`,
    base: f.base,
    quote: f.quote,
    side: f.side,
    timestamp: f.time,
  };
  switch (exchange) {
    case 'binance': {
      const r = renderBinanceTrade(f);
      return {
        ...common,
        id: String(f.id),
        orderId: String(f.orderId),
        price: r.price,
        amount: r.qty,
        fee: { cost: f.fee, currency: f.feeAsset },
      };
    }
    case 'bybit':
      return {
        ...common,
        id: bybitExecId(f),
        orderId: bybitOrderId(f),
        price: f.price,
        amount: f.qty,
        fee: native(f),
      };
    case 'okx':
      return {
        ...common,
        id: String(f.id),
        orderId: okxOrdId(f),
        price: f.price,
        amount: f.qty,
        fee: native(f),
      };
    case 'coinbase':
      return {
        ...common,
        id: String(f.id),
        orderId: renderCoinbaseFill(f).order_id,
        price: f.price,
        amount: f.qty,
        fee: { cost: coinbaseCommission(f), currency: f.quote },
      };
  }
}

/** The account's fills in [from, to) as `Fill`s, in time order (ties by id). */
export function expectedFills(
  exchange: FakeExchangeName,
  account: FakeAccount,
  q: ExpectedQuery = {},
): Fill[] {
  let from = q.from ?? -Infinity;
  if (exchange === 'okx') from = Math.max(from, (q.now ?? Date.now()) - OKX_HISTORY_MS);
  const to = q.to ?? Infinity;
  const symbols = q.symbols ? new Set(q.symbols) : undefined;
  const out: Fill[] = [];
  for (const f of account.fills) {
    if (f.time < from || f.time >= to) continue;
    if (symbols && !symbols.has(`${f.base}/${f.quote}`)) continue;
    out.push(toFill(exchange, f));
  }
  return out;
}
