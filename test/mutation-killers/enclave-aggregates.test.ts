/**
 * src/enclave/methods/aggregates.ts for the mutation run (docs/mutation-testing.md): the job
 * body, which only the service test against the fake exchange reached (it spawns the built
 * bundle, never a mutant). Here the in-process enclave's egress transport is a small Binance
 * double, so a whole job runs in the test: the window it signs, the payload's fields, the
 * signature, a connector that cannot name the account, cancellation and progress, and that a
 * job however it ends gives back the engine's work buffers. Some tests inject a fault into the
 * engine (a global it calls, failing once): no fill a connector can return makes the engine
 * throw anything but a refusal, so only a fault tells an error of its own from a refusal.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { ed25519 } from '@noble/curves/ed25519.js';
import { CryptoHelper } from '../../src/client/index.js';
import {
  accountCommitment,
  aggregatesDigest,
  aggregatesSigningInput,
  AGGREGATES_VERSION,
  DAY_MS,
} from '../../src/protocol/aggregates.js';
import { giveBack, holdWorkspace, releaseScratch } from '../../src/enclave/aggregates/scratch.js';
import { base64ToBytes } from '../../src/protocol/encoding.js';
import { jcs } from '../../src/protocol/jcs.js';
import { okpThumbprint } from '../../src/protocol/key-id.js';
import { sessionLogSubject } from '../../src/protocol/log/entry.js';
import type { JobView } from '../../src/protocol/rpc/methods.js';
import { routeTransport, type Handler, type RoutedRequest } from '../exchanges/doubles.js';
import { testEnclave, type TestEnclave } from '../helpers/enclave-state.js';
import { code, ok } from './rpc.js';

const UID = 424242;

/**
 * Binance spot: exchangeInfo, account (uid unless `noUid`), myTrades of BTCUSDT. The account
 * holds only USDT (its BTC sold out): discovery by balance would scan no symbol, so the fills
 * are found only through the query's symbols.
 */
function binance(
  times: number[],
  opts: { noUid?: boolean; feeInBase?: string; price?: string } = {},
): Record<string, Handler> {
  const rows = times.map((time, i) => ({ id: i + 1, time }));
  const trade = (r: { id: number; time: number }) => ({
    symbol: 'BTCUSDT',
    id: r.id,
    orderId: r.id,
    price: opts.price ?? '100.00000000',
    qty: '0.50000000',
    quoteQty: '50.00000000',
    commission: opts.feeInBase ?? '0.05000000',
    commissionAsset: opts.feeInBase ? 'BTC' : 'USDT',
    time: r.time,
    isBuyer: r.id % 2 === 1,
    isMaker: false,
    isBestMatch: true,
  });
  return {
    '/api/v3/time': () => ({ body: { serverTime: Date.now() } }),
    '/api/v3/exchangeInfo': () => ({
      body: {
        symbols: [{ symbol: 'BTCUSDT', status: 'TRADING', baseAsset: 'BTC', quoteAsset: 'USDT' }],
      },
    }),
    '/api/v3/account': () => ({
      body: {
        ...(opts.noUid ? {} : { uid: UID }),
        balances: [{ asset: 'USDT', free: '1.00000000', locked: '0.00000000' }],
      },
    }),
    '/api/v3/myTrades': (r) => {
      const q = r.query;
      const limit = Number(q.get('limit') ?? 500);
      const fromId = q.get('fromId');
      const st = q.get('startTime');
      const et = q.get('endTime');
      let page;
      if (fromId !== null) page = rows.filter((x) => x.id >= Number(fromId)).slice(0, limit);
      else if (st !== null && et !== null)
        page = rows.filter((x) => x.time >= Number(st) && x.time <= Number(et)).slice(0, limit);
      else page = rows.slice(-limit);
      return { body: page.map(trade) };
    },
  };
}

async function withCredential(
  handlers: Record<string, Handler>,
  exchange: 'binance' | 'okx' = 'binance',
  exchangeNow?: number,
) {
  const t = testEnclave();
  const g = await ok(t, 'keyring.generate', { policy: 'signer' });
  const pub = g.public.credential_keys[0]!.public_key;
  const envelope = await CryptoHelper.encryptCredentials(
    {
      exchange,
      apiKey: 'key',
      apiSecret: 'secret',
      ...(exchange === 'okx' ? { passphrase: 'pp' } : {}),
    },
    pub,
    { issuedAt: t.clock.now, keyId: g.public.current_key_id },
  );
  const s = await ok(t, 'credential.submit', {
    envelope,
    metadata: { exchange, label: 'main', ttl: 3600 },
  });
  const credential = {
    session_id: s.session_id,
    envelope,
    key_id: s.key_id,
    exchange,
    label: 'main',
    expires_at: s.expires_at,
    binding: s.binding,
  };
  // The exchange's clock is the enclave's unless a test moves it (`exchangeNow`).
  const transport = routeTransport(handlers, {
    now: () => exchangeNow ?? t.clock.now * 1000,
  });
  (t.state as { egress: unknown }).egress = () => transport;
  return { t, g, credential, transport };
}

async function settled(t: TestEnclave, jobId: string): Promise<JobView> {
  for (;;) {
    const { jobs } = await ok(t, 'aggregates.poll', { job_ids: [jobId], ack: [] });
    if (jobs[0]!.state !== 'running') return jobs[0]!;
    await new Promise((r) => setTimeout(r, 5));
  }
}

const SUBJECT = 'ab'.repeat(32);

type Credential = Awaited<ReturnType<typeof withCredential>>['credential'];

/**
 * Starts a job over [from, to) of BTC/USDT with no audience or nonce (`params` overrides any
 * of it) and returns its id.
 */
async function startJob(
  t: TestEnclave,
  credential: Credential,
  from: number | null,
  to: number,
  params: Record<string, unknown> = {},
): Promise<string> {
  const start = {
    job_id: randomUUID(),
    credential,
    from,
    to,
    symbols: ['BTC/USDT'],
    reporting_currency: 'USDT',
    subject: SUBJECT,
    audience: null,
    nonce: null,
    ...params,
  };
  assert.deepEqual(await ok(t, 'aggregates.start', start), { job_id: start.job_id });
  return start.job_id;
}

/** The same job, run to its end. */
async function runToEnd(
  t: TestEnclave,
  credential: Credential,
  from: number | null,
  to: number,
  params: Record<string, unknown> = {},
): Promise<JobView> {
  return settled(t, await startJob(t, credential, from, to, params));
}

/** The payload a finished job signed. */
function signedPayload(job: JobView): Record<string, unknown> {
  assert.equal(job.state, 'done', JSON.stringify(job));
  if (job.state !== 'done') throw new Error('unreachable');
  return JSON.parse(job.result.payload_jcs) as Record<string, unknown>;
}

/** The window of the jobs below: the two days before TO (their fills from a day before it). */
const TO = 1_800_000_000 * 1000;
const FROM = TO - 2 * DAY_MS;

/**
 * A job over [FROM, TO) of `n` Binance fills (the double's `opts`) from a day before TO, a
 * millisecond apart, run to its end.
 */
async function binanceJob(opts: Parameters<typeof binance>[1] = {}, n = 1): Promise<JobView> {
  const times = Array.from({ length: n }, (_, i) => TO - DAY_MS + i);
  const { t, credential } = await withCredential(binance(times, opts));
  return runToEnd(t, credential, FROM, TO);
}

/** The error code a job failed with (false when it did not fail). */
const failure = (job: JobView) => job.state === 'failed' && job.error;

/**
 * `binanceJob()` with `owner[name]` replaced until its first call for which `when` holds: that
 * call throws a TypeError (a fault, not a refusal) and puts the original back. The fault must
 * have fired.
 */
async function underFault<O extends object, K extends keyof O>(
  owner: O,
  name: K,
  when: (self: unknown, args: unknown[]) => boolean,
): Promise<JobView> {
  const original = owner[name] as (...args: unknown[]) => unknown;
  let fired = false;
  const restore = () => void (owner[name] = original as O[K]);
  owner[name] = function (this: unknown, ...args: unknown[]) {
    if (!fired && when(this, args)) {
      fired = true;
      restore();
      throw new TypeError('injected fault');
    }
    return original.apply(this, args);
  } as O[K];
  try {
    const job = await binanceJob();
    assert.ok(fired, 'the fault was injected');
    return job;
  } finally {
    restore();
  }
}

/** Binance myTrades' last request here: the page from trade id 1 (one fill, a short page). */
const isLastPage = (r: RoutedRequest) =>
  r.path === '/api/v3/myTrades' && r.query.get('fromId') === '1';

/**
 * A one-fill job cancelled at its last page: while the exchange answers it (`request`), or from
 * inside the job's progress report of it (`report`). Returns the cancelled job.
 */
async function cancelledAtLastPage(when: 'request' | 'report'): Promise<JobView> {
  const jobId = randomUUID();
  const handlers = binance([TO - DAY_MS]);
  const trades = handlers['/api/v3/myTrades']!;
  handlers['/api/v3/myTrades'] = async (r) => {
    if (when === 'request' && isLastPage(r)) await ok(t, 'aggregates.cancel', { job_ids: [jobId] });
    return trades(r);
  };
  const { t, credential, transport } = await withCredential(handlers);
  if (when === 'report') {
    const jobs = t.state.jobs;
    const start = jobs.start.bind(jobs);
    jobs.start = (id, run) =>
      start(id, (report, signal) =>
        run((p) => {
          report(p);
          if (isLastPage(transport.log.at(-1)!)) jobs.cancel([id]);
        }, signal),
      );
  }
  return runToEnd(t, credential, FROM, TO, { job_id: jobId });
}

describe('aggregates job (in-process, Binance double)', () => {
  it('signs what it covered: the window from the first fill’s day, the account, the request’s echo', async () => {
    const nowMs = 1_800_000_000 * 1000;
    const to = nowMs;
    // Two fills: 2.5 days and 1.5 days before `to`; the window asked has no `from`.
    const times = [to - 2.5 * DAY_MS, to - 1.5 * DAY_MS];
    const { t, g, credential, transport } = await withCredential(binance(times));
    const jobId = await startJob(t, credential, null, to, {
      audience: 'verifier.test',
      nonce: 'nonce-0123456789abcdef',
    });
    const job = await settled(t, jobId);
    const payload = signedPayload(job);
    if (job.state !== 'done') return;
    // The key was used against the exchange (signed requests carry it).
    assert.ok(transport.log.some((r) => r.headers['x-mbx-apikey'] === 'key'));
    const r = job.result;
    assert.equal(jcs(payload), r.payload_jcs);
    assert.equal(payload.version, AGGREGATES_VERSION);
    assert.equal(payload.exchange, 'binance');
    assert.equal(payload.session, sessionLogSubject(credential.session_id));
    // The query's symbol was scanned although the account no longer holds its base.
    assert.deepEqual(payload.symbols_scanned, ['BTC/USDT']);
    assert.equal(payload.symbols_complete, false);
    assert.equal(payload.computed_at, new Date(t.clock.now * 1000).toISOString());
    assert.equal(payload.measurement, t.state.platform.measurement);
    assert.equal(
      payload.key_id,
      okpThumbprint('Ed25519', base64ToBytes(g.public.signing_keys.results)),
    );
    assert.equal(payload.subject, SUBJECT);
    assert.equal(payload.audience, 'verifier.test');
    assert.equal(payload.nonce, 'nonce-0123456789abcdef');
    assert.equal(
      payload.account_commitment,
      accountCommitment(base64ToBytes(r.account_salt), 'binance', String(UID)),
    );
    assert.equal(r.signed_at, t.clock.now);
    // Acknowledged (stored by the host), a finished job is forgotten.
    await ok(t, 'aggregates.poll', { job_ids: [], ack: [jobId] });
    const { jobs } = await ok(t, 'aggregates.poll', { job_ids: [jobId], ack: [] });
    assert.equal(jobs[0]!.state, 'unknown');
    assert.equal(r.payload_digest, aggregatesDigest(payload as never));
    // Without `from`, the window starts on the UTC day of the first fill found.
    const firstDay = Math.floor(times[0]! / DAY_MS) * DAY_MS;
    assert.equal(payload.from, new Date(firstDay).toISOString());
    assert.equal(payload.to, new Date(to).toISOString());
    assert.equal(payload.trades, 2);
    assert.ok(
      ed25519.verify(
        base64ToBytes(r.signature),
        aggregatesSigningInput(payload),
        base64ToBytes(g.public.signing_keys.results),
      ),
      'signed by the attested result key',
    );
  });

  it('an explicit `from` is signed as asked', async () => {
    const to = 1_800_000_000 * 1000;
    const from = to - 2 * DAY_MS + 12_345;
    const { t, credential } = await withCredential(binance([to - DAY_MS]));
    const payload = signedPayload(await runToEnd(t, credential, from, to));
    assert.equal(payload.from, new Date(from).toISOString());
    assert.equal(payload.audience, null);
    assert.equal(payload.nonce, null);
    assert.equal(payload.trades, 1);
  });

  // Attack review (SECURITY.md, "Exchange egress and aggregates"): the host sets a TEE guest's
  // clock. Here it moved the enclave's 30 days ahead of the exchange's and asks for a window
  // ending at the enclave's "now": the exchange can list nothing after its own time, so a
  // signed result would claim a month of fills nobody could have seen (losses to come left out).
  it('a window ending after the exchange’s own clock (the enclave’s clock moved ahead) is never signed: AGGREGATES_WINDOW_INVALID', async () => {
    const to = 1_800_000_000 * 1000;
    const exchangeNow = to - 30 * DAY_MS;
    const { t, credential } = await withCredential(
      binance([exchangeNow - DAY_MS]),
      'binance',
      exchangeNow,
    );
    assert.equal(
      failure(await runToEnd(t, credential, exchangeNow - 2 * DAY_MS, to)),
      'AGGREGATES_WINDOW_INVALID',
    );
    // Up to the exchange's time (and its skew) the same job is signed.
    const payload = signedPayload(
      await runToEnd(t, credential, exchangeNow - 2 * DAY_MS, exchangeNow + 60_000),
    );
    assert.equal(payload.trades, 1);
  });

  it('an exchange answer without a `Date` proves no time: the job fails EXCHANGE_BAD_RESPONSE', async () => {
    const handlers = binance([TO - DAY_MS]);
    const info = handlers['/api/v3/exchangeInfo']!;
    handlers['/api/v3/exchangeInfo'] = async (r) => ({
      ...(await info(r)),
      headers: { date: null },
    });
    const { t, credential } = await withCredential(handlers);
    assert.equal(failure(await runToEnd(t, credential, FROM, TO)), 'EXCHANGE_BAD_RESPONSE');
  });

  it('a connector that cannot name the account fails the job: EXCHANGE_BAD_RESPONSE', async () => {
    assert.equal(failure(await binanceJob({ noUid: true })), 'EXCHANGE_BAD_RESPONSE');
  });

  it('cancelled while the exchange answers: never signed, no signed request sent', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const handlers = binance([TO - DAY_MS]);
    const info = handlers['/api/v3/exchangeInfo']!;
    handlers['/api/v3/exchangeInfo'] = async (r) => (await gate, info(r));
    const { t, credential, transport } = await withCredential(handlers);
    const jobId = await startJob(t, credential, FROM, TO);
    assert.deepEqual(await ok(t, 'aggregates.cancel', { job_ids: [jobId] }), {
      cancelled: [jobId],
    });
    release();
    const job = await settled(t, jobId);
    assert.equal(job.state, 'cancelled');
    assert.ok(!transport.log.some((r) => r.headers['x-mbx-apikey'] === 'key'));
    assert.equal(await code(t, 'aggregates.cancel', { job_ids: [jobId] }), 'ok');
  });

  it('progress: each page is reported as it arrives, and the end counts the listing’s fills', async () => {
    const jobId = randomUUID();
    const handlers = binance([TO - DAY_MS]);
    const trades = handlers['/api/v3/myTrades']!;
    // The job's progress as each myTrades request reaches the exchange.
    const seen: unknown[] = [];
    handlers['/api/v3/myTrades'] = async (r) => {
      const { jobs } = await ok(t, 'aggregates.poll', { job_ids: [jobId], ack: [] });
      seen.push(jobs[0]!.state === 'running' && { ...jobs[0]!.progress });
      return trades(r);
    };
    const { t, credential } = await withCredential(handlers);
    const job = await runToEnd(t, credential, FROM, TO, { job_id: jobId });
    assert.equal(job.state, 'done', JSON.stringify(job));
    // exchangeInfo and account, then myTrades: the day probe, the newest trade, the oldest,
    // the page from id 1. A page's report counts requests; its fills are added after it.
    const at = (requests: number, fills = 0) => ({
      requests,
      fills,
      rate_limit_waits: 0,
      rate_limit_wait_ms: 0,
    });
    assert.deepEqual(seen, [at(0), at(3), at(4), at(5)]);
    assert.deepEqual(job.state === 'done' && job.progress, at(6, 1));
  });

  it('cancelled while the exchange answers the last page: that page is never reported', async () => {
    const job = await cancelledAtLastPage('request');
    assert.equal(job.state, 'cancelled');
    assert.deepEqual(job.state === 'cancelled' && job.progress.requests, 5);
  });

  it('cancelled by the last page’s report: the listing’s end is never reported, nothing signed', async () => {
    const job = await cancelledAtLastPage('report');
    assert.equal(job.state, 'cancelled');
    assert.deepEqual(
      job.state === 'cancelled' && [job.progress.requests, job.progress.fills],
      [6, 0],
    );
  });

  it('a fill the engine refuses (a base fee above its amount) fails the job: EXCHANGE_BAD_RESPONSE', async () => {
    assert.equal(failure(await binanceJob({ feeInBase: '1.00000000' })), 'EXCHANGE_BAD_RESPONSE');
  });

  it('a fill the ingest refuses as its page arrives (a price of 65 characters or more) fails the job: EXCHANGE_BAD_RESPONSE', async () => {
    // The connector takes 40 + 40 digits; the engine reads at most 64 characters. Two pages
    // (1,000 fills and 1): the first drops the ingest, the second finds none to feed.
    const price = `${'1'.repeat(30)}.${'1'.repeat(40)}`;
    assert.equal(failure(await binanceJob({ price }, 1001)), 'EXCHANGE_BAD_RESPONSE');
  });

  it('a fault of the engine while a page is ingested is no refusal: the job fails INTERNAL', async () => {
    // The ingest's `add` writes its loop state back with Object.assign (engine.ts).
    const job = await underFault(Object, 'assign', (_, [target]) =>
      Boolean(target && typeof target === 'object' && 'partsVary' in target),
    );
    assert.equal(failure(job), 'INTERNAL');
  });

  it('a fault of the engine while the figures are computed is no refusal: the job fails INTERNAL', async () => {
    // The figures write the window's start (engine.ts, formatFigures).
    const job = await underFault(
      Date.prototype,
      'toISOString',
      (self) => (self as Date).getTime() === FROM,
    );
    assert.equal(failure(job), 'INTERNAL');
  });

  it('a job that ends before its aggregation (refused, failed, cancelled, faulted) gives its work buffers back', async () => {
    // Its ingest holds the engine's one primary set from its start (scratch.ts): kept, every
    // later job would run on plain sets, and the primary's memory would stay pinned.
    const primaryFree = () => {
      const h = holdWorkspace(0);
      giveBack(h);
      return h.primary;
    };
    releaseScratch();
    // A page refused (1,000 fills, then one more): given back at once, not when the listing ends.
    const price = `${'1'.repeat(30)}.${'1'.repeat(40)}`;
    const times = Array.from({ length: 1001 }, (_, i) => TO - DAY_MS + i);
    const handlers = binance(times, { price });
    const trades = handlers['/api/v3/myTrades']!;
    const freeAtRequest: boolean[] = [];
    handlers['/api/v3/myTrades'] = (r) => (freeAtRequest.push(primaryFree()), trades(r));
    const { t, credential } = await withCredential(handlers);
    assert.equal(failure(await runToEnd(t, credential, FROM, TO)), 'EXCHANGE_BAD_RESPONSE');
    assert.deepEqual([freeAtRequest[0], freeAtRequest.at(-1)], [false, true], 'held, then freed');
    assert.ok(primaryFree(), 'after a page the ingest refused');
    assert.equal(failure(await binanceJob({ noUid: true })), 'EXCHANGE_BAD_RESPONSE');
    assert.ok(primaryFree(), 'after a failure once the listing was done');
    assert.equal((await cancelledAtLastPage('request')).state, 'cancelled');
    assert.ok(primaryFree(), 'after a cancellation mid-listing');
    const faulted = await underFault(Object, 'assign', (_, [target]) =>
      Boolean(target && typeof target === 'object' && 'partsVary' in target),
    );
    assert.equal(failure(faulted), 'INTERNAL');
    assert.ok(primaryFree(), 'after a fault mid-page');
    releaseScratch();
  });

  it('OKX: the passphrase reaches the exchange, and the signed window starts where its 3-month history does', async () => {
    const to = 1_800_000_000 * 1000;
    const from = to - 200 * DAY_MS;
    const seen: string[] = [];
    const { t, credential } = await withCredential(
      {
        '/api/v5/public/time': () => ({
          body: { code: '0', msg: '', data: [{ ts: String(Date.now()) }] },
        }),
        '/api/v5/trade/fills-history': (r) => {
          seen.push(r.headers['ok-access-passphrase'] ?? '');
          return { body: { code: '0', msg: '', data: [] } };
        },
      },
      'okx',
    );
    const payload = signedPayload(await runToEnd(t, credential, from, to));
    assert.ok(seen.length > 0 && seen.every((p) => p === 'pp'));
    assert.equal(payload.exchange, 'okx');
    assert.ok(Date.parse(payload.from as string) > from + 60 * DAY_MS, String(payload.from));
  });
});
