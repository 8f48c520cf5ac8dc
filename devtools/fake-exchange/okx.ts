/** Fake OKX v5 (placeholder until implemented). */
import type { FakeAccount, FakeRequest, FakeResponse } from './context.js';
import type { WindowLimiter } from './rate-limit.js';

export interface OkxDeps {
  accounts: ReadonlyMap<string, FakeAccount>;
  limiter: WindowLimiter;
}
export function handleOkx(_req: FakeRequest, _deps: OkxDeps): FakeResponse {
  return { status: 404, body: { code: '50000', msg: 'Not implemented in the fake', data: [] } };
}
