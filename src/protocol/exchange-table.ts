/**
 * The exchanges, in one table: the variable that sets each one's API base URL (host and enclave
 * read the same one, enclave-env.ts), its default, and its official production API hosts (what a
 * verifier accepts as a signed aggregate's `api_host` by default). Adding an exchange is a row
 * here plus its connector folder (src/enclave/exchanges/<name>/).
 */
import { EXCHANGES, type Exchange } from './credentials.js';

export interface ExchangeInfo {
  /** Environment variable of the API base URL (testnets, the fake exchange in tests). */
  readonly envVar: `${Uppercase<string>}_BASE_URL`;
  readonly defaultBaseUrl: string;
  readonly description: string;
  /** Production API hosts of the exchange the connector speaks to. */
  readonly officialApiHosts: readonly string[];
  /**
   * A listing without `symbols` reads the whole account (a signed `symbols_complete: true`);
   * false where the connector discovers symbols instead (Binance: from balances). A requester
   * that asked for the whole account refuses a partial result of such an exchange: the host
   * chose the symbols.
   */
  readonly accountWideListing: boolean;
}

export const EXCHANGE_TABLE = {
  binance: {
    envVar: 'BINANCE_BASE_URL',
    defaultBaseUrl: 'https://api.binance.com',
    description: 'Binance spot API the enclave fetches fills from (testnets, tests)',
    officialApiHosts: [
      'api.binance.com',
      'api-gcp.binance.com',
      'api1.binance.com',
      'api2.binance.com',
      'api3.binance.com',
      'api4.binance.com',
    ],
    accountWideListing: false,
  },
  bybit: {
    envVar: 'BYBIT_BASE_URL',
    defaultBaseUrl: 'https://api.bybit.com',
    description: 'Bybit v5 API base URL',
    officialApiHosts: ['api.bybit.com', 'api.bytick.com'],
    accountWideListing: true,
  },
  okx: {
    envVar: 'OKX_BASE_URL',
    defaultBaseUrl: 'https://www.okx.com',
    description: 'OKX v5 API base URL',
    officialApiHosts: ['www.okx.com', 'aws.okx.com'],
    accountWideListing: true,
  },
  coinbase: {
    envVar: 'COINBASE_BASE_URL',
    defaultBaseUrl: 'https://api.coinbase.com',
    description: 'Coinbase Advanced Trade API base URL',
    officialApiHosts: ['api.coinbase.com'],
    accountWideListing: true,
  },
} as const satisfies Record<Exchange, ExchangeInfo>;

/** The base-URL variables, in EXCHANGES order. */
export const EXCHANGE_URL_VARS = EXCHANGES.map((e) => EXCHANGE_TABLE[e].envVar);

/** exchange → its base URL, read from parsed settings that hold the `*_BASE_URL` variables. */
export function baseUrlsFrom(
  settings: Readonly<Record<string, unknown>>,
): Record<Exchange, string> {
  return Object.fromEntries(
    EXCHANGES.map((e) => [e, String(settings[EXCHANGE_TABLE[e].envVar])]),
  ) as Record<Exchange, string>;
}
