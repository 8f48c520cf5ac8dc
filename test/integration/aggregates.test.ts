/**
 * Signed aggregates end to end (issue 4): the real service and enclave, the enclave fetching
 * fills from the local fake exchange (which checks every signature), computing and signing;
 * then a third party's checks through the SDK (signature under the attested results key, log
 * inclusion under a checkpoint signed by the attested log key). Also: a rejected key invalidates
 * the session, revoked and expired sessions are refused, the 202/poll path, and no exchange key
 * or secret in any log line or table. v2 bindings (issue 12): the exchange account commitment
 * opens with the fake exchange's account id, the same key in two sessions gives two subjects,
 * audience and nonce are echoed and checked, the CLI says "covers only …"; and revoking a
 * session mid-history cancels its job: it ends `cancelled`, nothing is signed or logged.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  expectedFills,
  startFakeExchange,
  type FakeExchange,
} from '../../devtools/fake-exchange/index.js';
import { computeAggregatesDaily } from '../../src/enclave/aggregates/daily.js';
import { compareFills } from '../../src/enclave/exchanges/fills.js';
import {
  aggregatesSubject,
  CryptoHelper,
  fetchAggregatesLogProof,
  openAccountCommitment,
  verifyAggregatesInclusion,
  verifySignedAggregates,
  type AggregatesPayload,
  type ExchangeCredentials,
} from '../../src/client/index.js';
import { windowDays } from '../../src/protocol/aggregates.js';
import { plainDecimal } from '../../src/protocol/decimal-string.js';
import { sessionLogSubject } from '../../src/protocol/log/entry.js';
import { verifiedAttestation, submit } from '../helpers/client.js';
import { credentialNeedles, dumpPublicSchema, findNeedles } from '../helpers/security-util.js';
import { engines, startTestService, type TestService } from '../helpers/service.js';
import { cliCommand } from '../cli/run.js';

const tag = Math.random().toString(36).slice(2, 10);
const GOOD: ExchangeCredentials = {
  exchange: 'binance',
  apiKey: `AGGKEY-PLAINTEXT-${tag}`,
  apiSecret: `AGGSECRET-PLAINTEXT-${tag}`,
};
const REJECTED: ExchangeCredentials = {
  exchange: 'binance',
  apiKey: `AGGREVOKED-PLAINTEXT-${tag}`,
  apiSecret: `AGGREVOKEDSECRET-PLAINTEXT-${tag}`,
};
/** The fake's histories end on 2026-11-01; the window covers its last 30 days. */
const FROM = '2026-10-02T00:00:00.000Z';
const TO = '2026-11-01T00:00:00.000Z';

for (const engine of engines()) {
  describe(`signed aggregates on ${engine}`, () => {
    let fake: FakeExchange;
    let ts: TestService;
    let pub: string;
    let keyId: string;
    let keys: { results: string; log: string };

    /**
     * While set, the fake holds every myTrades answer until `release` (a slow history), after
     * letting `pass` of them through.
     */
    let holding: { reached: () => void; release: Promise<void>; pass?: number } | null = null;
    /** While true, the next myTrades request is answered 429 with Retry-After: 1 (once). */
    let limitOnce = false;

    before(async () => {
      fake = await startFakeExchange({
        hold: ({ path }) => {
          if (!holding || path !== '/api/v3/myTrades') return;
          if (holding.pass && holding.pass-- > 0) return;
          holding.reached();
          return holding.release;
        },
        tooManyRequests: ({ path }) => {
          if (!limitOnce || path !== '/api/v3/myTrades') return undefined;
          limitOnce = false;
          return 1;
        },
        accounts: [
          { apiKey: GOOD.apiKey, secret: GOOD.apiSecret, seed: 11, fills: 3000, days: 60 },
          { apiKey: REJECTED.apiKey, secret: REJECTED.apiSecret, revoked: true },
        ],
      });
      ts = await startTestService(engine, {
        BINANCE_BASE_URL: fake.url,
        BYBIT_BASE_URL: fake.url,
        AGGREGATES_WAIT_MS: '20000',
      });
      const { verification } = await verifiedAttestation(ts);
      pub = verification.enclavePubkey!;
      keyId = verification.keyId!;
      keys = verification.signingKeys!;
    });
    after(async () => {
      await ts?.stop();
      await fake?.close();
    });

    const app = () => ts.service.app;
    async function newSession(creds: ExchangeCredentials): Promise<string> {
      const res = await submit(app(), pub, creds, undefined, keyId);
      assert.equal(res.statusCode, 200, res.body);
      return (res.json() as { session_id: string }).session_id;
    }
    const request = (body: Record<string, unknown>) =>
      app().inject({ method: 'POST', url: '/enclave/request_aggregates', payload: body });
    /** fetch() over app.inject, for the SDK's proof fetcher. */
    const injectFetch = (async (url: string | URL) => {
      const u = new URL(String(url));
      const res = await app().inject({ method: 'GET', url: `${u.pathname}${u.search}` });
      return new Response(res.body, { status: res.statusCode });
    }) as typeof fetch;

    it('computes, signs and logs the aggregates of every fill in the window', async () => {
      const sessionId = await newSession(GOOD);
      const res = await request({ session_id: sessionId, from: FROM, to: TO });
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json() as {
        aggregates_signed: { payload: Record<string, unknown>; signature: string };
        merkle_root: string;
        log: { index: number; tree_size: number };
        logs_url: string;
      };
      const p = body.aggregates_signed.payload as {
        trades: number;
        from: string;
        to: string;
        exchange: string;
        session: string;
        measurement: string;
        symbols_scanned: string[];
      };
      // Completeness: every fill the fake served in [FROM, TO) is counted, none twice.
      const account = fake.accounts.get(GOOD.apiKey)!;
      const inWindow = account.fills.filter(
        (f) => f.time >= Date.parse(FROM) && f.time < Date.parse(TO),
      );
      assert.ok(inWindow.length > 100, 'the window holds a real history');
      assert.equal(p.trades, inWindow.length);
      // The job parsed each page as it came: its figures are those of one call over the
      // listing, to the last digit.
      const window = { from: Date.parse(FROM), to: Date.parse(TO) };
      const oneCall = computeAggregatesDaily(
        expectedFills('binance', account, window).sort(compareFills),
        window,
      );
      for (const [k, v] of Object.entries(oneCall))
        assert.deepEqual(body.aggregates_signed.payload[k], v, k);
      assert.equal(p.from, FROM);
      assert.equal(p.to, TO);
      assert.equal(p.exchange, 'binance');
      assert.equal(p.measurement, ts.measurement);
      assert.ok(!JSON.stringify(p).includes(sessionId), 'the public payload names no session id');
      // v2: the exchange account (the fake's uid for this key) opens the commitment with the
      // owner's salt; Binance discovery is never account-wide; no audience was asked for.
      const v2 = body.aggregates_signed.payload as unknown as AggregatesPayload & {
        version: 'cloister/aggregates/v3';
        daily: { day: string; pnl: string; cumulative: string }[];
      };
      const salt = (res.json() as { account_opening: { salt: string } }).account_opening.salt;
      const accountId = String(fake.accounts.get(GOOD.apiKey)!.accountIds.binance);
      assert.equal(v2.version, 'cloister/aggregates/v3');
      // v3: one row per UTC day of the window, ending at the signed pnl exactly.
      assert.equal(v2.daily.length, windowDays(Date.parse(FROM), Date.parse(TO)));
      assert.equal(v2.daily.at(-1)!.cumulative, plainDecimal(v2.pnl));
      assert.ok(openAccountCommitment(v2, { accountId, salt }));
      assert.ok(!openAccountCommitment(v2, { accountId: `${accountId}1`, salt }));
      assert.equal(v2.subject, aggregatesSubject({ sessionId }));
      assert.equal(v2.symbols_complete, false);
      assert.equal(v2.audience, null);
      assert.equal(v2.nonce, null);
      assert.ok(!JSON.stringify(v2).includes(accountId), 'the payload does not show the id');

      // A third party: the keys come from the verified attestation, nothing else is trusted.
      const fakeHost = new URL(fake.url).host;
      const sig = verifySignedAggregates(body.aggregates_signed, {
        resultsKey: keys.results,
        expectedMeasurements: [ts.measurement],
        allowedApiHosts: [fakeHost],
      });
      // By default only the exchange's production hosts are accepted: the fake is not one.
      assert.ok(
        verifySignedAggregates(body.aggregates_signed, { resultsKey: keys.results }).reasons.some(
          (r) => r.startsWith('api_host'),
        ),
      );
      assert.deepEqual(sig.reasons, []);
      const proof = await fetchAggregatesLogProof('http://service', body.log.index, injectFetch);
      const inc = verifyAggregatesInclusion(
        body.aggregates_signed,
        { ...proof, merkleRoot: body.merkle_root },
        { logPublicKey: keys.log },
      );
      assert.deepEqual(inc.reasons, []);
      // A changed figure fails both.
      const forged = {
        ...body.aggregates_signed,
        payload: { ...body.aggregates_signed.payload, trades: p.trades + 1 },
      };
      assert.equal(
        verifySignedAggregates(forged, { resultsKey: keys.results, allowedApiHosts: [fakeHost] })
          .valid,
        false,
      );
      assert.equal(
        verifyAggregatesInclusion(forged, proof, { logPublicKey: keys.log }).valid,
        false,
      );

      // The job and the stored result agree with what was answered.
      const stored = await ts.service.db.query<{ payload: string; signature: string }>(
        'SELECT payload, signature FROM aggregates WHERE session_id = $1',
        [sessionId],
      );
      assert.equal(stored.rows.length, 1);
      assert.equal(stored.rows[0]!.signature, body.aggregates_signed.signature);
      assert.deepEqual(JSON.parse(stored.rows[0]!.payload), body.aggregates_signed.payload);
    });

    it('cloister verify aggregates accepts the result and refuses a tampered one', async () => {
      const sessionId = await newSession(GOOD);
      const res = await request({ session_id: sessionId, from: FROM, to: TO });
      assert.equal(res.statusCode, 200, res.body);
      const dir = mkdtempSync(join(tmpdir(), 'cloister-cli-'));
      const good = join(dir, 'result.json');
      const bad = join(dir, 'tampered.json');
      writeFileSync(good, res.body);
      const doc = res.json() as { aggregates_signed: { payload: { pnl: number } } };
      doc.aggregates_signed.payload.pnl += 1;
      writeFileSync(bad, JSON.stringify(doc));
      await app().listen({ host: '127.0.0.1', port: 0 });
      const addr = app().server.address() as { port: number };
      const cli = (file: string, extra: string[] = []) =>
        promisify(execFile)(process.execPath, [
          ...cliCommand(),
          'verify',
          'aggregates',
          file,
          '--url',
          `http://127.0.0.1:${addr.port}`,
          '--expect-measurement',
          ts.measurement,
          '--trust-simulated-key',
          ts.vendorKey,
          '--allow-api-host',
          new URL(fake.url).host,
          ...extra,
        ]);
      const salt = (res.json() as { account_opening: { salt: string } }).account_opening.salt;
      const accountId = String(fake.accounts.get(GOOD.apiKey)!.accountIds.binance);
      try {
        const ok = await cli(good);
        assert.match(ok.stdout, /^aggregates valid: \d+ trades/);
        // Binance symbol discovery is not account-wide: the summary cannot hide it.
        assert.match(ok.stdout, /covers only \d+ symbols? \(/);
        const opened = await cli(good, ['--account-id', accountId, '--salt', salt]);
        assert.match(opened.stdout, /opens the commitment/);
        await assert.rejects(
          cli(good, ['--account-id', `${accountId}9`, '--salt', salt]),
          (err: { stderr?: string }) => /do not open account_commitment/.test(err.stderr ?? ''),
        );
        await assert.rejects(
          cli(good, ['--expect-nonce', 'a-nonce-it-never-asked-for']),
          (err: { stderr?: string }) => /nonce/.test(err.stderr ?? ''),
        );
        await assert.rejects(cli(bad), (err: { code?: number; stderr?: string }) => {
          assert.equal(err.code, 1);
          assert.match(err.stderr ?? '', /aggregates refused/);
          return true;
        });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('the same key in two sessions: one account, two subjects; audience and nonce are echoed', async () => {
      const s1 = await newSession(GOOD);
      const s2 = await newSession(GOOD);
      const nonce = 'verifier-nonce-0123456789';
      // One symbol each: the enclave keeps to Binance's request weight per minute, and the
      // suite's other results have spent much of it already.
      const one = { from: FROM, to: TO, symbols: ['BTC/USDT'] };
      const r1 = await request({
        session_id: s1,
        ...one,
        audience: 'verifier.example.com',
        nonce,
      });
      const r2 = await request({ session_id: s2, ...one });
      assert.equal(r1.statusCode, 200, r1.body);
      assert.equal(r2.statusCode, 200, r2.body);
      type Done = {
        aggregates_signed: { payload: AggregatesPayload & Record<string, unknown> };
        account_opening: { salt: string };
      };
      const [d1, d2] = [r1.json() as Done, r2.json() as Done];
      const [p1, p2] = [d1.aggregates_signed.payload, d2.aggregates_signed.payload];
      assert.equal(p1.trades, p2.trades, 'the same figures');
      assert.notEqual(p1.subject, p2.subject, 'but made for two different holders');
      assert.notEqual(p1.account_commitment, p2.account_commitment, 'salted apart');
      const accountId = String(fake.accounts.get(GOOD.apiKey)!.accountIds.binance);
      assert.ok(openAccountCommitment(p1, { accountId, salt: d1.account_opening.salt }));
      assert.ok(openAccountCommitment(p2, { accountId, salt: d2.account_opening.salt }));
      assert.equal(p1.audience, 'verifier.example.com');
      assert.equal(p1.nonce, nonce);
      const hosts = { resultsKey: keys.results, allowedApiHosts: [new URL(fake.url).host] };
      const asked = { ...hosts, expectedAudience: 'verifier.example.com', expectedNonce: nonce };
      assert.deepEqual(verifySignedAggregates(d1.aggregates_signed, asked).reasons, []);
      assert.equal(verifySignedAggregates(d2.aggregates_signed, asked).valid, false);
      // Audience and nonce are validated at the boundary.
      for (const bad of [
        { nonce: 'short' },
        { nonce: 'has spaces in it 0123456' },
        { audience: 'a'.repeat(201) },
        { audience: 'new\nline' },
      ]) {
        const r = await request({ session_id: s1, ...bad });
        assert.equal(r.statusCode, 400, JSON.stringify(bad));
        assert.equal(r.json().error.code, 'VALIDATION_FAILED');
      }
    });

    it('revoking the session mid-history cancels its job: it ends cancelled, nothing is signed', async () => {
      const sessionId = await newSession(GOOD);
      let reached!: () => void;
      const atHistory = new Promise<void>((r) => (reached = r));
      let release!: () => void;
      holding = { reached, release: new Promise<void>((r) => (release = r)) };
      try {
        const pending = request({ session_id: sessionId, from: FROM, to: TO });
        await atHistory;
        const revoke = await app().inject({
          method: 'POST',
          url: '/enclave/revoke',
          payload: { session_id: sessionId },
        });
        assert.equal(revoke.statusCode, 200, revoke.body);
        const answered = await pending;
        assert.equal(answered.statusCode, 410, answered.body);
        const job = answered.json() as { status: string; job_id: string };
        assert.equal(job.status, 'cancelled');
        const again = await app().inject({
          method: 'GET',
          url: `/enclave/aggregates/jobs/${job.job_id}`,
        });
        assert.equal(again.statusCode, 410);
        assert.equal(again.json().status, 'cancelled');
      } finally {
        holding = null;
        release();
      }
      // The session's log: submitted, revoked, and no aggregates.signed entry after it.
      const { rows } = await ts.service.db.query<{ event_type: string }>(
        'SELECT event_type FROM merkle_logs WHERE subject = $1 ORDER BY leaf_index',
        [sessionLogSubject(sessionId)],
      );
      assert.deepEqual(
        rows.map((r) => r.event_type),
        ['credential.submitted', 'session.revoked'],
      );
      const stored = await ts.service.db.query('SELECT 1 FROM aggregates WHERE session_id = $1', [
        sessionId,
      ]);
      assert.equal(stored.rows.length, 0);
      const ops = await ts.service.db.query<{ event_type: string }>(
        'SELECT event_type FROM ops_logs WHERE session_id = $1 ORDER BY id',
        [sessionId],
      );
      const types = ops.rows.map((r) => r.event_type);
      assert.ok(types.includes('aggregates.cancelled'), types.join(','));
      assert.ok(!types.includes('aggregates.signed'));
    });

    it("a 429 from the exchange is waited out and counted in the job's progress", async () => {
      const sessionId = await newSession(GOOD);
      // The first page is refused (429, Retry-After: 1); its retry is held until the job's
      // progress, as the API reports it, has shown the wait.
      let reached!: () => void;
      const atRetry = new Promise<void>((r) => (reached = r));
      let release!: () => void;
      limitOnce = true;
      // The first myTrades request passes (and is answered 429); its retry is held.
      holding = { reached, release: new Promise<void>((r) => (release = r)), pass: 1 };
      // One symbol: the suite's earlier results have spent much of the weight per minute the
      // enclave keeps to, and a full listing would wait for the next minute (~50 s).
      const pending = request({ session_id: sessionId, from: FROM, to: TO, symbols: ['BTC/USDT'] });
      let jobUrl = '';
      try {
        await atRetry;
        const { rows } = await ts.service.db.query<{ id: string }>(
          'SELECT id::text AS id FROM aggregate_jobs WHERE session_id = $1',
          [sessionId],
        );
        jobUrl = `/enclave/aggregates/jobs/${rows[0]!.id}`;
        let progress: Record<string, number> | undefined;
        // Bounded polling until the host's poller has stored what the enclave reports.
        for (let i = 0; i < 600; i++) {
          const r = await app().inject({ method: 'GET', url: jobUrl });
          assert.equal(r.statusCode, 202, r.body);
          progress = (r.json() as { progress: Record<string, number> }).progress;
          if (progress['rate_limit_waits'] === 1) break;
          await new Promise((ok) => setTimeout(ok, 50));
        }
        assert.equal(progress?.['rate_limit_waits'], 1, JSON.stringify(progress));
        assert.equal(progress?.['rate_limit_wait_ms'], 1000);
        assert.ok((progress?.['requests'] ?? 0) >= 2, 'the refused request and its retry');
      } finally {
        holding = null;
        limitOnce = false;
        release();
      }
      // 200, or 202 when the enclave's own weight budget (earlier tests) made it wait past
      // AGGREGATES_WAIT_MS: then the job is followed to its end.
      const first = await pending;
      assert.ok([200, 202].includes(first.statusCode), first.body);
      let status = first.statusCode;
      for (let i = 0; i < 1500 && status !== 200; i++) {
        await new Promise((ok) => setTimeout(ok, 100));
        const r = await app().inject({ method: 'GET', url: jobUrl });
        assert.ok([200, 202].includes(r.statusCode), r.body);
        status = r.statusCode;
      }
      assert.equal(status, 200, 'the job finished');
      const stored = await ts.service.db.query<{ w: number; ms: number }>(
        'SELECT rate_limit_waits AS w, rate_limit_wait_ms AS ms FROM aggregate_jobs WHERE session_id = $1',
        [sessionId],
      );
      assert.deepEqual(stored.rows[0], { w: 1, ms: 1000 }, 'the final counts stay with the job');
    });

    it('answers 202 with a job when the fetch outlasts the wait, then the result', async () => {
      const restarted = await ts.restart({
        BINANCE_BASE_URL: fake.url,
        AGGREGATES_WAIT_MS: '0',
      });
      ts = restarted;
      try {
        const { verification } = await verifiedAttestation(ts);
        pub = verification.enclavePubkey!;
        keyId = verification.keyId!;
        const sessionId = await newSession(GOOD);
        // One symbol, as above: what is tested is the job's 202 and its result.
        const res = await request({
          session_id: sessionId,
          from: FROM,
          to: TO,
          symbols: ['BTC/USDT'],
        });
        assert.equal(res.statusCode, 202, res.body);
        const job = res.json() as { job_id: string; status_url: string; status: string };
        assert.equal(job.status, 'running');
        let done: { statusCode: number; body: string } | null = null;
        // A liveness bound, not a timing claim: the enclave keeps to Binance's weight per minute,
        // so a job that starts at the end of a busy window waits for the next one.
        for (let i = 0; i < 1500 && !done; i++) {
          const r = await app().inject({ method: 'GET', url: job.status_url });
          if (r.statusCode === 200) done = r;
          else {
            assert.equal(r.statusCode, 202, r.body);
            await new Promise((ok) => setTimeout(ok, 100));
          }
        }
        assert.ok(done, 'the job finished');
        const payload = (
          JSON.parse(done.body) as { aggregates_signed: { payload: { trades: number } } }
        ).aggregates_signed.payload;
        assert.ok(payload.trades > 0);
        const unknown = await app().inject({
          method: 'GET',
          url: '/enclave/aggregates/jobs/00000000-0000-4000-8000-000000000000',
        });
        assert.equal(unknown.statusCode, 404);
        assert.equal(unknown.json().error.code, 'JOB_NOT_FOUND');
      } finally {
        // Back to a wait long enough for the next tests, whatever happened above.
        ts = await ts.restart({ BINANCE_BASE_URL: fake.url, AGGREGATES_WAIT_MS: '20000' });
        const v = await verifiedAttestation(ts);
        pub = v.verification.enclavePubkey!;
        keyId = v.verification.keyId!;
      }
    });

    it('a key the exchange rejects invalidates the session and purges its ciphertext', async () => {
      const sessionId = await newSession(REJECTED);
      const res = await request({ session_id: sessionId, from: FROM, to: TO });
      assert.equal(res.statusCode, 422, res.body);
      assert.equal(res.json().error.code, 'EXCHANGE_KEY_REJECTED');
      const { rows } = await ts.service.db.query<{ status: string }>(
        'SELECT status FROM sessions WHERE id = $1',
        [sessionId],
      );
      assert.equal(rows[0]!.status, 'invalid');
      const creds = await ts.service.db.query('SELECT 1 FROM credentials WHERE session_id = $1', [
        sessionId,
      ]);
      assert.equal(creds.rows.length, 0);
      const again = await request({ session_id: sessionId });
      assert.equal(again.statusCode, 404);
    });

    it('refuses revoked and unknown sessions, and bad windows, with their codes', async () => {
      const sessionId = await newSession(GOOD);
      const revoke = await app().inject({
        method: 'POST',
        url: '/enclave/revoke',
        payload: { session_id: sessionId },
      });
      assert.equal(revoke.statusCode, 200);
      const res = await request({ session_id: sessionId });
      assert.equal(res.statusCode, 404);
      assert.equal(res.json().error.code, 'SESSION_NOT_FOUND');
      const unknown = await request({ session_id: '00000000-0000-4000-8000-000000000001' });
      assert.equal(unknown.statusCode, 404, unknown.body);
      assert.equal(unknown.json().error.code, 'SESSION_NOT_FOUND');

      const live = await newSession(GOOD);
      for (const [body, code] of [
        [{ session_id: live, from: TO, to: FROM }, 'AGGREGATES_WINDOW_INVALID'],
        [{ session_id: live, to: '2999-01-01T00:00:00.000Z' }, 'AGGREGATES_WINDOW_INVALID'],
        [
          { session_id: live, from: '2000-01-01T00:00:00.000Z', to: TO },
          'AGGREGATES_WINDOW_INVALID',
        ],
        [{ session_id: live, symbols: ['btcusdt'] }, 'VALIDATION_FAILED'],
        [{ session_id: live, from: 'yesterday' }, 'VALIDATION_FAILED'],
        [{ session_id: live, extra: 1 }, 'VALIDATION_FAILED'],
      ] as const) {
        const r = await request(body);
        assert.equal(r.json().error.code, code, JSON.stringify(body));
        assert.ok(r.statusCode >= 400 && r.statusCode < 500);
      }
    });

    it('a credential sealed for one user is not stored for another (403 CREDENTIAL_SUBJECT_MISMATCH)', async () => {
      // The client sealed its owner's subject; this submission has no owner (development mode,
      // no token), as a copy submitted under another account would not be the owner's either:
      // refused at submission (before, it was stored and only an aggregates job refused it;
      // that later check stays, test/enclave/sealed-submission-terms.test.ts), nothing stored
      // or logged, and the exchange is never asked.
      const owner = '6f1c9a52-3a0e-4f0e-9a7e-2c1d5b7e8a11';
      const envelope = await CryptoHelper.encryptCredentials(GOOD, pub, {
        keyId,
        label: 'owned',
        userId: owner,
      });
      const before = fake.requests.length;
      const { rows: counted } = await ts.service.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM sessions',
      );
      const res = await app().inject({
        method: 'POST',
        url: '/enclave/submit_key',
        payload: { ...envelope, metadata: { exchange: 'binance', label: 'owned', ttl: 3600 } },
      });
      assert.equal(res.statusCode, 403, res.body);
      assert.equal(res.json().error.code, 'CREDENTIAL_SUBJECT_MISMATCH');
      assert.equal(fake.requests.length, before, 'the exchange was not asked');
      const { rows } = await ts.service.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM sessions',
      );
      assert.equal(rows[0]!.n, counted[0]!.n, 'no session stored');
    });

    it('an expired session is refused', async () => {
      const res = await submit(
        app(),
        pub,
        GOOD,
        { exchange: 'binance', label: 'short', ttl: 300 },
        keyId,
      );
      const sessionId = (res.json() as { session_id: string }).session_id;
      await ts.service.db.query(
        `UPDATE sessions SET expires_at = now() - interval '1 second', created_at = now() - interval '1 hour' WHERE id = $1`,
        [sessionId],
      );
      const r = await request({ session_id: sessionId });
      assert.equal(r.statusCode, 404);
    });

    it('no exchange key or secret in any table or log line', async () => {
      const needles = [...credentialNeedles(GOOD, 'good'), ...credentialNeedles(REJECTED, 'rej')];
      for (const t of await dumpPublicSchema(ts.service.db)) {
        assert.deepEqual(findNeedles(JSON.stringify(t.rows), needles), [], `table ${t.table}`);
      }
      assert.ok(ts.logs.length > 0);
      assert.deepEqual(findNeedles(ts.logs.join('\n'), needles), []);
      // The fake exchange did see the key (positive control: the needles would be found).
      assert.ok(fake.requests.some((r) => r.headers['x-mbx-apikey'] === GOOD.apiKey));
    });
  });
}

describe('signed aggregates through the CONNECT tunnel (TLS ends in the enclave)', () => {
  let fake: FakeExchange;
  let ts: TestService;
  let caDir: string;

  before(async () => {
    caDir = mkdtempSync(join(tmpdir(), 'cloister-ca-'));
    const caFile = join(caDir, 'ca.pem');
    fake = await startFakeExchange({
      https: { caOut: caFile },
      accounts: [{ apiKey: GOOD.apiKey, secret: GOOD.apiSecret, seed: 5, fills: 500, days: 20 }],
    });
    ts = await startTestService('pglite', {
      BINANCE_BASE_URL: fake.url,
      BYBIT_BASE_URL: fake.url,
      OKX_BASE_URL: fake.url,
      COINBASE_BASE_URL: fake.url,
      EGRESS_MODE: 'tunnel',
      EGRESS_CA_FILE: caFile,
      AGGREGATES_WAIT_MS: '20000',
    });
  });
  after(async () => {
    await ts?.stop();
    await fake?.close();
    rmSync(caDir, { recursive: true, force: true });
  });

  it('fetches over HTTPS through the host proxy and signs the result', async () => {
    const { verification } = await verifiedAttestation(ts);
    const sub = await submit(
      ts.service.app,
      verification.enclavePubkey!,
      GOOD,
      undefined,
      verification.keyId!,
    );
    assert.equal(sub.statusCode, 200, sub.body);
    const sessionId = (sub.json() as { session_id: string }).session_id;
    const res = await ts.service.app.inject({
      method: 'POST',
      url: '/enclave/request_aggregates',
      payload: { session_id: sessionId, from: FROM, to: TO },
    });
    assert.equal(res.statusCode, 200, res.body);
    const signed = (res.json() as { aggregates_signed: unknown }).aggregates_signed;
    assert.deepEqual(
      verifySignedAggregates(signed, {
        resultsKey: verification.signingKeys!.results,
        allowedApiHosts: [new URL(fake.url).host],
      }).reasons,
      [],
    );
    // The fake exchange saw HTTPS requests, and they went through the host's tunnel.
    assert.ok(fake.requests.some((r) => r.path === '/api/v3/myTrades' && r.status === 200));
    const stats = ts.service.egressProxy!.stats();
    assert.ok(stats.tunnelsOpened > 0, 'the enclave reached the exchange through the proxy');
    assert.ok(stats.bytesDown > 0);
  });
});
