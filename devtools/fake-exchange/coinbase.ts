/**
 * Fake Coinbase Advanced Trade API (`/api/v3/brokerage/*`), following Coinbase's "API key
 * authentication" (CDP keys) and "List Fills" docs: `Authorization: Bearer <JWT>` signed ES256
 * by the key's P-256 private key, header `kid` = key name and a `nonce`, claims `sub` = key
 * name, `iss` `cdp` (or the older `coinbase-cloud`), `nbf` ≤ now < `exp` with `exp − nbf` ≤
 * 120 s, and `uri` = `METHOD host/path` (no query) naming the host the request was sent to.
 * `/orders/historical/fills` lists newest first with an opaque `cursor`; `product_ids`,
 * `order_ids`, `start_sequence_timestamp` (inclusive) and `end_sequence_timestamp`
 * (exclusive), RFC 3339. Coinbase charges commission in the quote currency, so this rendering
 * derives it (0.1 % of the notional) instead of the generator's fee.
 */
import { verify } from 'node:crypto';
import { allMarkets, scaled, type GeneratedFill } from './generator.js';
import {
  lowerBoundId,
  lowerBoundTime,
  parseUint,
  type FakeAccount,
  type FakeRequest,
  type FakeResponse,
} from './context.js';
import type { WindowLimiter } from './rate-limit.js';

export interface CoinbaseDeps {
  /** By CDP key name (`organizations/…/apiKeys/…`). */
  accounts: ReadonlyMap<string, FakeAccount>;
  limiter: WindowLimiter;
  baseUrl: string;
}

const MAX_LIFETIME_S = 120;
const MAX_LIMIT = 1000;

const unauth = (detail: string): FakeResponse => ({
  status: 401,
  body: { error: 'UNAUTHENTICATED', error_details: detail, message: 'Unauthorized' },
});
const invalid = (detail: string): FakeResponse => ({
  status: 400,
  body: { error: 'INVALID_ARGUMENT', error_details: detail, message: detail },
});

export const coinbaseProductId = (f: { base: string; quote: string }) => `${f.base}-${f.quote}`;

/** Commission in the quote currency: 0.1 % of price × size, truncated to 8 decimals. */
export function coinbaseCommission(f: GeneratedFill): string {
  const [i = '0', d = ''] = f.quoteQty.split('.');
  const units = BigInt(i + d.padEnd(8, '0').slice(0, 8));
  const fee = units / 1000n;
  return scaled(Number(fee > 0n ? fee : 1n), 8);
}

export function renderCoinbaseFill(f: GeneratedFill) {
  const iso = new Date(f.time).toISOString();
  return {
    entry_id: `e${f.id}`,
    trade_id: String(f.id),
    order_id: `00000000-0000-4000-8000-${String(f.orderId).padStart(12, '0')}`,
    trade_time: iso,
    trade_type: 'FILL',
    price: f.price,
    size: f.qty,
    commission: coinbaseCommission(f),
    product_id: coinbaseProductId(f),
    sequence_timestamp: iso,
    liquidity_indicator: f.isMaker ? 'MAKER' : 'TAKER',
    size_in_quote: false,
    user_id: 'fake-user',
    side: f.side === 'buy' ? 'BUY' : 'SELL',
    retail_portfolio_id: 'fake-portfolio',
  };
}

function b64json(part: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return v !== null && typeof v === 'object' && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function authenticate(req: FakeRequest, deps: CoinbaseDeps): FakeAccount | FakeResponse {
  const auth = req.headers.authorization;
  if (!auth?.startsWith('Bearer ')) return unauth('missing bearer token');
  const parts = auth.slice(7).split('.');
  if (parts.length !== 3) return unauth('malformed JWT');
  const [h64, p64, s64] = parts as [string, string, string];
  const header = b64json(h64);
  const claims = b64json(p64);
  if (!header || !claims) return unauth('malformed JWT');
  if (header.alg !== 'ES256' || typeof header.kid !== 'string') return unauth('unsupported key');
  const acct = deps.accounts.get(header.kid);
  if (!acct || acct.revoked) return unauth('invalid api key');
  // ES256 (RFC 7518 §3.4): the signature is r || s, 64 bytes.
  const sig = Buffer.from(s64, 'base64url');
  const good =
    sig.length === 64 &&
    verify(
      'sha256',
      Buffer.from(`${h64}.${p64}`),
      { key: acct.coinbase.publicKey, dsaEncoding: 'ieee-p1363' },
      sig,
    );
  if (!good) return unauth('invalid signature');
  const now = Math.floor(req.now / 1000);
  const { sub, iss, nbf, exp, uri } = claims;
  if (sub !== header.kid) return unauth('sub does not match kid');
  if (iss !== 'cdp' && iss !== 'coinbase-cloud') return unauth('bad issuer');
  if (
    typeof nbf !== 'number' ||
    typeof exp !== 'number' ||
    nbf > now + 5 ||
    exp <= now ||
    exp - nbf > MAX_LIFETIME_S
  ) {
    return unauth('token expired or not yet valid');
  }
  if (uri !== `${req.method} ${req.host}${req.path}`)
    return unauth('uri does not match the request');
  return acct;
}

export function handleCoinbase(req: FakeRequest, deps: CoinbaseDeps): FakeResponse {
  const p = req.path;
  if (p === '/api/v3/brokerage/time') {
    const iso = new Date(req.now).toISOString();
    return {
      status: 200,
      body: { iso, epochSeconds: String(Math.floor(req.now / 1000)), epochMillis: String(req.now) },
    };
  }
  if (p === '/api/v3/brokerage/market/products') {
    const type = new URLSearchParams(req.rawQuery).get('product_type');
    const products =
      type !== null && type !== 'SPOT'
        ? []
        : allMarkets().map((m) => ({
            product_id: coinbaseProductId(m),
            base_currency_id: m.base,
            quote_currency_id: m.quote,
            product_type: 'SPOT',
            status: 'online',
            trading_disabled: false,
            quote_increment: (10 ** -m.priceDp).toFixed(m.priceDp),
            base_increment: (10 ** -m.qtyDp).toFixed(m.qtyDp),
          }));
    return { status: 200, body: { products, num_products: products.length } };
  }
  const routes = [
    '/api/v3/brokerage/orders/historical/fills',
    '/api/v3/brokerage/accounts',
    '/api/v3/brokerage/transaction_summary',
    '/api/v3/brokerage/key_permissions',
  ];
  if (!routes.includes(p))
    return { status: 404, body: { error: 'NOT_FOUND', message: 'Not Found' } };
  if (req.method !== 'GET')
    return { status: 405, body: { error: 'METHOD_NOT_ALLOWED', message: 'Method Not Allowed' } };
  const acct = authenticate(req, deps);
  if ('status' in acct) return acct;
  const rl = deps.limiter.take(`${acct.apiKey}`, req.now);
  if (!rl.ok)
    return { status: 429, body: { error: 'RATE_LIMIT_EXCEEDED', message: 'Too many requests' } };
  if (p === '/api/v3/brokerage/accounts') {
    const accounts = [...acct.balances()].map(([currency, value]) => ({
      uuid: `acct-${currency}`,
      name: `${currency} Wallet`,
      currency,
      available_balance: { value, currency },
      hold: { value: '0', currency },
      active: true,
      type: 'ACCOUNT_TYPE_CRYPTO',
    }));
    return { status: 200, body: { accounts, has_next: false, cursor: '', size: accounts.length } };
  }
  if (p === '/api/v3/brokerage/key_permissions') {
    return {
      status: 200,
      body: {
        can_view: true,
        can_trade: false,
        can_transfer: false,
        portfolio_uuid: acct.accountIds.coinbase,
        portfolio_type: 'DEFAULT',
      },
    };
  }
  if (p === '/api/v3/brokerage/transaction_summary') {
    return {
      status: 200,
      body: {
        total_volume: 0,
        total_fees: 0,
        fee_tier: { pricing_tier: 'Advanced 1', taker_fee_rate: '0.001', maker_fee_rate: '0.001' },
      },
    };
  }
  return fills(new URLSearchParams(req.rawQuery), acct);
}

function rfc3339(v: string | null): number | undefined | null {
  if (v === null || v === '') return undefined;
  const t = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(v)
    ? Date.parse(v)
    : NaN;
  return Number.isNaN(t) ? null : t;
}

function fills(q: URLSearchParams, acct: FakeAccount): FakeResponse {
  const limitRaw = q.get('limit');
  const limit = limitRaw === null ? 100 : parseUint(limitRaw);
  if (limit === undefined || limit < 1 || limit > MAX_LIMIT)
    return invalid('limit must be between 1 and 1000');
  const start = rfc3339(q.get('start_sequence_timestamp'));
  const end = rfc3339(q.get('end_sequence_timestamp'));
  if (start === null || end === null) return invalid('invalid sequence timestamp');
  const products = [...q.getAll('product_ids'), ...q.getAll('product_id')];
  const orderIds = q.getAll('order_ids');
  const cursorRaw = q.get('cursor');
  let cursorId: number | undefined;
  if (cursorRaw !== null && cursorRaw !== '') {
    cursorId = parseUint(cursorRaw);
    if (cursorId === undefined) return invalid('invalid cursor');
  }
  const markets = allMarkets();
  for (const pid of products)
    if (!markets.some((m) => coinbaseProductId(m) === pid))
      return invalid(`unknown product ${pid}`);
  const all =
    products.length === 1
      ? acct.byMarket(markets.find((m) => coinbaseProductId(m) === products[0])!.market)
      : acct.fills;
  const lo = start === undefined ? 0 : lowerBoundTime(all, start);
  let hi = end === undefined ? all.length : lowerBoundTime(all, end);
  // The cursor is the last trade served; ids grow with time, so it is an index bound.
  if (cursorId !== undefined) hi = Math.min(hi, lowerBoundId(all, cursorId));
  const pset = new Set(products);
  const oset = new Set(orderIds);
  const out: GeneratedFill[] = [];
  let i = hi - 1;
  for (; i >= lo && out.length < limit; i--) {
    const f = all[i]!;
    if (pset.size > 1 && !pset.has(coinbaseProductId(f))) continue;
    const rendered = oset.size > 0 ? renderCoinbaseFill(f).order_id : '';
    if (oset.size > 0 && !oset.has(rendered)) continue;
    out.push(f);
  }
  let more = false;
  for (let j = i; j >= lo; j--) {
    const f = all[j]!;
    if (
      (pset.size <= 1 || pset.has(coinbaseProductId(f))) &&
      (oset.size === 0 || oset.has(renderCoinbaseFill(f).order_id))
    ) {
      more = true;
      break;
    }
  }
  const last = out[out.length - 1];
  return {
    status: 200,
    body: { fills: out.map(renderCoinbaseFill), cursor: more && last ? String(last.id) : '' },
  };
}
