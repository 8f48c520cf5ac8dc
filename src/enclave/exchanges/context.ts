/**
 * What a pager is handed for one listing: the request loop (`Session`), the decrypted
 * credentials (for this listing only), the window and the fill set; the time to sign with is
 * `session.now()` (corrected to the exchange's clock after a refused timestamp). Built by
 * `connector.ts`, dropped when the listing ends.
 */
import type { Session } from './session.js';
import type { FillSet } from './fills.js';
import type { ApiCredentials, FillQuery } from './types.js';

export interface ListingContext {
  session: Session;
  baseUrl: string;
  credentials: ApiCredentials;
  recvWindowMs: number;
  /** Quote assets symbol discovery pairs held assets with (Binance). */
  quoteAssets: readonly string[];
  query: FillQuery;
  fills: FillSet;
  progress(): void;
}

/** What a pager returns besides the fills it put in `ctx.fills`. */
export interface PagerResult {
  /** The unified symbols covered by the scan, sorted. */
  symbols: string[];
  /** The start of the span actually complete, when later than the query's `from`. */
  coveredFrom?: number;
  /** The exchange's account/user id (absent only from a compatible service without it). */
  accountId?: string;
  /** True when the scan covered every spot symbol of the account (an account-wide listing). */
  symbolsComplete: boolean;
}

export type Pager = (ctx: ListingContext) => Promise<PagerResult>;
