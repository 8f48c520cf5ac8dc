/**
 * The fake exchange server (tests and `npm run demo` only; never imported from `src/`).
 *
 * One node:http (or node:https, with a throwaway CA) server on 127.0.0.1 answers the endpoints
 * the connectors call on Binance spot (`/api/v3/*`), Bybit v5 (`/v5/*`), OKX v5 (`/api/v5/*`)
 * and Coinbase Advanced Trade (`/api/v3/brokerage/*`); the paths do not overlap, so one base
 * URL serves all four. Every request is recorded (method, path, raw query, headers) so tests
 * can assert what a connector sent.
 */
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { handleBinance } from './binance.js';
import { handleBybit } from './bybit.js';
import { handleOkx } from './okx.js';
import { handleCoinbase } from './coinbase.js';
import {
  makeAccount,
  type AccountSpec,
  type FakeAccount,
  type FakeRequest,
  type FakeResponse,
} from './context.js';
import {
  BINANCE_DEFAULT_LIMITS,
  BYBIT_DEFAULT_LIMITS,
  BinanceWeightLimiter,
  OKX_DEFAULT_LIMITS,
  WindowLimiter,
  type BinanceLimits,
  type WindowLimits,
} from './rate-limit.js';
import { API_HOSTS, createThrowawayPki } from './tls.js';

export type ExchangeName = 'binance' | 'bybit' | 'okx' | 'coinbase';

export interface FakeExchangeOptions {
  /** Listen address, default 127.0.0.1; port default 0 (any free port). */
  host?: string;
  port?: number;
  /** Generator defaults for accounts that do not set their own. */
  seed?: number;
  fills?: number;
  endMs?: number;
  days?: number;
  /** Default: `test-api-key`/`test-secret`/`test-pass`, and `revoked-api-key` (rejected). */
  accounts?: AccountSpec[];
  /** Serve HTTPS with a throwaway CA; `caOut` writes the CA certificate (PEM) to that path. */
  https?: boolean | { caOut?: string; hostnames?: string[] };
  /** Server clock (ms); default Date.now. Every answer's `Date` header is from it, as an exchange's is. */
  now?: () => number;
  /**
   * A slow history: awaited before each request is answered (a test holds a page until it has
   * done something, e.g. revoked the session, then releases it). No timer is involved.
   */
  hold?: (req: { exchange: ExchangeName | 'unknown'; path: string }) => Promise<void> | void;
  /**
   * A rate limit on demand: a number answers this request with HTTP 429, `Retry-After` that many
   * seconds and the exchange's "too many requests" body (e.g. once, to see a client wait it out).
   */
  tooManyRequests?: (req: {
    exchange: ExchangeName | 'unknown';
    path: string;
  }) => number | undefined;
  limits?: {
    binance?: Partial<BinanceLimits>;
    bybit?: Partial<WindowLimits>;
    okx?: Partial<WindowLimits>;
    coinbase?: Partial<WindowLimits>;
  };
}

export interface RecordedRequest {
  exchange: ExchangeName | 'unknown';
  method: string;
  path: string;
  rawQuery: string;
  headers: Record<string, string | undefined>;
  body: string;
  status: number;
}

export interface FakeExchange {
  /** `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`. */
  url: string;
  port: number;
  accounts: Map<string, FakeAccount>;
  /** The throwaway CA (PEM) in HTTPS mode. */
  caPem?: string;
  requests: RecordedRequest[];
  /** The live limiters; tests may lower limits or reset counters. */
  limiters: {
    binance: BinanceWeightLimiter;
    bybit: WindowLimiter;
    okx: WindowLimiter;
    coinbase: WindowLimiter;
  };
  close(): Promise<void>;
}

export const DEFAULT_ACCOUNTS: AccountSpec[] = [
  { apiKey: 'test-api-key', secret: 'test-secret', passphrase: 'test-pass' },
  { apiKey: 'revoked-api-key', secret: 'revoked-secret', passphrase: 'test-pass', revoked: true },
];

const MAX_BODY = 1 << 20;

/** Each exchange's "too many requests" body (for `tooManyRequests`). */
const TOO_MANY: Record<ExchangeName | 'unknown', unknown> = {
  binance: { code: -1003, msg: 'Too many requests; please use the websocket for live updates.' },
  bybit: { retCode: 10006, retMsg: 'Too many visits!', result: {}, time: 0 },
  okx: { code: '50011', msg: 'Too Many Requests', data: [] },
  coinbase: { error: 'RATE_LIMIT_EXCEEDED', message: 'Too many requests' },
  unknown: '',
};

function classify(path: string): ExchangeName | 'unknown' {
  if (path.startsWith('/api/v3/brokerage/')) return 'coinbase';
  if (path.startsWith('/api/v3/')) return 'binance';
  if (path.startsWith('/api/v5/')) return 'okx';
  if (path.startsWith('/v5/')) return 'bybit';
  return 'unknown';
}

export async function startFakeExchange(opts: FakeExchangeOptions = {}): Promise<FakeExchange> {
  const defaults = {
    seed: opts.seed ?? 42,
    fills: opts.fills ?? 10_000,
    ...(opts.endMs !== undefined ? { endMs: opts.endMs } : {}),
    ...(opts.days !== undefined ? { days: opts.days } : {}),
  };
  const accounts = new Map<string, FakeAccount>();
  for (const spec of opts.accounts ?? DEFAULT_ACCOUNTS) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const keyName = `organizations/fake-org/apiKeys/${spec.apiKey}`;
    const privateKeyPem = privateKey.export({ format: 'pem', type: 'sec1' }).toString();
    const account = makeAccount(spec, defaults, { keyName, privateKeyPem, publicKey });
    accounts.set(spec.apiKey, account);
  }
  const coinbaseKeys = new Map([...accounts.values()].map((a) => [a.coinbase.keyName, a]));
  const limiters = {
    binance: new BinanceWeightLimiter({ ...BINANCE_DEFAULT_LIMITS, ...opts.limits?.binance }),
    bybit: new WindowLimiter({ ...BYBIT_DEFAULT_LIMITS, ...opts.limits?.bybit }),
    okx: new WindowLimiter({ ...OKX_DEFAULT_LIMITS, ...opts.limits?.okx }),
    coinbase: new WindowLimiter({ limit: 30, windowMs: 1000, ...opts.limits?.coinbase }),
  };
  const now = opts.now ?? Date.now;
  const requests: RecordedRequest[] = [];
  let baseUrl = '';

  const dispatch = (req: FakeRequest): FakeResponse => {
    switch (classify(req.path)) {
      case 'binance':
        return handleBinance(req, { accounts, limiter: limiters.binance });
      case 'bybit':
        return handleBybit(req, { accounts, limiter: limiters.bybit });
      case 'okx':
        return handleOkx(req, { accounts, limiter: limiters.okx });
      case 'coinbase':
        return handleCoinbase(req, { accounts: coinbaseKeys, limiter: limiters.coinbase, baseUrl });
      default:
        return { status: 404, body: '' };
    }
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) req.destroy();
      else chunks.push(c);
    });
    const answer = async () => {
      const url = req.url ?? '/';
      const path = url.indexOf('?') < 0 ? url : url.slice(0, url.indexOf('?'));
      try {
        await opts.hold?.({ exchange: classify(path), path });
      } catch {
        res.destroy();
        return;
      }
      const q = url.indexOf('?');
      const fr: FakeRequest = {
        method: req.method ?? 'GET',
        path: q < 0 ? url : url.slice(0, q),
        rawQuery: q < 0 ? '' : url.slice(q + 1),
        headers: req.headers as Record<string, string | undefined>,
        body: Buffer.concat(chunks).toString('utf8'),
        ip: req.socket.remoteAddress ?? '',
        now: now(),
        host: req.headers.host ?? '',
      };
      let out: FakeResponse;
      const retryAfterS = opts.tooManyRequests?.({ exchange: classify(path), path });
      try {
        out =
          retryAfterS === undefined
            ? dispatch(fr)
            : {
                status: 429,
                headers: { 'retry-after': String(retryAfterS) },
                body: TOO_MANY[classify(path)],
              };
      } catch {
        out = {
          status: 500,
          body: { code: -1000, msg: 'An unknown error occurred while processing the request.' },
        };
      }
      requests.push({
        exchange: classify(fr.path),
        method: fr.method,
        path: fr.path,
        rawQuery: fr.rawQuery,
        headers: { ...fr.headers },
        body: fr.body,
        status: out.status,
      });
      const body = typeof out.body === 'string' ? out.body : JSON.stringify(out.body);
      res.writeHead(out.status, {
        // The exchange's own clock, as a real one's `Date` is (the connectors read it).
        date: new Date(now()).toUTCString(),
        'content-type':
          typeof out.body === 'string' ? 'text/html' : 'application/json;charset=UTF-8',
        ...out.headers,
      });
      res.end(body);
    };
    req.on('end', () => void answer());
  };

  let server: Server;
  let caPem: string | undefined;
  if (opts.https) {
    const h = typeof opts.https === 'object' ? opts.https : {};
    const pki = await createThrowawayPki(h.hostnames ?? API_HOSTS);
    caPem = pki.caPem;
    if (h.caOut) writeFileSync(h.caOut, pki.caPem);
    server = createHttpsServer({ key: pki.keyPem, cert: pki.certPem }, onRequest);
  } else {
    server = createHttpServer(onRequest);
  }
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const { port, address } = server.address() as AddressInfo;
  baseUrl = `${opts.https ? 'https' : 'http'}://${address}:${port}`;
  return {
    url: baseUrl,
    port,
    accounts,
    ...(caPem !== undefined ? { caPem } : {}),
    requests,
    limiters,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
