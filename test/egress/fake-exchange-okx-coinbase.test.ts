/**
 * The fake exchange's OKX v5 and Coinbase Advanced Trade endpoints: their auth schemes
 * (HMAC with passphrase; ES256 JWT bound to method, host and path), the 3-month horizon and
 * bill-id cursor of OKX, the cursor of Coinbase, and completeness against `expectedFills`.
 * The requests are signed here independently (node:crypto, jose).
 */
import assert from 'node:assert/strict';
import { createHmac, createPrivateKey, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import {
  expectedFills,
  startFakeExchange,
  type FakeExchange,
} from '../../devtools/fake-exchange/index.js';
import { KEY, SECRET } from './sign.js';

const NOW = Date.UTC(2026, 10, 15);
const DAY = 86_400_000;

interface OkxReply {
  code: string;
  msg: string;
  data: Record<string, string>[];
}

async function okxGet(
  base: string,
  pathAndQuery: string,
  opts: { secret?: string; key?: string; pass?: string; ts?: number } = {},
): Promise<{ status: number; json: OkxReply }> {
  const ts = new Date(opts.ts ?? NOW).toISOString();
  const sign = createHmac('sha256', opts.secret ?? SECRET)
    .update(`${ts}GET${pathAndQuery}`)
    .digest('base64');
  const res = await fetch(`${base}${pathAndQuery}`, {
    headers: {
      'OK-ACCESS-KEY': opts.key ?? KEY,
      'OK-ACCESS-SIGN': sign,
      'OK-ACCESS-TIMESTAMP': ts,
      'OK-ACCESS-PASSPHRASE': opts.pass ?? 'test-pass',
    },
  });
  return { status: res.status, json: (await res.json()) as OkxReply };
}

describe('fake exchange: OKX v5', () => {
  let fx: FakeExchange;
  before(async () => {
    fx = await startFakeExchange({
      fills: 8000,
      now: () => NOW,
      limits: { okx: { limit: 10_000 } },
    });
  });
  after(() => fx.close());

  it('rejects a wrong secret (50113), passphrase (50105), key (50111) and a stale timestamp (50102)', async () => {
    const p = '/api/v5/trade/fills-history?instType=SPOT';
    assert.equal((await okxGet(fx.url, p)).status, 200);
    for (const [opts, code] of [
      [{ secret: 'wrong' }, '50113'],
      [{ pass: 'wrong' }, '50105'],
      [{ key: 'nope' }, '50111'],
      [{ key: 'revoked-api-key', secret: 'revoked-secret' }, '50111'],
      [{ ts: NOW - 31_000 }, '50102'],
    ] as const) {
      const r = await okxGet(fx.url, p, opts);
      assert.equal(r.status, 401, JSON.stringify(opts));
      assert.equal(r.json.code, code, JSON.stringify(opts));
    }
  });

  it('enforces instType and limit', async () => {
    assert.equal((await okxGet(fx.url, '/api/v5/trade/fills-history')).json.code, '50014');
    assert.equal(
      (await okxGet(fx.url, '/api/v5/trade/fills-history?instType=SPOT&limit=101')).json.code,
      '51000',
    );
  });

  it('an `after` bill-id loop returns the last 3 months exactly, newest first, fees negative', async () => {
    const got: string[] = [];
    let afterId = '';
    for (;;) {
      const r = await okxGet(
        fx.url,
        `/api/v5/trade/fills-history?instType=SPOT&limit=100${afterId ? `&after=${afterId}` : ''}`,
      );
      assert.equal(r.json.code, '0');
      const page = r.json.data;
      for (let i = 1; i < page.length; i++)
        assert.ok(BigInt(page[i - 1]!.billId!) > BigInt(page[i]!.billId!));
      assert.ok(page.every((f) => f.fee!.startsWith('-')));
      got.push(...page.map((f) => f.tradeId!));
      if (page.length < 100) break;
      afterId = page[page.length - 1]!.billId!;
    }
    const want = expectedFills('okx', fx.accounts.get(KEY)!, { now: NOW }).map((f) => f.id);
    assert.ok(
      want.length > 0 && want.length < fx.accounts.get(KEY)!.fills.length,
      'part of the history is older than 3 months',
    );
    assert.deepEqual(got.reverse(), want);
  });
});

describe('fake exchange: Coinbase Advanced Trade', () => {
  let fx: FakeExchange;
  before(async () => {
    fx = await startFakeExchange({ fills: 3000, now: () => NOW });
  });
  after(() => fx.close());

  async function jwt(
    uri: string,
    o: { exp?: number; key?: string; pem?: string } = {},
  ): Promise<string> {
    const acct = fx.accounts.get(o.key ?? KEY)!;
    const kid = acct.coinbase.keyName;
    const now = Math.floor(NOW / 1000);
    return new SignJWT({ uri })
      .setProtectedHeader({ alg: 'ES256', kid, nonce: randomBytes(16).toString('hex'), typ: 'JWT' })
      .setIssuer('cdp')
      .setSubject(kid)
      .setNotBefore(now)
      .setExpirationTime(o.exp ?? now + 120)
      .sign(createPrivateKey(o.pem ?? acct.coinbase.privateKeyPem));
  }

  async function get(pathAndQuery: string, token: string) {
    const res = await fetch(`${fx.url}${pathAndQuery}`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    return {
      status: res.status,
      json: (await res.json()) as { fills: Record<string, string>[]; cursor: string },
    };
  }

  const path = '/api/v3/brokerage/orders/historical/fills';
  const host = () => new URL(fx.url).host;

  it('accepts a JWT bound to method, host and path; refuses other keys, paths and expired tokens', async () => {
    assert.equal((await get(`${path}?limit=5`, await jwt(`GET ${host()}${path}`))).status, 200);
    assert.equal(
      (await get(`${path}?limit=5`, await jwt(`GET ${host()}/api/v3/brokerage/accounts`))).status,
      401,
    );
    assert.equal(
      (await get(`${path}?limit=5`, await jwt(`GET api.coinbase.com${path}`))).status,
      401,
    );
    const now = Math.floor(NOW / 1000);
    assert.equal(
      (await get(`${path}?limit=5`, await jwt(`GET ${host()}${path}`, { exp: now - 1 }))).status,
      401,
    );
    // Signed by another key under this key's name.
    const other = fx.accounts.get('revoked-api-key')!.coinbase.privateKeyPem;
    assert.equal(
      (await get(`${path}?limit=5`, await jwt(`GET ${host()}${path}`, { pem: other }))).status,
      401,
    );
    assert.equal(
      (await get(`${path}?limit=5`, await jwt(`GET ${host()}${path}`, { key: 'revoked-api-key' })))
        .status,
      401,
    );
  });

  it('a cursor loop returns every fill once, newest first, with quote-currency commission', async () => {
    const token = await jwt(`GET ${host()}${path}`);
    const got: string[] = [];
    let cursor = '';
    for (;;) {
      const r = await get(`${path}?limit=250${cursor ? `&cursor=${cursor}` : ''}`, token);
      assert.equal(r.status, 200);
      got.push(...r.json.fills.map((f) => f.trade_id!));
      cursor = r.json.cursor;
      if (!cursor) break;
    }
    const want = expectedFills('coinbase', fx.accounts.get(KEY)!);
    assert.deepEqual(
      got.reverse(),
      want.map((f) => f.id),
    );
    assert.ok(want.every((f) => f.fee?.currency === f.quote));
  });

  it('filters by product and window [start, end)', async () => {
    const acct = fx.accounts.get(KEY)!;
    const t0 = acct.fills[0]!.time + 10 * DAY;
    const q = `product_ids=ETH-USDT&start_sequence_timestamp=${new Date(t0).toISOString()}&end_sequence_timestamp=${new Date(t0 + 5 * DAY).toISOString()}&limit=1000`;
    const r = await get(`${path}?${q}`, await jwt(`GET ${host()}${path}`));
    const want = expectedFills('coinbase', acct, {
      from: t0,
      to: t0 + 5 * DAY,
      symbols: ['ETH/USDT'],
    });
    assert.ok(want.length > 0);
    assert.deepEqual(
      r.json.fills.map((f) => f.trade_id).reverse(),
      want.map((f) => f.id),
    );
  });
});
