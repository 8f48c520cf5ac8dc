/**
 * The worked example of docs/protocol/signed-aggregates.md, built from fixed inputs with the
 * real code (engine, schema, node:crypto signer): `npx tsx test/aggregates/example.ts` prints
 * the values the document shows, and signed.test.ts checks that the document still shows them.
 * The key is a published test key (seed 00 01 … 1f): never use it for anything else.
 */
import { createHash } from 'node:crypto';
import { computeAggregatesDaily } from '../../src/enclave/aggregates/daily.js';
import { signAggregates } from '../../src/enclave/aggregates/sign.js';
import { ed25519PrivateKeyObject, ed25519RawPublic } from '../../src/enclave/crypto/ed25519.js';
import type { Fill } from '../../src/enclave/exchanges/types.js';
import {
  accountCommitment,
  aggregatesDigest,
  aggregatesLogEntry,
  aggregatesSubject,
  AGGREGATES_VERSION,
  AGGREGATES_VERSION_V1,
  AGGREGATES_VERSION_V2,
  type AggregatesPayload,
  type AggregatesPayloadV1,
  type AggregatesPayloadV2,
} from '../../src/protocol/aggregates.js';
import { bytesToBase64, bytesToHex } from '../../src/protocol/encoding.js';
import { jcs } from '../../src/protocol/jcs.js';
import { okpThumbprint } from '../../src/protocol/key-id.js';
import { sessionLogSubject } from '../../src/protocol/log/entry.js';

export const EXAMPLE_SEED = Uint8Array.from({ length: 32 }, (_, i) => i);
export const EXAMPLE_SESSION_ID = '00000000-0000-4000-8000-000000000000';
/** v2: the Cloister user that asked, the exchange account (Binance `uid`) and its salt. */
export const EXAMPLE_USER_ID = '00000000-0000-4000-8000-0000000000aa';
export const EXAMPLE_ACCOUNT_ID = '354937868';
export const EXAMPLE_SALT = Uint8Array.from({ length: 32 }, (_, i) => 0x40 + i);
export const EXAMPLE_AUDIENCE = 'verifier.example.com';
export const EXAMPLE_NONCE = 'n-0123456789abcdef';

const T = Date.UTC(2026, 0, 1);
const H = 3_600_000;
function f(
  id: number,
  symbol: string,
  side: 'buy' | 'sell',
  price: string,
  amount: string,
  hours: number,
  fee: Fill['fee'],
): Fill {
  const [base, quote] = symbol.split('/') as [string, string];
  return {
    exchange: 'binance',
    symbol,
    base,
    quote,
    id: String(id),
    orderId: null,
    side,
    price,
    amount,
    fee,
    timestamp: T + hours * H,
  };
}

/** Two symbols, a short, fees in the quote, the base and a third currency. */
export const EXAMPLE_FILLS: Fill[] = [
  f(1, 'BTC/USDT', 'buy', '40000', '0.5', 1, { cost: '0.0005', currency: 'BTC' }),
  f(2, 'BTC/USDT', 'sell', '42000', '0.2', 26, { cost: '8.4', currency: 'USDT' }),
  f(3, 'BTC/USDT', 'sell', '41000', '0.5', 50, { cost: '0.01', currency: 'BNB' }),
  f(4, 'BTC/USDT', 'buy', '39000', '0.2005', 74, { cost: '7.82', currency: 'USDT' }),
  f(5, 'ETH/BTC', 'buy', '0.05', '2', 80, { cost: '0.0001', currency: 'BTC' }),
];

/** The `cloister/aggregates/v3` example (what the enclave signs now). */
export function buildExample() {
  return build('v3');
}

/** The same figures as a `cloister/aggregates/v2` result (the document's example before v3). */
export function buildExampleV2() {
  return build('v2');
}

/** The same figures as a `cloister/aggregates/v1` result (the document's example before v2). */
export function buildExampleV1() {
  return build('v1');
}

function build(version: 'v1' | 'v2' | 'v3') {
  const key = ed25519PrivateKeyObject(EXAMPLE_SEED);
  const publicKey = ed25519RawPublic(key);
  const { daily, ...figures } = computeAggregatesDaily(EXAMPLE_FILLS, {
    from: T,
    to: T + 4 * 24 * H,
    reportingCurrency: 'USDT',
  });
  const v1: AggregatesPayloadV1 = {
    version: AGGREGATES_VERSION_V1,
    ...figures,
    exchange: 'binance',
    api_host: 'api.binance.com',
    session: sessionLogSubject(EXAMPLE_SESSION_ID),
    symbols_scanned: ['BTC/USDT', 'ETH/BTC'],
    computed_at: '2026-01-05T00:00:07.000Z',
    responses_digest: createHash('sha256').update('example exchange responses').digest('hex'),
    measurement: createHash('sha384').update('example enclave image').digest('hex'),
    key_id: okpThumbprint('Ed25519', publicKey),
  };
  const v2: AggregatesPayloadV2 = {
    ...v1,
    version: AGGREGATES_VERSION_V2,
    account_commitment: accountCommitment(EXAMPLE_SALT, 'binance', EXAMPLE_ACCOUNT_ID),
    subject: aggregatesSubject({ userId: EXAMPLE_USER_ID }),
    audience: EXAMPLE_AUDIENCE,
    nonce: EXAMPLE_NONCE,
    // Binance discovers symbols from balances: never an account-wide listing.
    symbols_complete: false,
  };
  const payload: AggregatesPayload =
    version === 'v1' ? v1 : version === 'v2' ? v2 : { ...v2, version: AGGREGATES_VERSION, daily };
  const signed = signAggregates(payload, key);
  return {
    resultsKey: bytesToBase64(publicKey),
    signed,
    payloadJcs: jcs(signed.payload),
    digest: aggregatesDigest(signed.payload),
    logEntry: jcs(aggregatesLogEntry(signed.payload)),
    seedHex: bytesToHex(EXAMPLE_SEED),
    saltBase64: bytesToBase64(EXAMPLE_SALT),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const which = process.argv[2];
  const e = which === 'v1' ? buildExampleV1() : which === 'v2' ? buildExampleV2() : buildExample();
  console.log(JSON.stringify(e, null, 2));
}
