/**
 * Deterministic fill histories for the fake exchange (tests and demos only, never in `src/`).
 *
 * One seed gives one account history, the same on every run and every exchange: orders on
 * several symbols, each filled by 1..8 fills that share one millisecond (so clusters straddle
 * page edges), buys and sells, fees in the quote currency, the base currency or a third
 * currency (BNB), a gap longer than Bybit's 7-day window, and one symbol traded only once at the
 * very start. Amounts are exact integers scaled by per-symbol decimals, so every decimal
 * string is exact (no float formatting). 10^5 fills take well under a second.
 */

/** One fill, exchange-neutral; the exchange modules render it in their own wire shape. */
export interface GeneratedFill {
  /** Global trade id, strictly increasing with (time, id); per symbol too. */
  id: number;
  orderId: number;
  /** Exchange-native symbol without separator, e.g. `BTCUSDT`. */
  market: string;
  base: string;
  quote: string;
  side: 'buy' | 'sell';
  /** Exact decimal strings. */
  price: string;
  qty: string;
  quoteQty: string;
  fee: string;
  feeAsset: string;
  time: number;
  isMaker: boolean;
}

export interface MarketSpec {
  market: string;
  base: string;
  quote: string;
  /** Decimals of price and quantity. */
  priceDp: number;
  qtyDp: number;
  /** Typical price in price units (integer, scaled by priceDp). */
  price: number;
  /** Quantity range in qty units (integer, scaled by qtyDp). */
  qtyMin: number;
  qtyMax: number;
  /** Relative share of orders. */
  weight: number;
}

export const MARKETS: readonly MarketSpec[] = [
  {
    market: 'BTCUSDT',
    base: 'BTC',
    quote: 'USDT',
    priceDp: 2,
    qtyDp: 5,
    price: 6_500_000,
    qtyMin: 10,
    qtyMax: 50_000,
    weight: 35,
  },
  {
    market: 'ETHUSDT',
    base: 'ETH',
    quote: 'USDT',
    priceDp: 2,
    qtyDp: 4,
    price: 320_000,
    qtyMin: 10,
    qtyMax: 100_000,
    weight: 25,
  },
  {
    market: 'ETHBTC',
    base: 'ETH',
    quote: 'BTC',
    priceDp: 6,
    qtyDp: 4,
    price: 49_000,
    qtyMin: 10,
    qtyMax: 50_000,
    weight: 10,
  },
  {
    market: 'SOLUSDC',
    base: 'SOL',
    quote: 'USDC',
    priceDp: 3,
    qtyDp: 3,
    price: 150_000,
    qtyMin: 10,
    qtyMax: 500_000,
    weight: 15,
  },
  {
    market: 'BNBUSDT',
    base: 'BNB',
    quote: 'USDT',
    priceDp: 2,
    qtyDp: 3,
    price: 60_000,
    qtyMin: 10,
    qtyMax: 200_000,
    weight: 15,
  },
];
/** Traded exactly once, as the first fill of every history ("a symbol traded once years ago"). */
export const RARE_MARKET: MarketSpec = {
  market: 'DOGEUSDT',
  base: 'DOGE',
  quote: 'USDT',
  priceDp: 5,
  qtyDp: 0,
  price: 12_000,
  qtyMin: 100,
  qtyMax: 10_000,
  weight: 0,
};
export const THIRD_FEE_ASSET = 'BNB';
const FEE_DP = 8;

export interface GenerateOptions {
  seed: number;
  /** Number of fills (>= 1). */
  fills: number;
  /** History end (exclusive), ms since the epoch. Default 2026-11-01T00:00:00Z. */
  endMs?: number;
  /** History length in days. Default 120 (so part of it is older than OKX's 3 months). */
  days?: number;
  /** First trade id. Default 1_000_000. */
  firstId?: number;
}

export const DEFAULT_END_MS = Date.UTC(2026, 10, 1);
const DAY = 86_400_000;

/** sfc32: a small, fast, well-distributed PRNG; 32-bit state words from the seed via splitmix32. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  const split = (): number => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = split();
  let b = split();
  let c = split();
  let d = split();
  return () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
}

/** Integer `n` scaled by 10^dp as an exact decimal string (`dp` = 0 gives an integer). */
export function scaled(n: number, dp: number): string {
  if (dp === 0) return String(n);
  const s = String(n).padStart(dp + 1, '0');
  return `${s.slice(0, -dp)}.${s.slice(-dp)}`;
}

/**
 * The account's fills in time order (ties by id). Deterministic in (seed, fills, endMs, days,
 * firstId).
 */
export function generateAccountFills(opts: GenerateOptions): GeneratedFill[] {
  const n = Math.floor(opts.fills);
  if (!(n >= 1)) throw new RangeError('fills must be >= 1');
  const rnd = prng(opts.seed);
  const endMs = opts.endMs ?? DEFAULT_END_MS;
  const span = (opts.days ?? 120) * DAY;
  const startMs = endMs - span;
  // A 9-day hole in the middle: longer than Bybit's 7-day window, so a pager must cross it.
  const gapFrom = startMs + Math.floor(span * 0.45);
  const gapLen = Math.min(9 * DAY, Math.floor(span * 0.2));
  const active = span - gapLen - 1;
  const totalWeight = MARKETS.reduce((s, m) => s + m.weight, 0);
  const prices = MARKETS.map((m) => m.price);

  const out: GeneratedFill[] = new Array(n);
  let id = opts.firstId ?? 1_000_000;
  let orderId = 5_000_000;
  let k = 0;
  // Orders average 4.5 fills; spread order times evenly with jitter over the active span.
  const orders = Math.max(1, Math.ceil(n / 4.5));
  const step = active / orders;
  let t = startMs;

  const push = (
    m: MarketSpec,
    side: 'buy' | 'sell',
    priceInt: number,
    time: number,
    feeMode: number,
    maker: boolean,
  ) => {
    const qtyInt = m.qtyMin + Math.floor(rnd() * (m.qtyMax - m.qtyMin));
    // quote = price * qty at (priceDp + qtyDp) decimals; exact in a double below 2^53.
    const quoteDp = m.priceDp + m.qtyDp;
    const quoteInt = priceInt * qtyInt;
    let fee: string;
    let feeAsset: string;
    if (feeMode === 2) {
      // Third currency: 0.075% of the notional at a fixed 600 quote units per BNB, >= 1e-8.
      feeAsset = THIRD_FEE_ASSET;
      const notional = (quoteInt / 10 ** quoteDp) * 0.00075;
      fee = scaled(Math.max(1, Math.floor((notional / 600) * 10 ** FEE_DP)), FEE_DP);
    } else if (feeMode === 1) {
      // Base currency (what a buy receives): 0.1% of qty, exact at 8 decimals.
      feeAsset = m.base;
      fee = scaled(Math.max(1, Math.floor((qtyInt * 10 ** (FEE_DP - m.qtyDp)) / 1000)), FEE_DP);
    } else {
      // Quote currency: 0.1% of the notional, truncated to 8 decimals.
      feeAsset = m.quote;
      fee = scaled(Math.max(1, Math.floor((quoteInt * 10 ** (FEE_DP - quoteDp)) / 1000)), FEE_DP);
    }
    out[k++] = {
      id: id++,
      orderId,
      market: m.market,
      base: m.base,
      quote: m.quote,
      side,
      price: scaled(priceInt, m.priceDp),
      qty: scaled(qtyInt, m.qtyDp),
      quoteQty: scaled(quoteInt, quoteDp),
      fee,
      feeAsset,
      time,
      isMaker: maker,
    };
  };

  // The rare symbol: one buy at the very first millisecond of the history.
  push(RARE_MARKET, 'buy', RARE_MARKET.price, startMs, 0, false);
  orderId++;

  while (k < n) {
    t += Math.max(0, Math.floor(step * (0.2 + rnd() * 1.6)));
    let time = t;
    if (time >= gapFrom) time += gapLen;
    if (time >= endMs) time = endMs - 1;
    let pick = rnd() * totalWeight;
    let mi = 0;
    while (pick >= MARKETS[mi]!.weight && mi < MARKETS.length - 1) pick -= MARKETS[mi++]!.weight;
    const m = MARKETS[mi]!;
    // A random walk of ±0.5% per order keeps prices plausible and PnL non-trivial.
    prices[mi] = Math.max(1, Math.round(prices[mi]! * (1 + (rnd() - 0.5) * 0.01)));
    const side = rnd() < 0.5 ? 'buy' : 'sell';
    const r = rnd();
    // Fee currency per order: BNB 20%, else what the side receives (buy: base, sell: quote).
    const feeMode = r < 0.2 ? 2 : side === 'buy' ? 1 : 0;
    const maker = rnd() < 0.4;
    const parts = 1 + Math.floor(rnd() * 8);
    for (let p = 0; p < parts && k < n; p++) {
      // Partial fills of one order: same millisecond, price within a few ticks.
      const tick = Math.floor(rnd() * 3) * (side === 'buy' ? 1 : -1);
      push(m, side, Math.max(1, prices[mi]! + tick), time, feeMode, maker);
    }
    orderId++;
  }
  return out;
}

/** Every market the generator may use, the rare one included (for `exchangeInfo` and discovery). */
export function allMarkets(): MarketSpec[] {
  return [...MARKETS, RARE_MARKET];
}

/**
 * The fee as an exchange without a third-currency discount charges it (Bybit, OKX): in what
 * the fill receives (buy: base, 0.1 % of the quantity; sell: quote, 0.1 % of the notional).
 * Fills already charged so are returned unchanged; only the BNB-paid ones are re-derived.
 */
export function receivedCurrencyFee(f: GeneratedFill): { fee: string; feeAsset: string } {
  if (f.feeAsset === f.base || f.feeAsset === f.quote) return { fee: f.fee, feeAsset: f.feeAsset };
  const source = f.side === 'buy' ? f.qty : f.quoteQty;
  const [i = '0', d = ''] = source.split('.');
  const units = BigInt(i + d.padEnd(FEE_DP + 3, '0').slice(0, FEE_DP + 3)) / 1000n / 1000n;
  return {
    fee: scaled(Number(units > 0n ? units : 1n), FEE_DP),
    feeAsset: f.side === 'buy' ? f.base : f.quote,
  };
}
