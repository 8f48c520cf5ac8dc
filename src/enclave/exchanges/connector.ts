/**
 * `createTradeHistorySource(exchange, options)`: the one entry the enclave calls (issue 4,
 * part 1). The exchange is resolved once, in the registry below, to its profile (HTTP
 * behaviour, rate-limit policy) and its pager (completeness rules); nothing further down
 * switches on the exchange's name (STYLE.md practice 4).
 *
 * Key hygiene: the source holds the decrypted credentials only until its one listing ends
 * (success or failure); a second `listFills` is refused. The credentials are handed to the
 * signers per request and never put on an error, a log line (there is none) or the listing.
 */
import type { Exchange } from '../../protocol/credentials.js';
import { binanceProfile } from './binance/profile.js';
import { listBinance } from './binance/pager.js';
import { bybitProfile } from './bybit/profile.js';
import { listBybit } from './bybit/pager.js';
import { okxProfile } from './okx/profile.js';
import { listOkx } from './okx/pager.js';
import { coinbaseProfile } from './coinbase/profile.js';
import { listCoinbase } from './coinbase/pager.js';
import type { Pager } from './context.js';
import { ExchangeError } from './errors.js';
import { FillSet } from './fills.js';
import { realClock, sharedLimiter, type Clock, type RateLimiter } from './rate-limiter.js';
import { Session, type ExchangeProfile, type RetryPolicy } from './session.js';
import type {
  ApiCredentials,
  FillListing,
  FillQuery,
  HttpTransport,
  TradeHistorySource,
} from './types.js';

export interface ConnectorEntry {
  profile: ExchangeProfile;
  list: Pager;
}

const REGISTRY: ReadonlyMap<Exchange, ConnectorEntry> = new Map<Exchange, ConnectorEntry>([
  ['binance', { profile: binanceProfile, list: listBinance }],
  ['bybit', { profile: bybitProfile, list: listBybit }],
  ['okx', { profile: okxProfile, list: listOkx }],
  ['coinbase', { profile: coinbaseProfile, list: listCoinbase }],
]);

export function resolveConnector(exchange: Exchange): ConnectorEntry {
  const e = REGISTRY.get(exchange);
  if (!e) throw new TypeError('exchange: not supported');
  return e;
}

/** Quote assets Binance symbol discovery pairs the account's assets with. */
export const DEFAULT_QUOTE_ASSETS: readonly string[] = [
  'USDT',
  'USDC',
  'FDUSD',
  'BTC',
  'ETH',
  'BNB',
  'EUR',
];

export interface TradeHistorySourceOptions {
  /** e.g. `https://api.binance.com`; a path prefix is kept (`http://127.0.0.1:P/prefix`). */
  baseUrl: string;
  credentials: ApiCredentials;
  transport: HttpTransport;
  /** Default: the process-wide limiter of (exchange, `egress`). */
  limiter?: RateLimiter;
  /** Names the egress address for the shared limiter; default `default`. */
  egress?: string;
  /** Clock for timestamps, waits and backoff (tests inject one that never sleeps). */
  clock?: Clock;
  /** Shorthand for a clock whose `now` is this (sleep stays real). */
  now?: () => number;
  recvWindowMs?: number;
  quoteAssets?: readonly string[];
  /** Most fills one listing may hold (memory bound); default DEFAULT_MAX_FILLS. */
  maxFills?: number;
  retry?: RetryPolicy;
  signal?: AbortSignal;
}

export function createTradeHistorySource(
  exchange: Exchange,
  options: TradeHistorySourceOptions,
): TradeHistorySource {
  const entry = resolveConnector(exchange);
  const url = new URL(options.baseUrl);
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new TypeError('baseUrl: must be an http(s) URL');
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '')
    throw new TypeError('baseUrl: must not carry a query, fragment or user info');
  const baseUrl = `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
  const clock: Clock =
    options.clock ?? (options.now ? { now: options.now, sleep: realClock.sleep } : realClock);
  const limiter =
    options.limiter ?? sharedLimiter(exchange, options.egress ?? 'default', entry.profile.policy);
  let credentials: ApiCredentials | undefined = options.credentials;
  if (typeof credentials?.apiKey !== 'string' || typeof credentials.apiSecret !== 'string')
    throw new TypeError('credentials: apiKey and apiSecret must be strings');

  return {
    exchange,
    async listFills(query: FillQuery, onProgress, onFills): Promise<FillListing> {
      if (!credentials) throw new TypeError('listFills: this source was already used');
      if (!Number.isSafeInteger(query.from) || !Number.isSafeInteger(query.to))
        throw new TypeError('query.from, query.to: integer milliseconds');
      if (query.from >= query.to) throw new RangeError('query: from must be before to');
      const creds = credentials;
      credentials = undefined;
      const fills = new FillSet(query.from, query.to, options.maxFills, onFills);
      const report = () =>
        onProgress?.({
          requests: session.requests,
          fills: fills.size,
          rate_limit_waits: session.rateLimitWaits,
          rate_limit_wait_ms: session.rateLimitWaitMs,
        });
      const session: Session = new Session({
        profile: entry.profile,
        baseUrl,
        transport: options.transport,
        limiter,
        clock,
        ...(options.retry ? { retry: options.retry } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
        onRateLimitWait: report,
      });
      const result = await entry.list({
        session,
        baseUrl,
        credentials: creds,
        recvWindowMs: options.recvWindowMs ?? 5000,
        quoteAssets: options.quoteAssets ?? DEFAULT_QUOTE_ASSETS,
        query,
        fills,
        progress: report,
      });
      // A listing by symbol that holds fills of another symbol (an instrument's page answered
      // with others' rows) would sign figures for a symbol `symbols_scanned` does not name.
      const scanned = new Set(result.symbols);
      for (const s of fills.symbols())
        if (!scanned.has(s)) throw new ExchangeError('EXCHANGE_BAD_RESPONSE', 'unscanned-symbol');
      return {
        fills: fills.sorted(),
        symbols: [...result.symbols].sort(),
        apiHost: url.host,
        responsesDigest: session.digest(),
        requests: session.requests,
        ...(session.exchangeTime !== undefined ? { exchangeTime: session.exchangeTime } : {}),
        rateLimitWaits: session.rateLimitWaits,
        rateLimitWaitMs: session.rateLimitWaitMs,
        ...(result.coveredFrom !== undefined ? { coveredFrom: result.coveredFrom } : {}),
        ...(result.accountId !== undefined ? { accountId: result.accountId } : {}),
        symbolsComplete: result.symbolsComplete,
      };
    },
  };
}
