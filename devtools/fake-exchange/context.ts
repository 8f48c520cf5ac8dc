/**
 * Shared types of the fake exchange: the parsed request every exchange module receives, the
 * answer it returns, the accounts (api key → secret, fills) and constant-time helpers.
 */
import { createHash, createHmac, timingSafeEqual, type KeyObject } from 'node:crypto';
import { allMarkets, generateAccountFills, type GeneratedFill } from './generator.js';

export interface FakeRequest {
  method: string;
  /** Path without the query, as received. */
  path: string;
  /** The query string exactly as received (no leading `?`), the bytes a signature covers. */
  rawQuery: string;
  headers: Record<string, string | undefined>;
  body: string;
  /** Client address (rate limits are per IP, as on Binance). */
  ip: string;
  /** Server clock for this request, ms. */
  now: number;
  /** `host:port` the client addressed (Host header). */
  host: string;
}

export interface FakeResponse {
  status: number;
  headers?: Record<string, string>;
  body: unknown;
}

export interface AccountSpec {
  apiKey: string;
  secret: string;
  passphrase?: string;
  /** The key exists but the exchange rejects it (revoked / expired / IP-restricted). */
  revoked?: boolean;
  /** Generator parameters; defaults come from the server options. */
  seed?: number;
  fills?: number;
  /** History length in days and its end (ms); defaults come from the server options. */
  days?: number;
  endMs?: number;
}

export interface FakeAccount {
  readonly apiKey: string;
  readonly secret: string;
  readonly passphrase: string | undefined;
  readonly revoked: boolean;
  readonly seed: number;
  readonly fillCount: number;
  /** Coinbase CDP key: name `organizations/…/apiKeys/…` and its P-256 private key (PEM). */
  readonly coinbase: { keyName: string; privateKeyPem: string; publicKey: KeyObject };
  /** All fills in (time, id) order; generated on first use. */
  readonly fills: GeneratedFill[];
  /** Fills per exchange-native market (`BTCUSDT`), in id order. */
  byMarket(market: string): GeneratedFill[];
  /** Asset → balance (decimal string), derived from the fills over a fixed opening balance. */
  balances(): Map<string, string>;
  /**
   * The exchange's own account id for this key, in each exchange's format (Binance `uid` and
   * Bybit `userID` numbers, OKX `uid` digits, Coinbase `portfolio_uuid`): deterministic per key.
   */
  readonly accountIds: { binance: number; bybit: number; okx: string; coinbase: string };
}

/** Deterministic account ids per API key (a key is one account on the fake). */
export function fakeAccountIds(apiKey: string): FakeAccount['accountIds'] {
  const h = createHash('sha256').update(`fake-exchange/account/${apiKey}`).digest('hex');
  const uuid = `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
  return {
    binance: parseInt(h.slice(0, 8), 16),
    bybit: parseInt(h.slice(8, 15), 16),
    okx: (BigInt(`0x${h.slice(16, 30)}`) % 10n ** 17n).toString().padStart(17, '1'),
    coinbase: uuid,
  };
}

export function makeAccount(
  spec: AccountSpec,
  defaults: { seed: number; fills: number; endMs?: number; days?: number },
  coinbase: FakeAccount['coinbase'],
): FakeAccount {
  let fills: GeneratedFill[] | undefined;
  let index: Map<string, GeneratedFill[]> | undefined;
  let bal: Map<string, string> | undefined;
  const seed = spec.seed ?? defaults.seed;
  const fillCount = spec.fills ?? defaults.fills;
  const endMs = spec.endMs ?? defaults.endMs;
  const days = spec.days ?? defaults.days;
  const all = (): GeneratedFill[] =>
    (fills ??= generateAccountFills({
      seed,
      fills: fillCount,
      ...(endMs !== undefined ? { endMs } : {}),
      ...(days !== undefined ? { days } : {}),
    }));
  return {
    apiKey: spec.apiKey,
    secret: spec.secret,
    passphrase: spec.passphrase,
    revoked: spec.revoked === true,
    seed,
    fillCount,
    coinbase,
    accountIds: fakeAccountIds(spec.apiKey),
    get fills() {
      return all();
    },
    byMarket(market) {
      if (!index) {
        index = new Map(allMarkets().map((m) => [m.market, []]));
        for (const f of all()) index.get(f.market)!.push(f);
      }
      return index.get(market) ?? [];
    },
    balances() {
      if (!bal) bal = computeBalances(all());
      return bal;
    },
  };
}

const BAL_DP = 12;
function toUnits(s: string): bigint {
  const [i = '0', f = ''] = s.split('.');
  return BigInt(i + f.padEnd(BAL_DP, '0').slice(0, BAL_DP));
}
function fromUnits(v: bigint): string {
  const neg = v < 0n;
  const s = (neg ? -v : v).toString().padStart(BAL_DP + 1, '0');
  const out = `${s.slice(0, -BAL_DP)}.${s.slice(-BAL_DP, -BAL_DP + 8)}`;
  return neg ? `-${out}` : out;
}

/** Opening balance of 10^6 of every asset, plus the fills' net flows, never below zero. */
function computeBalances(fills: readonly GeneratedFill[]): Map<string, string> {
  const open = toUnits('1000000');
  const acc = new Map<string, bigint>();
  const add = (a: string, v: bigint) => acc.set(a, (acc.get(a) ?? open) + v);
  for (const f of fills) {
    const q = toUnits(f.qty);
    const c = toUnits(f.quoteQty);
    if (f.side === 'buy') {
      add(f.base, q);
      add(f.quote, -c);
    } else {
      add(f.base, -q);
      add(f.quote, c);
    }
    add(f.feeAsset, -toUnits(f.fee));
  }
  return new Map(
    [...acc].sort(([a], [b]) => (a < b ? -1 : 1)).map(([a, v]) => [a, fromUnits(v < 0n ? 0n : v)]),
  );
}

/** Constant-time equality of two strings (lengths may differ). */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function hmacHex(secret: string, data: string): string {
  return createHmac('sha256', secret).update(data).digest('hex');
}

export function hmacBase64(secret: string, data: string): string {
  return createHmac('sha256', secret).update(data).digest('base64');
}

/** Parses a query as a list of pairs, keeping duplicates (URLSearchParams decodes once). */
export function queryPairs(rawQuery: string): [string, string][] {
  return [...new URLSearchParams(rawQuery)];
}

/** Binary search: first index in `fills` (sorted by time) with time >= t. */
export function lowerBoundTime(fills: readonly GeneratedFill[], t: number): number {
  let lo = 0;
  let hi = fills.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (fills[mid]!.time < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Binary search: first index in `fills` (sorted by id) with id >= id. */
export function lowerBoundId(fills: readonly GeneratedFill[], id: number): number {
  let lo = 0;
  let hi = fills.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (fills[mid]!.id < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Strict non-negative integer (what the exchanges accept for ids, times and limits). */
export function parseUint(v: string | undefined): number | undefined {
  if (v === undefined || !/^\d{1,16}$/.test(v)) return undefined;
  return Number(v);
}
