/**
 * src/enclave/methods/aggregates.ts for the mutation run (docs/mutation-testing.md): the job
 * body, which only the service test against the fake exchange reached (it spawns the built
 * bundle, never a mutant). Here the in-process enclave's egress transport is a small Binance
 * double, so a whole job runs in the test: the window it signs, the payload's fields, the
 * signature, a connector that cannot name the account, and cancellation.
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
import { base64ToBytes } from '../../src/protocol/encoding.js';
import { jcs } from '../../src/protocol/jcs.js';
import { okpThumbprint } from '../../src/protocol/key-id.js';
import { sessionLogSubject } from '../../src/protocol/log/entry.js';
import type { JobView } from '../../src/protocol/rpc/methods.js';
import { routeTransport, type Handler } from '../exchanges/doubles.js';
import { testEnclave, type TestEnclave } from '../helpers/enclave-state.js';
import { code, ok } from './rpc.js';

const UID = 424242;

/** Binance spot: exchangeInfo, account (uid unless `noUid`), myTrades of BTCUSDT. */
function binance(
  times: number[],
  opts: { noUid?: boolean; feeInBase?: string; qty?: string } = {},
): Record<string, Handler> {
  const rows = times.map((time, i) => ({ id: i + 1, time }));
  const trade = (r: { id: number; time: number }) => ({
    symbol: 'BTCUSDT',
    id: r.id,
    orderId: r.id,
    price: '100.00000000',
    qty: opts.qty ?? '0.50000000',
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
        balances: [{ asset: 'BTC', free: '1.00000000', locked: '0.00000000' }],
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
  const transport = routeTransport(handlers);
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

/** A job over [from, to) of BTC/USDT with no audience or nonce, run to its end. */
async function runToEnd(
  t: TestEnclave,
  credential: Awaited<ReturnType<typeof withCredential>>['credential'],
  from: number,
  to: number,
): Promise<JobView> {
  const jobId = randomUUID();
  await ok(t, 'aggregates.start', {
    job_id: jobId,
    credential,
    from,
    to,
    symbols: ['BTC/USDT'],
    reporting_currency: 'USDT',
    subject: SUBJECT,
    audience: null,
    nonce: null,
  });
  return settled(t, jobId);
}

describe('aggregates job (in-process, Binance double)', () => {
  it('signs what it covered: the window from the first fill’s day, the account, the request’s echo', async () => {
    const nowMs = 1_800_000_000 * 1000;
    const to = nowMs;
    // Two fills: 2.5 days and 1.5 days before `to`; the window asked has no `from`.
    const times = [to - 2.5 * DAY_MS, to - 1.5 * DAY_MS];
    const { t, g, credential, transport } = await withCredential(binance(times));
    const jobId = randomUUID();
    assert.deepEqual(
      await ok(t, 'aggregates.start', {
        job_id: jobId,
        credential,
        from: null,
        to,
        symbols: ['BTC/USDT'],
        reporting_currency: 'USDT',
        subject: SUBJECT,
        audience: 'verifier.test',
        nonce: 'nonce-0123456789abcdef',
      }),
      { job_id: jobId },
    );
    const job = await settled(t, jobId);
    assert.equal(job.state, 'done', JSON.stringify(job));
    if (job.state !== 'done') return;
    // The key was used against the exchange (signed requests carry it).
    assert.ok(transport.log.some((r) => r.headers['x-mbx-apikey'] === 'key'));
    const r = job.result;
    const payload = JSON.parse(r.payload_jcs) as Record<string, unknown>;
    assert.equal(jcs(payload), r.payload_jcs);
    assert.equal(payload.version, AGGREGATES_VERSION);
    assert.equal(payload.exchange, 'binance');
    assert.equal(payload.session, sessionLogSubject(credential.session_id));
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
    const jobId = randomUUID();
    await ok(t, 'aggregates.start', {
      job_id: jobId,
      credential,
      from,
      to,
      symbols: ['BTC/USDT'],
      reporting_currency: 'USDT',
      subject: SUBJECT,
      audience: null,
      nonce: null,
    });
    const job = await settled(t, jobId);
    assert.equal(job.state, 'done', JSON.stringify(job));
    if (job.state !== 'done') return;
    const payload = JSON.parse(job.result.payload_jcs) as Record<string, unknown>;
    assert.equal(payload.from, new Date(from).toISOString());
    assert.equal(payload.audience, null);
    assert.equal(payload.nonce, null);
    assert.equal(payload.trades, 1);
  });

  it('a connector that cannot name the account fails the job: EXCHANGE_BAD_RESPONSE', async () => {
    const to = 1_800_000_000 * 1000;
    const { t, credential } = await withCredential(binance([to - DAY_MS], { noUid: true }));
    const job = await runToEnd(t, credential, to - 2 * DAY_MS, to);
    assert.deepEqual(job.state === 'failed' && job.error, 'EXCHANGE_BAD_RESPONSE');
  });

  it('cancelled while the exchange answers: never signed, no signed request sent', async () => {
    const to = 1_800_000_000 * 1000;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const handlers = binance([to - DAY_MS]);
    const info = handlers['/api/v3/exchangeInfo']!;
    handlers['/api/v3/exchangeInfo'] = async (r) => (await gate, info(r));
    const { t, credential, transport } = await withCredential(handlers);
    const jobId = randomUUID();
    await ok(t, 'aggregates.start', {
      job_id: jobId,
      credential,
      from: to - 2 * DAY_MS,
      to,
      symbols: ['BTC/USDT'],
      reporting_currency: 'USDT',
      subject: SUBJECT,
      audience: null,
      nonce: null,
    });
    assert.deepEqual(await ok(t, 'aggregates.cancel', { job_ids: [jobId] }), {
      cancelled: [jobId],
    });
    release();
    const job = await settled(t, jobId);
    assert.equal(job.state, 'cancelled');
    assert.ok(!transport.log.some((r) => r.headers['x-mbx-apikey'] === 'key'));
    assert.equal(await code(t, 'aggregates.cancel', { job_ids: [jobId] }), 'ok');
  });

  it('a fill the engine refuses (a base fee above its amount) fails the job: EXCHANGE_BAD_RESPONSE', async () => {
    const to = 1_800_000_000 * 1000;
    const { t, credential } = await withCredential(
      binance([to - DAY_MS], { feeInBase: '1.00000000' }),
    );
    const job = await runToEnd(t, credential, to - 2 * DAY_MS, to);
    assert.deepEqual(job.state === 'failed' && job.error, 'EXCHANGE_BAD_RESPONSE');
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
    const job = await runToEnd(t, credential, from, to);
    assert.equal(job.state, 'done', JSON.stringify(job));
    if (job.state !== 'done') return;
    assert.ok(seen.length > 0 && seen.every((p) => p === 'pp'));
    const payload = JSON.parse(job.result.payload_jcs) as Record<string, unknown>;
    assert.equal(payload.exchange, 'okx');
    assert.ok(Date.parse(payload.from as string) > from + 60 * DAY_MS, String(payload.from));
  });
});
