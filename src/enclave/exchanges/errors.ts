/**
 * The connectors' errors: a closed set of codes, each one of the RPC error codes
 * (`protocol/rpc/errors.ts`), with the fixed RPC message. An error never carries the key, the
 * secret, a signature, a URL, a header or a response body: only its code and, for diagnostics,
 * a short machine detail chosen here (an HTTP status, an exchange error number).
 */
import { RPC_ERROR_MESSAGES } from '../../protocol/rpc/errors.js';

export type ExchangeErrorCode =
  | 'EXCHANGE_KEY_REJECTED'
  | 'EXCHANGE_RATE_LIMITED'
  | 'EXCHANGE_UNAVAILABLE'
  | 'EXCHANGE_TIMEOUT'
  | 'EXCHANGE_BAD_RESPONSE';

export class ExchangeError extends Error {
  override readonly name = 'ExchangeError';
  /** Seconds the caller should wait before retrying (rate limits only). */
  readonly retryAfterS: number | undefined;
  constructor(
    readonly code: ExchangeErrorCode,
    /** A safe machine detail: `http-503`, `binance-2015`, `schema`; never input data. */
    readonly detail?: string,
    retryAfterS?: number,
  ) {
    super(RPC_ERROR_MESSAGES[code]);
    this.retryAfterS = retryAfterS;
  }
}

export function isExchangeError(err: unknown): err is ExchangeError {
  return err instanceof ExchangeError;
}
