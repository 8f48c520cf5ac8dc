/**
 * What every parser and pager shares: the zod pieces for the exchanges' decimal strings, the
 * unified symbol `BASE/QUOTE`, and the set a listing collects fills into. Fills are keyed by
 * (symbol, trade id): trade ids are unique per symbol on every exchange here (Binance numbers
 * them per symbol), so a fill served twice (overlapping windows, a page edge inside a
 * same-millisecond cluster) is kept once, and none is dropped.
 */
import { RpcError } from '../../protocol/rpc/errors.js';
import { z } from 'zod';
import { ExchangeError } from './errors.js';
import type { Fill } from './types.js';

/** A non-negative decimal as the exchanges print it: digits, optional fraction, no exponent. */
export const DecimalSchema = z.string().regex(/^\d{1,40}(\.\d{1,40})?$/);
/** A decimal that is > 0 (a fill's price and quantity). */
export const PositiveDecimalSchema = DecimalSchema.refine((s) => /[1-9]/.test(s));
export const AssetSchema = z.string().regex(/^[A-Za-z0-9]{1,20}$/);
/** Integer milliseconds, given as a number or a digit string. */
export const MillisSchema = z.union([
  z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  z
    .string()
    .regex(/^\d{1,16}$/)
    .transform(Number),
]);
/** Ids given as a number (Binance) or a string. */
export const IdSchema = z.union([
  z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).transform(String),
  z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
]);

export const isZeroDecimal = (s: string): boolean => !/[1-9]/.test(s);

const SYMBOL_RE = /^([A-Z0-9]{1,20})\/([A-Z0-9]{1,20})$/;

export interface Market {
  /** Unified `BASE/QUOTE`. */
  symbol: string;
  base: string;
  quote: string;
  /** The exchange's own name: `BTCUSDT`, `BTC-USDT`. */
  native: string;
}

/** `k=v&…` in the given order, each part percent-encoded (the bytes that are then signed). */
export function encodeQuery(params: readonly (readonly [string, string])[]): string {
  return params.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
}

/** Splits a unified symbol; a malformed one is the caller's error. */
export function splitSymbol(symbol: string): { base: string; quote: string } {
  const m = SYMBOL_RE.exec(symbol);
  if (!m) throw new RangeError('query.symbols: each symbol must be BASE/QUOTE in upper case');
  return { base: m[1]!, quote: m[2]! };
}

/** Parses exchange JSON with `schema`; a mismatch is EXCHANGE_BAD_RESPONSE, never a crash. */
export function parseWire<T>(schema: z.ZodType<T>, json: unknown, detail: string): T {
  const r = schema.safeParse(json);
  if (!r.success) throw new ExchangeError('EXCHANGE_BAD_RESPONSE', detail);
  return r.data;
}

/** Trade ids compare numerically when both are integers, else as strings. */
export function compareIds(a: string, b: string): number {
  const da = /^\d+$/.test(a);
  const db = /^\d+$/.test(b);
  if (da && db) {
    const x = a.replace(/^0+(?=\d)/, '');
    const y = b.replace(/^0+(?=\d)/, '');
    if (x.length !== y.length) return x.length - y.length;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

export function compareFills(a: Fill, b: Fill): number {
  return a.timestamp - b.timestamp || compareIds(a.id, b.id) || (a.symbol < b.symbol ? -1 : 1);
}

/** The fills of one listing, deduplicated by (symbol, id), filtered to [from, to). */
/** Default bound on one listing's fills: about 1 GiB of enclave heap at most. */
export const DEFAULT_MAX_FILLS = 3_000_000;

export class FillSet {
  readonly #fills = new Map<string, Fill>();
  constructor(
    readonly from: number,
    readonly to: number,
    /** Past this many fills the listing fails (AGGREGATES_TOO_MANY_FILLS): memory stays bounded. */
    readonly maxFills: number = DEFAULT_MAX_FILLS,
    /** Called with each page's new fills, in the order they were added (the aggregates ingest). */
    readonly onNew?: (fills: readonly Fill[]) => void,
  ) {}

  /** Adds the fills inside the window; returns how many were new. */
  addAll(fills: readonly Fill[]): number {
    let added = 0;
    const fresh: Fill[] | undefined = this.onNew ? [] : undefined;
    for (const f of fills) {
      if (f.timestamp < this.from || f.timestamp >= this.to) continue;
      const k = `${f.symbol}\u0000${f.id}`;
      if (this.#fills.has(k)) continue;
      if (this.#fills.size >= this.maxFills) throw new RpcError('AGGREGATES_TOO_MANY_FILLS');
      this.#fills.set(k, f);
      fresh?.push(f);
      added++;
    }
    if (fresh !== undefined && fresh.length > 0) this.onNew!(fresh);
    return added;
  }

  get size(): number {
    return this.#fills.size;
  }

  /** In time order, ties by trade id. */
  sorted(): Fill[] {
    return [...this.#fills.values()].sort(compareFills);
  }

  symbols(): Set<string> {
    return new Set([...this.#fills.values()].map((f) => f.symbol));
  }
}
