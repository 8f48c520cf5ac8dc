/**
 * Request signers: Binance's documented HMAC example (binance-spot-api-docs `rest-api.md`,
 * "SIGNED endpoint examples for POST /api/v3/order - HMAC Keys"), and cross-checks against
 * ccxt 4.5.84's own `sign()` for Binance, Bybit v5, OKX v5 and Coinbase (ccxt is a dev
 * dependency, imported by file path as the exchange research explains; tests only).
 */
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { describe, it } from 'node:test';
import { jwtVerify, decodeProtectedHeader } from 'jose';
import {
  binanceSignature,
  signBinanceRequest,
} from '../../src/enclave/exchanges/binance/signer.js';
import {
  bybitQuery,
  bybitSignature,
  signBybitRequest,
} from '../../src/enclave/exchanges/bybit/signer.js';
import { okxSignature, signOkxRequest } from '../../src/enclave/exchanges/okx/signer.js';
import { signCoinbaseRequest } from '../../src/enclave/exchanges/coinbase/signer.js';

const ccxtRoot = new URL('../../node_modules/ccxt/js/src/', import.meta.url);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Ccxt = any;
async function ccxtExchange(name: string, opts: object): Promise<Ccxt> {
  const mod = (await import(new URL(`${name}.js`, ccxtRoot).href)) as {
    default: new (o: object) => Ccxt;
  };
  return new mod.default(opts);
}

const T = 1_795_347_101_944;

describe('Binance HMAC-SHA256 signer', () => {
  it('reproduces the worked example of rest-api.md', () => {
    const secret = 'NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j';
    const payload =
      'symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559';
    assert.equal(
      binanceSignature(secret, payload),
      'c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71',
    );
    // The full signer builds that same totalParams from its parts, in that order.
    const req = signBinanceRequest({
      baseUrl: 'https://api.binance.com',
      path: '/api/v3/order',
      params: [
        ['symbol', 'LTCBTC'],
        ['side', 'BUY'],
        ['type', 'LIMIT'],
        ['timeInForce', 'GTC'],
        ['quantity', '1'],
        ['price', '0.1'],
      ],
      apiKey: 'vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A',
      secret,
      timestamp: 1499827319559,
      recvWindow: 5000,
    });
    assert.equal(
      req.url,
      `https://api.binance.com/api/v3/order?${payload}&signature=c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71`,
    );
    assert.equal(
      req.headers['X-MBX-APIKEY'],
      'vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A',
    );
  });

  it('a different secret gives a different signature', () => {
    assert.notEqual(binanceSignature('a', 'x=1'), binanceSignature('b', 'x=1'));
  });

  it('matches ccxt sign() over ccxt’s own query bytes', async () => {
    const ex = await ccxtExchange('binance', { apiKey: 'test-api-key', secret: 'test-secret' });
    ex.milliseconds = () => T;
    const out = ex.sign('myTrades', 'private', 'GET', {
      symbol: 'BTCUSDT',
      fromId: 28458,
      limit: 1000,
    });
    const url = new URL(out.url as string);
    const raw = url.search.slice(1);
    const i = raw.lastIndexOf('&signature=');
    assert.equal(binanceSignature('test-secret', raw.slice(0, i)), raw.slice(i + 11));
    assert.equal(out.headers['X-MBX-APIKEY'], 'test-api-key');
  });

  it('matches the signature captured from ccxt in the exchange research (§2.3)', () => {
    const q =
      'timestamp=1795347101944&symbol=BTCUSDT&startTime=1795343501743&limit=500&recvWindow=10000';
    assert.equal(
      binanceSignature('test-secret', q),
      '8fe2571bc275709fb46b9adc9f21c7024cf55d30e964eb45e68a1fbc362b35e0',
    );
  });
});

describe('Bybit v5 signer', () => {
  it('matches the request captured from ccxt in the exchange research (§2.3)', () => {
    const q = 'execType=Trade&symbol=BTCUSDT&category=spot&limit=100&startTime=1795343618838';
    assert.equal(
      bybitSignature('test-secret', 1795347219143, 'test-api-key', 5000, q),
      'e2aa476b4eee5b4adb8e5c1e7727ae4990bdab186fe0a35adfacd2d482f6a155',
    );
  });

  it('matches ccxt sign() headers for the same query and time', async () => {
    const ex = await ccxtExchange('bybit', { apiKey: 'test-api-key', secret: 'test-secret' });
    ex.milliseconds = () => T;
    const out = ex.sign('v5/execution/list', 'private', 'GET', {
      category: 'spot',
      startTime: 1795343618838,
      endTime: 1795900000000,
      limit: 100,
    });
    const query = new URL(out.url as string).search.slice(1);
    const mine = signBybitRequest({
      baseUrl: 'https://api.bybit.com',
      path: '/v5/execution/list',
      query,
      apiKey: 'test-api-key',
      secret: 'test-secret',
      timestamp: T,
      recvWindow: 5000,
    });
    assert.equal(mine.url, out.url);
    for (const h of ['X-BAPI-API-KEY', 'X-BAPI-TIMESTAMP', 'X-BAPI-RECV-WINDOW', 'X-BAPI-SIGN'])
      assert.equal(mine.headers[h], out.headers[h], h);
  });

  it('sends a URL-encoded cursor back as given, and encodes anything else', () => {
    assert.equal(bybitQuery([['cursor', '123%3A4%2C123%3A4']]), 'cursor=123%3A4%2C123%3A4');
    assert.equal(bybitQuery([['cursor', '12:4,12:4']]), 'cursor=12%3A4%2C12%3A4');
  });
});

describe('OKX v5 signer', () => {
  it('matches the request captured from ccxt in the exchange research (§2.3)', () => {
    assert.equal(
      okxSignature(
        'test-secret',
        '2026-11-22T11:33:25.353Z',
        'GET',
        '/api/v5/trade/fills-history?instId=BTC-USDT&begin=1795343605032&instType=SPOT',
      ),
      'DF29c5ypgnZTvDc/MNsxANHrcsmBX7yj6qLAS9K835c=',
    );
  });

  it('matches ccxt sign() headers for the same query and time', async () => {
    const ex = await ccxtExchange('okx', {
      apiKey: 'test-api-key',
      secret: 'test-secret',
      password: 'test-pass',
    });
    ex.milliseconds = () => T;
    const out = ex.sign('trade/fills-history', 'private', 'GET', {
      instType: 'SPOT',
      limit: 100,
      after: '400000000000000123',
    });
    const query = new URL(out.url as string).search.slice(1);
    const mine = signOkxRequest({
      baseUrl: 'https://www.okx.com',
      path: '/api/v5/trade/fills-history',
      query,
      apiKey: 'test-api-key',
      secret: 'test-secret',
      passphrase: 'test-pass',
      timestamp: T,
    });
    assert.equal(mine.url, out.url);
    for (const h of [
      'OK-ACCESS-KEY',
      'OK-ACCESS-SIGN',
      'OK-ACCESS-TIMESTAMP',
      'OK-ACCESS-PASSPHRASE',
    ])
      assert.equal(mine.headers[h], out.headers[h], h);
  });

  it('signs the path as the server sees it, prefix included', () => {
    const r = signOkxRequest({
      baseUrl: 'http://127.0.0.1:9/okx',
      path: '/api/v5/trade/fills-history',
      query: 'instType=SPOT',
      apiKey: 'k',
      secret: 's',
      passphrase: 'p',
      timestamp: T,
    });
    const ts = new Date(T).toISOString();
    assert.equal(
      r.headers['OK-ACCESS-SIGN'],
      okxSignature('s', ts, 'GET', '/okx/api/v5/trade/fills-history?instType=SPOT'),
    );
  });
});

describe('Coinbase CDP ES256 JWT signer', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = privateKey.export({ format: 'pem', type: 'sec1' }).toString();
  const keyName = 'organizations/org-1/apiKeys/key-1';
  const base = {
    baseUrl: 'https://api.coinbase.com',
    path: '/api/v3/brokerage/orders/historical/fills',
    query: 'limit=250&cursor=abc',
    apiKey: keyName,
    secret: pem,
    timestampS: Math.floor(T / 1000),
    nonce: '00112233445566778899aabbccddeeff',
  };

  it('is a valid ES256 JWS over the documented claims (checked with jose)', async () => {
    const req = signCoinbaseRequest(base);
    assert.equal(req.url, `${base.baseUrl}${base.path}?${base.query}`);
    const jwt = req.headers['Authorization']!.replace(/^Bearer /, '');
    const hdr = decodeProtectedHeader(jwt);
    assert.deepEqual(hdr, { alg: 'ES256', typ: 'JWT', kid: keyName, nonce: base.nonce });
    const { payload } = await jwtVerify(jwt, publicKey, {
      currentDate: new Date(T),
      audience: 'retail_rest_api_proxy',
      issuer: 'coinbase-cloud',
      subject: keyName,
    });
    assert.equal(payload.uri, 'GET api.coinbase.com/api/v3/brokerage/orders/historical/fills');
    assert.equal(payload.exp, base.timestampS + 120);
  });

  it('has the same header and claims as ccxt’s token for the same request', async () => {
    const ex = await ccxtExchange('coinbase', { apiKey: keyName, secret: pem });
    ex.seconds = () => base.timestampS;
    ex.milliseconds = () => base.timestampS * 1000;
    const out = ex.sign('brokerage/orders/historical/fills', ['v3', 'private'], 'GET', {
      limit: 250,
      cursor: 'abc',
    });
    const theirs = (out.headers.Authorization as string).replace(/^Bearer /, '');
    const mine = signCoinbaseRequest(base).headers['Authorization']!.replace(/^Bearer /, '');
    const dec = (t: string, i: number) =>
      JSON.parse(Buffer.from(t.split('.')[i]!, 'base64url').toString()) as Record<string, unknown>;
    const { nonce: n1, ...h1 } = dec(theirs, 0);
    const { nonce: n2, ...h2 } = dec(mine, 0);
    assert.equal(typeof n1, 'string');
    assert.equal(typeof n2, 'string');
    assert.deepEqual(h2, h1);
    assert.deepEqual(dec(mine, 1), dec(theirs, 1));
    // ccxt's token verifies under the same key the same way ours does.
    const [a, b, s] = theirs.split('.');
    assert.ok(
      verify(
        'sha256',
        Buffer.from(`${a}.${b}`),
        { key: createPublicKey(pem), dsaEncoding: 'ieee-p1363' },
        Buffer.from(s!, 'base64url'),
      ),
    );
  });

  it('refuses a key that is not P-256', () => {
    const { privateKey: ed } = generateKeyPairSync('ed25519');
    assert.throws(
      () =>
        signCoinbaseRequest({
          ...base,
          secret: ed.export({ format: 'pem', type: 'pkcs8' }).toString(),
        }),
      TypeError,
    );
  });
});
