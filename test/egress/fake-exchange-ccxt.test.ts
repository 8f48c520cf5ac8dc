/**
 * Fidelity of the fake exchange against an independent client: ccxt (a dev dependency, the
 * test oracle of issue 4) signs its own requests and parses the fake's answers for Binance,
 * Bybit and OKX (URL override) and Coinbase (production URL, HTTPS through our CONNECT tunnel,
 * as ccxt's `fetchImplementation`); its unified trades must equal `expectedFills` field for
 * field. A fake that drifted from the real wire format or signing scheme fails here.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import ccxt from 'ccxt';
import {
  expectedFills,
  startFakeExchange,
  type FakeExchange,
} from '../../devtools/fake-exchange/index.js';
import { createTunnelTransport } from '../../src/enclave/egress/tunnel.js';
import type { Fill } from '../../src/enclave/exchanges/types.js';
import { startConnectProxy } from '../../src/host/egress/connect-proxy.js';
import { KEY, SECRET } from './sign.js';

interface CcxtTrade {
  id: string;
  order: string;
  symbol: string;
  side: string;
  price: string;
  amount: string;
  timestamp: number;
  fee: { cost: string; currency: string };
}
interface CcxtExchange {
  urls: { api: Record<string, unknown> };
  number: unknown;
  loadMarkets(): Promise<unknown>;
  fetchMyTrades(
    symbol: string,
    since?: number,
    limit?: number,
    params?: Record<string, unknown>,
  ): Promise<CcxtTrade[]>;
}

function pointAt(ex: CcxtExchange, url: string): CcxtExchange {
  const rewrite = (o: Record<string, unknown>) => {
    for (const [k, v] of Object.entries(o)) {
      if (typeof v === 'string') o[k] = v.replace(/^https?:\/\/[^/]+/, url);
      else if (v && typeof v === 'object') rewrite(v as Record<string, unknown>);
    }
  };
  rewrite(ex.urls.api);
  ex.number = String;
  return ex;
}

/** ccxt negates OKX's fee with its own decimal code, which drops trailing zeros. */
const dec = (s: string) => (s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s);

const unified = (t: CcxtTrade) => ({
  id: t.id,
  orderId: t.order,
  symbol: t.symbol,
  side: t.side,
  price: t.price,
  amount: t.amount,
  timestamp: t.timestamp,
  fee: { cost: dec(t.fee.cost), currency: t.fee.currency },
});
const ours = (f: Fill) => ({
  id: f.id,
  orderId: f.orderId,
  symbol: f.symbol,
  side: f.side,
  price: f.price,
  amount: f.amount,
  timestamp: f.timestamp,
  fee: f.fee && { cost: dec(f.fee.cost), currency: f.fee.currency },
});

describe('fake exchange against ccxt', () => {
  let fx: FakeExchange;
  const ctor = ccxt as unknown as Record<string, new (o: object) => CcxtExchange>;
  before(async () => {
    fx = await startFakeExchange({ fills: 4000 });
  });
  after(() => fx.close());

  it('Binance: a fromId walk through ccxt gives exactly the expected fills', async () => {
    const ex = pointAt(
      new ctor.binance!({
        apiKey: KEY,
        secret: SECRET,
        options: { fetchMarkets: { types: ['spot'] }, fetchCurrencies: false, fetchMargins: false },
      }),
      fx.url,
    );
    await ex.loadMarkets();
    const got: CcxtTrade[] = [];
    let fromId = 0;
    for (;;) {
      const page = await ex.fetchMyTrades('BTC/USDT', undefined, 1000, { fromId });
      got.push(...page);
      if (page.length < 1000) break;
      fromId = Number(page[page.length - 1]!.id) + 1;
    }
    const want = expectedFills('binance', fx.accounts.get(KEY)!, { symbols: ['BTC/USDT'] });
    assert.ok(want.length > 1000);
    assert.deepEqual(got.map(unified), want.map(ours));
  });

  it('Bybit: one 7-day window through ccxt equals the expected fills', async () => {
    const ex = pointAt(
      new ctor.bybit!({
        apiKey: KEY,
        secret: SECRET,
        options: { fetchMarkets: { types: ['spot'] } },
        has: { fetchCurrencies: false },
      }),
      fx.url,
    );
    await ex.loadMarkets();
    const acct = fx.accounts.get(KEY)!;
    const from = acct.fills[0]!.time;
    const to = from + 7 * 86_400_000 - 1;
    const got = await ex.fetchMyTrades('ETH/USDT', from, 100, { type: 'spot', until: to });
    const want = expectedFills('bybit', acct, { from, to: to + 1, symbols: ['ETH/USDT'] });
    assert.ok(want.length > 0 && want.length <= 100, String(want.length));
    assert.deepEqual(got.map(unified), want.map(ours));
  });

  it('OKX: the newest page through ccxt equals the newest expected fills (fee sign flipped back)', async () => {
    const ex = pointAt(
      new ctor.okx!({
        apiKey: KEY,
        secret: SECRET,
        password: 'test-pass',
        options: { fetchMarkets: { types: ['spot'] } },
        has: { fetchCurrencies: false },
      }),
      fx.url,
    );
    await ex.loadMarkets();
    const got = await ex.fetchMyTrades('ETH/BTC', undefined, 100);
    const want = expectedFills('okx', fx.accounts.get(KEY)!, { symbols: ['ETH/BTC'] }).slice(-100);
    assert.equal(got.length, 100);
    assert.deepEqual(got.map(unified), want.map(ours));
  });

  it('Coinbase: ccxt through the enclave tunnel transport, production host, ES256 JWT', async () => {
    const https = await startFakeExchange({ fills: 3000, https: true });
    const dir = mkdtempSync(join(tmpdir(), 'cloister-ccxt-'));
    const socketPath = join(dir, 'egress.sock');
    const proxy = await startConnectProxy({
      listen: { socketPath },
      allow: ['api.coinbase.com:443'],
      dial: () => connect(https.port, '127.0.0.1'),
    });
    const transport = createTunnelTransport({ proxy: { socketPath }, caPem: https.caPem! });
    try {
      const fetchImplementation = async (
        url: string,
        init: { method: 'GET' | 'POST'; headers: Record<string, string>; body?: string },
      ) => {
        const r = await transport.request({
          method: init.method,
          url,
          headers: init.headers,
          ...(init.body ? { body: init.body } : {}),
        });
        return new Response(r.body, { status: r.status, headers: r.headers });
      };
      const acct = https.accounts.get(KEY)!;
      const ex = new ctor.coinbase!({
        apiKey: acct.coinbase.keyName,
        secret: acct.coinbase.privateKeyPem,
        has: { fetchCurrencies: false },
        fetchImplementation,
      });
      ex.number = String;
      await ex.loadMarkets();
      const got = await ex.fetchMyTrades('BTC/USDT', undefined, 100);
      const want = expectedFills('coinbase', acct, { symbols: ['BTC/USDT'] }).slice(-100);
      assert.equal(got.length, 100);
      assert.deepEqual(got.map(unified), want.map(ours));
      assert.ok(https.requests.every((r) => r.headers.host === 'api.coinbase.com'));
    } finally {
      transport.close();
      await proxy.close();
      await https.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
