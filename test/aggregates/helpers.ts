/** Fill builders shared by the aggregates tests. */
import type { Fill } from '../../src/enclave/exchanges/types.js';

export const DAY = 86_400_000;
/** 2026-01-01T00:00:00Z */
export const T0 = Date.UTC(2026, 0, 1);

let nextId = 1;

export interface FillSpec {
  side: 'buy' | 'sell';
  price: string;
  amount: string;
  /** ms since T0 (default: one second after the previous fill built). */
  at?: number;
  symbol?: string;
  id?: string;
  fee?: [cost: string, currency: string] | null;
}

let lastAt = -1000;
export function resetIds(): void {
  nextId = 1;
  lastAt = -1000;
}

export function fill(s: FillSpec): Fill {
  const symbol = s.symbol ?? 'BTC/USDT';
  const [base, quote] = symbol.split('/') as [string, string];
  const at = s.at ?? lastAt + 1000;
  lastAt = at;
  return {
    exchange: 'binance',
    symbol,
    base,
    quote,
    id: s.id ?? String(nextId++),
    orderId: null,
    side: s.side,
    price: s.price,
    amount: s.amount,
    fee: s.fee ? { cost: s.fee[0], currency: s.fee[1] } : null,
    timestamp: T0 + at,
  };
}

export const buy = (price: string, amount: string, more: Partial<FillSpec> = {}): Fill =>
  fill({ side: 'buy', price, amount, ...more });
export const sell = (price: string, amount: string, more: Partial<FillSpec> = {}): Fill =>
  fill({ side: 'sell', price, amount, ...more });

/** |a − b| ≤ tol, with a message naming both. */
export function near(a: number, b: number, tol: number): boolean {
  return Math.abs(a - b) <= tol;
}

/** A seeded generator in [0, 1) (mulberry32): the same history on every run. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
