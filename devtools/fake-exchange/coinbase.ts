/** Fake Coinbase Advanced Trade (placeholder until implemented). */
import type { FakeAccount, FakeRequest, FakeResponse } from './context.js';
import type { WindowLimiter } from './rate-limit.js';

export interface CoinbaseDeps {
  accounts: ReadonlyMap<string, FakeAccount>;
  limiter: WindowLimiter;
  baseUrl: string;
}
export function handleCoinbase(_req: FakeRequest, _deps: CoinbaseDeps): FakeResponse {
  return { status: 404, body: { error: 'NOT_FOUND', message: 'Not implemented in the fake' } };
}
