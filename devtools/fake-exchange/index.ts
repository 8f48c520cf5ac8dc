/** Public entry of the fake exchange (tests and demos only). */
export { startFakeExchange, DEFAULT_ACCOUNTS } from './server.js';
export type { FakeExchange, FakeExchangeOptions, RecordedRequest, ExchangeName } from './server.js';
export {
  generateAccountFills,
  MARKETS,
  RARE_MARKET,
  THIRD_FEE_ASSET,
  allMarkets,
} from './generator.js';
export type { GeneratedFill, GenerateOptions, MarketSpec } from './generator.js';
export type { AccountSpec, FakeAccount } from './context.js';
export { renderBinanceTrade } from './binance.js';
export { renderBybitExecution, bybitExecId, bybitOrderId } from './bybit.js';
export { createThrowawayPki, API_HOSTS } from './tls.js';
export { renderOkxFill, okxBillId, okxOrdId, okxInstId, OKX_HISTORY_MS } from './okx.js';
export { renderCoinbaseFill, coinbaseCommission, coinbaseProductId } from './coinbase.js';
export { expectedFills, toFill } from './expected.js';
export type { ExpectedQuery, FakeExchangeName } from './expected.js';
