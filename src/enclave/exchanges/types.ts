/**
 * The contract between exchange connectors, the egress transport and the aggregates engine
 * (issue 4, ARCHITECTURE.md "Aggregate definitions"). A connector lists an account's fills in a
 * time window, completely, through an injected transport; it never opens a socket itself.
 */
import type { Exchange } from '../../protocol/credentials.js';
import type { JobProgress } from '../../protocol/rpc/methods.js';

/** One executed trade of the account, as the exchange reported it (decimal strings, no floats). */
export interface Fill {
  exchange: Exchange;
  /** Unified symbol `BASE/QUOTE`, upper case, e.g. `BTC/USDT`. */
  symbol: string;
  base: string;
  quote: string;
  /** The exchange's trade id (ties in time are ordered by it: numerically when both are integers). */
  id: string;
  orderId: string | null;
  side: 'buy' | 'sell';
  /** Price in the quote currency per unit of base, decimal string. */
  price: string;
  /** Quantity in the base currency, decimal string, > 0. */
  amount: string;
  /** Fee paid for this fill (cost >= 0) and its currency, or null when none was charged. */
  fee: { cost: string; currency: string } | null;
  /** Execution time, milliseconds since the Unix epoch (UTC). */
  timestamp: number;
}

export interface HttpRequest {
  method: 'GET' | 'POST';
  /** Absolute URL; the query string is exactly the bytes that were signed. */
  url: string;
  headers: Record<string, string>;
  body?: string;
}

export interface HttpResponse {
  status: number;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  body: string;
}

/** The enclave's only way out (direct on `simulated`, a CONNECT tunnel through the host elsewhere). */
export interface HttpTransport {
  request(req: HttpRequest, signal?: AbortSignal): Promise<HttpResponse>;
}

/** The decrypted key material a connector signs with; lives only for one request. */
export interface ApiCredentials {
  apiKey: string;
  apiSecret: string;
  passphrase?: string;
}

export interface FillQuery {
  /** Window [from, to), milliseconds since the epoch. */
  from: number;
  to: number;
  /** Unified symbols to scan; when absent the connector discovers them from the account. */
  symbols?: readonly string[];
}

export interface FillListing {
  fills: Fill[];
  /** The symbols actually scanned (sorted), so a verifier knows what the figures include. */
  symbols: string[];
  /** The API host spoken to, e.g. `api.binance.com` (or `127.0.0.1:PORT` in tests). */
  apiHost: string;
  /** Hex SHA-256 over the raw bodies of every exchange response used, in request order. */
  responsesDigest: string;
  /** Number of HTTP requests made. */
  requests: number;
  /**
   * The exchange's own clock (ms, whole seconds) when the listing began: the HTTP `Date` (plus
   * `Age`, from a cache) of the first response used, read over TLS (absent if it had none). Fills after it
   * cannot be in the listing, whatever the enclave's clock (which the host may set) says.
   */
  exchangeTime?: number;
  /** Rate limits waited out (429/418 or the exchange's own "too many requests"), and the total wait. */
  rateLimitWaits: number;
  rateLimitWaitMs: number;
  /**
   * Set when the exchange keeps less history than the window asked for (OKX serves 3 months):
   * the fills are complete from this time (ms) to `to`, not from `from`.
   */
  coveredFrom?: number;
  /** The exchange's own account/user id, read from its API (absent if it offers none). */
  accountId?: string;
  /**
   * True when every spot symbol the account traded in the window was scanned (an account-wide
   * listing); false when only `symbols` were (the query's, or Binance's discovered ones).
   */
  symbolsComplete: boolean;
}

export interface TradeHistorySource {
  readonly exchange: Exchange;
  /**
   * `onFills` sees each page's new fills (in the window, not seen before) as it is fetched, so a
   * caller can parse them while the next page is awaited (the aggregates job).
   */
  listFills(
    query: FillQuery,
    onProgress?: (p: JobProgress) => void,
    onFills?: (fills: readonly Fill[]) => void,
  ): Promise<FillListing>;
}
