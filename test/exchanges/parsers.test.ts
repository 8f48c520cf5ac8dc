/**
 * Parsers: each exchange's JSON to `Fill` with the decimal strings untouched, fees in the
 * quote, the base and a third currency, partial fills of one order, rows that are not fills,
 * and malformed answers, which must be EXCHANGE_BAD_RESPONSE and never a crash. The rows are
 * shaped like the exchanges' documented examples (as quoted in the exchange research).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  parseBinanceAccount,
  parseBinanceHeldAssets,
  parseBinanceMarkets,
  parseBinanceTrades,
} from '../../src/enclave/exchanges/binance/parser.js';
import {
  parseBybitAccountId,
  parseBybitExecutions,
} from '../../src/enclave/exchanges/bybit/parser.js';
import { parseOkxAccountId, parseOkxFills } from '../../src/enclave/exchanges/okx/parser.js';
import {
  divDecimal,
  parseCoinbaseAccountId,
  parseCoinbaseFills,
} from '../../src/enclave/exchanges/coinbase/parser.js';
import { ExchangeError } from '../../src/enclave/exchanges/errors.js';
import type { Market } from '../../src/enclave/exchanges/fills.js';

const BTCUSDT: Market = { symbol: 'BTC/USDT', base: 'BTC', quote: 'USDT', native: 'BTCUSDT' };
const bad = (fn: () => unknown) =>
  assert.throws(
    fn,
    (e: unknown) => e instanceof ExchangeError && e.code === 'EXCHANGE_BAD_RESPONSE',
  );

const binanceRow = (o: Record<string, unknown> = {}) => ({
  symbol: 'BTCUSDT',
  id: 28458,
  orderId: 100240,
  orderListId: -1,
  price: '65000.10',
  qty: '0.00100000',
  quoteQty: '65.0001',
  commission: '0.06500010',
  commissionAsset: 'USDT',
  time: 1795347077998,
  isBuyer: false,
  isMaker: true,
  isBestMatch: true,
  ...o,
});

describe('Binance myTrades parser', () => {
  it('keeps decimals as printed; a sell with its fee in the quote asset', () => {
    const [t] = parseBinanceTrades([binanceRow()], BTCUSDT);
    assert.equal(t!.id, 28458);
    assert.deepEqual(t!.fill, {
      exchange: 'binance',
      symbol: 'BTC/USDT',
      base: 'BTC',
      quote: 'USDT',
      id: '28458',
      orderId: '100240',
      side: 'sell',
      price: '65000.10',
      amount: '0.00100000',
      fee: { cost: '0.06500010', currency: 'USDT' },
      timestamp: 1795347077998,
    });
  });

  it('partial fills of one order: base-currency fee, BNB fee, no fee', () => {
    const fills = parseBinanceTrades(
      [
        binanceRow({ id: 1, isBuyer: true, commission: '0.00000100', commissionAsset: 'BTC' }),
        binanceRow({ id: 2, isBuyer: true, commission: '0.00012000', commissionAsset: 'BNB' }),
        binanceRow({ id: 3, isBuyer: true, commission: '0.00000000', commissionAsset: 'BNB' }),
      ],
      BTCUSDT,
    ).map((t) => t.fill);
    assert.deepEqual(
      fills.map((f) => [f.id, f.orderId, f.side, f.fee]),
      [
        ['1', '100240', 'buy', { cost: '0.00000100', currency: 'BTC' }],
        ['2', '100240', 'buy', { cost: '0.00012000', currency: 'BNB' }],
        ['3', '100240', 'buy', null],
      ],
    );
  });

  it('malformed answers are EXCHANGE_BAD_RESPONSE', () => {
    bad(() => parseBinanceTrades({ code: -1 }, BTCUSDT));
    bad(() => parseBinanceTrades([binanceRow({ price: 65000.1 })], BTCUSDT)); // a float
    bad(() => parseBinanceTrades([binanceRow({ qty: '1e-8' })], BTCUSDT));
    bad(() => parseBinanceTrades([binanceRow({ qty: '0.000' })], BTCUSDT));
    bad(() => parseBinanceTrades([binanceRow({ isBuyer: undefined })], BTCUSDT));
    bad(() => parseBinanceTrades([binanceRow({ symbol: 'ETHUSDT' })], BTCUSDT));
    bad(() => parseBinanceTrades([binanceRow({ time: -5 })], BTCUSDT));
    bad(() => parseBinanceTrades(undefined, BTCUSDT));
  });

  it('exchangeInfo and account balances', () => {
    assert.deepEqual(
      parseBinanceMarkets({
        symbols: [{ symbol: 'ETHBTC', status: 'TRADING', baseAsset: 'ETH', quoteAsset: 'BTC' }],
      }),
      [{ symbol: 'ETH/BTC', base: 'ETH', quote: 'BTC', native: 'ETHBTC' }],
    );
    assert.deepEqual(
      [
        ...parseBinanceHeldAssets({
          balances: [
            { asset: 'BTC', free: '0.00000000', locked: '0.10000000' },
            { asset: 'ETH', free: '0.00000000', locked: '0.00000000' },
            { asset: 'USDT', free: '12.5', locked: '0' },
          ],
        }),
      ],
      ['BTC', 'USDT'],
    );
    bad(() => parseBinanceMarkets({ symbols: [{ symbol: 'x y' }] }));
  });
});

const bybitRow = (o: Record<string, unknown> = {}) => ({
  symbol: 'BTCUSDT',
  side: 'Buy',
  orderId: '1600000000000000000',
  orderType: 'Market',
  execId: '2100000000000000001',
  execPrice: '65000',
  execQty: '0.001',
  execValue: '65',
  execFee: '0.000001',
  feeCurrency: 'BTC',
  feeRate: '0.001',
  isMaker: false,
  execType: 'Trade',
  execTime: '1795347098838',
  ...o,
});
const bybitPage = (list: unknown[], nextPageCursor = '') => ({
  retCode: 0,
  retMsg: 'OK',
  result: { category: 'spot', list, nextPageCursor },
  retExtInfo: {},
  time: 1,
});
const markets = new Map([['BTCUSDT', BTCUSDT]]);

describe('Bybit execution/list parser', () => {
  it('the documented row; fee in base; Funding rows are not fills', () => {
    const p = parseBybitExecutions(
      bybitPage([bybitRow(), bybitRow({ execType: 'Funding', execId: '9' })], 'c%3A1'),
      markets,
    );
    assert.equal(p.nextCursor, 'c%3A1');
    assert.deepEqual(p.fills, [
      {
        exchange: 'bybit',
        symbol: 'BTC/USDT',
        base: 'BTC',
        quote: 'USDT',
        id: '2100000000000000001',
        orderId: '1600000000000000000',
        side: 'buy',
        price: '65000',
        amount: '0.001',
        fee: { cost: '0.000001', currency: 'BTC' },
        timestamp: 1795347098838,
      },
    ]);
  });

  it('fee in quote, in a third currency, from the spot rule when feeCurrency is empty, and rebates', () => {
    const p = parseBybitExecutions(
      bybitPage([
        bybitRow({ execId: '1', side: 'Sell', execFee: '0.065', feeCurrency: 'USDT' }),
        bybitRow({ execId: '2', execFee: '0.01', feeCurrency: 'MNT' }),
        bybitRow({ execId: '3', side: 'Sell', execFee: '0.065', feeCurrency: '' }),
        bybitRow({ execId: '4', side: 'Buy', execFee: '0.0000001', feeCurrency: undefined }),
        bybitRow({ execId: '5', execFee: '-0.01', feeCurrency: 'USDT' }),
      ]),
      markets,
    );
    assert.deepEqual(
      p.fills.map((f) => f.fee),
      [
        { cost: '0.065', currency: 'USDT' },
        { cost: '0.01', currency: 'MNT' },
        { cost: '0.065', currency: 'USDT' },
        { cost: '0.0000001', currency: 'BTC' },
        null,
      ],
    );
  });

  it('errors and malformed answers', () => {
    bad(() => parseBybitExecutions({ retCode: 10001, retMsg: 'x', result: {} }, markets));
    bad(() => parseBybitExecutions(bybitPage([bybitRow({ symbol: 'XYZUSDT' })]), markets));
    bad(() => parseBybitExecutions(bybitPage([bybitRow({ execPrice: 65000 })]), markets));
    bad(() => parseBybitExecutions(bybitPage([bybitRow({ side: 'buy' })]), markets));
    bad(() => parseBybitExecutions('nope', markets));
  });
});

const okxRow = (o: Record<string, unknown> = {}) => ({
  instType: 'SPOT',
  instId: 'BTC-USDT',
  tradeId: '107601753',
  ordId: '317321390244397057',
  billId: '317321390265368577',
  fillPx: '65100.0',
  fillSz: '0.002',
  side: 'sell',
  posSide: 'net',
  execType: 'M',
  feeCcy: 'USDT',
  fee: '-0.1302',
  ts: '1795347145032',
  ...o,
});

describe('OKX fills-history parser', () => {
  it('a charged fee (negative on OKX) becomes a positive cost; a rebate is no fee', () => {
    const rows = parseOkxFills({
      code: '0',
      msg: '',
      data: [
        okxRow(),
        okxRow({ tradeId: '2', fee: '0.01', billId: '5' }),
        okxRow({ tradeId: '3', fee: '0', billId: '6' }),
      ],
    });
    assert.equal(rows[0]!.billId, 317321390265368577n);
    assert.deepEqual(rows[0]!.fill, {
      exchange: 'okx',
      symbol: 'BTC/USDT',
      base: 'BTC',
      quote: 'USDT',
      id: '107601753',
      orderId: '317321390244397057',
      side: 'sell',
      price: '65100.0',
      amount: '0.002',
      fee: { cost: '0.1302', currency: 'USDT' },
      timestamp: 1795347145032,
    });
    assert.equal(rows[1]!.fill.fee, null);
    assert.equal(rows[2]!.fill.fee, null);
  });

  it('errors and malformed answers', () => {
    bad(() => parseOkxFills({ code: '50011', msg: '', data: [] }));
    bad(() => parseOkxFills({ code: '0', data: [okxRow({ instId: 'BTCUSDT' })] }));
    bad(() => parseOkxFills({ code: '0', data: [okxRow({ billId: 12 })] }));
    bad(() => parseOkxFills({ code: '0', data: [okxRow({ feeCcy: '' })] }));
  });
});

const cbRow = (o: Record<string, unknown> = {}) => ({
  entry_id: 'b88b82cc',
  trade_id: 'cdc39e45-bbd3-44ec-bf02-61742dfb16a1',
  order_id: '813a53c5-3e39-47bb-863d-2faf685d22d8',
  trade_time: '2023-01-18T01:37:38.091377090Z',
  trade_type: 'FILL',
  price: '21220.64',
  size: '0.0046830664333996',
  commission: '0.0000280983986004',
  product_id: 'BTC-USDT',
  sequence_timestamp: '2023-01-18T01:37:38.092520Z',
  liquidity_indicator: 'TAKER',
  size_in_quote: false,
  user_id: 'u',
  side: 'BUY',
  ...o,
});

describe('Coinbase fills parser', () => {
  it('commission in the quote currency; nanosecond times truncated to ms; adjustments skipped', () => {
    const p = parseCoinbaseFills({
      fills: [cbRow(), cbRow({ trade_type: 'REVERSAL', trade_id: 'r' })],
      cursor: '',
    });
    assert.equal(p.rows, 2);
    assert.deepEqual(p.fills, [
      {
        exchange: 'coinbase',
        symbol: 'BTC/USDT',
        base: 'BTC',
        quote: 'USDT',
        id: 'cdc39e45-bbd3-44ec-bf02-61742dfb16a1',
        orderId: '813a53c5-3e39-47bb-863d-2faf685d22d8',
        side: 'buy',
        price: '21220.64',
        amount: '0.0046830664333996',
        fee: { cost: '0.0000280983986004', currency: 'USDT' },
        timestamp: Date.UTC(2023, 0, 18, 1, 37, 38, 91),
      },
    ]);
  });

  it('size in quote: the base amount is size ÷ price, exact to 18 places', () => {
    const p = parseCoinbaseFills({
      fills: [cbRow({ size_in_quote: true, size: '100', price: '8' })],
    });
    assert.equal(p.fills[0]!.amount, '12.5');
    assert.equal(divDecimal('1', '3'), '0.333333333333333333');
    assert.equal(divDecimal('0.1', '0.004'), '25');
  });

  it('malformed answers', () => {
    bad(() => parseCoinbaseFills({ fills: [cbRow({ trade_time: 'yesterday' })] }));
    bad(() => parseCoinbaseFills({ fills: [cbRow({ side: 'buy' })] }));
    bad(() => parseCoinbaseFills({ error: 'x' }));
  });
});

describe('account ids (what a v2 result commits to)', () => {
  it('each exchange reports its account id in its own shape', () => {
    assert.equal(parseBinanceAccount({ uid: 354937868, balances: [] }).accountId, '354937868');
    assert.equal(parseBinanceAccount({ balances: [] }).accountId, undefined);
    assert.equal(
      parseBybitAccountId({ retCode: 0, retMsg: 'OK', result: { userID: 24617703 } }),
      '24617703',
    );
    assert.equal(
      parseOkxAccountId({ code: '0', msg: '', data: [{ uid: '44705892343619584' }] }),
      '44705892343619584',
    );
    assert.equal(
      parseCoinbaseAccountId({ portfolio_uuid: 'b87a2d3f-8a1e-4b3d-9d5e-2f1c0a9e7d61' }),
      'b87a2d3f-8a1e-4b3d-9d5e-2f1c0a9e7d61',
    );
    // Anything else is a bad response, never an id the payload would commit to.
    for (const bad of [
      () => parseBybitAccountId({ retCode: 10003, result: {} }),
      () => parseOkxAccountId({ code: '0', data: [] }),
      () => parseOkxAccountId({ code: '0', data: [{ uid: 'has space' }] }),
      () => parseCoinbaseAccountId({ portfolio_uuid: 'x'.repeat(65) }),
      () => parseBinanceAccount({ uid: -1, balances: [] }),
    ])
      assert.throws(bad, { code: 'EXCHANGE_BAD_RESPONSE' });
  });
});
