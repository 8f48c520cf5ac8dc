/**
 * `cloister sessions` and `cloister report` against a real service and the local fake exchange:
 * the report follows the job to its end, saves the signed JSON and verifies it (attestation,
 * signature, log inclusion) before printing a figure; a result whose figures were edited in
 * transit is refused; `sessions` lists metadata and never a key.
 */
import assert from 'node:assert/strict';
import {
  lstatSync,
  mkdtempSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startFakeExchange, type FakeExchange } from '../../devtools/fake-exchange/index.js';
import { aggregatesRequestMismatches, type AggregatesPayload } from '../../src/client/index.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { runCli } from './run.js';

const NONCE = 'cli-report-nonce-0123';
const API_KEY = 'CLI-REPORT-KEY-PLAINTEXT';
const API_SECRET = 'CLI-REPORT-SECRET-PLAINTEXT';

describe('cloister sessions / report (real service, fake exchange)', { concurrency: false }, () => {
  let fake: FakeExchange;
  let ts: TestService;
  let url: string;
  let dir: string;
  let trust: string[];
  let sessionId: string;
  const password = 'a long enough cli password 42';
  const email = `cli-report-${Date.now()}@example.com`;

  const cli = (args: string[], env: Record<string, string> = {}) =>
    runCli(args, {
      ...process.env,
      CLOISTER_ACCESS_TOKEN: '',
      CLOISTER_URL: url,
      XDG_CONFIG_HOME: dir,
      ...env,
    });

  before(async () => {
    fake = await startFakeExchange({
      accounts: [{ apiKey: API_KEY, secret: API_SECRET, seed: 5, fills: 400, days: 40 }],
    });
    ts = await startTestService('pglite', {
      AUTH_DISABLED_FOR_DEVELOPMENT: 'false',
      BINANCE_BASE_URL: fake.url,
      // Short, so the CLI sees the job answer 202 and follows it.
      AGGREGATES_WAIT_MS: '1',
    });
    await ts.service.app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(ts.service.app.server.address() as { port: number }).port}`;
    dir = mkdtempSync(join(tmpdir(), 'cloister-report-'));
    trust = ['--expect-measurement', ts.measurement, '--trust-simulated-key', ts.vendorKey];
    assert.equal(
      (await cli(['auth', 'register', '--email', email, ...trust], { CLOISTER_PASSWORD: password }))
        .code,
      0,
    );
    const login = await cli(['login', '--email', email, ...trust], { CLOISTER_PASSWORD: password });
    assert.equal(login.code, 0, login.stderr);
    const submit = await cli(['submit', ...trust, '--exchange', 'binance', '--json'], {
      CLOISTER_API_KEY: API_KEY,
      CLOISTER_API_SECRET: API_SECRET,
    });
    assert.equal(submit.code, 0, submit.stderr);
    sessionId = (JSON.parse(submit.stdout) as { session_id: string }).session_id;
  });
  after(async () => {
    await ts?.stop();
    await fake?.close();
  });

  it('sessions lists the account’s sessions, metadata only', async () => {
    const text = await cli(['sessions']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`session_id: ${sessionId}`));
    assert.match(text.stdout, /expires_at: \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC/);
    const json = await cli(['sessions', '--json', '--limit', '5']);
    const body = JSON.parse(json.stdout) as { sessions: { session_id: string }[] };
    assert.deepEqual(
      body.sessions.map((s) => s.session_id),
      [sessionId],
    );
    for (const out of [text.stdout, json.stdout])
      assert.ok(!out.includes(API_KEY) && !out.includes(API_SECRET));
    assert.equal((await cli(['sessions', '--limit', '0'])).code, 2);
  });

  it('report follows the job, saves the signed result and verifies it before printing', async () => {
    const file = join(dir, 'result.json');
    // A file left at the salt's path, readable by others, is the owner's alone once written.
    writeFileSync(`${file}.account-opening.json`, '{}\n', { mode: 0o644 });
    // Second review: a link planted at the result's path (a shared folder; the default name
    // holds the host's job id) is replaced, never written through.
    const victim = join(dir, 'victim.txt');
    writeFileSync(victim, 'the user’s own file\n');
    symlinkSync(victim, file);
    const r = await cli([
      'report',
      '--session',
      sessionId,
      '--from',
      '2026-10-02T00:00:00Z',
      '--to',
      '2026-11-01T00:00:00Z',
      '--audience',
      'verifier.example',
      '--nonce',
      NONCE,
      '--allow-api-host',
      new URL(fake.url).host,
      '--out',
      file,
      ...trust,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^report verified: \d+ trades, pnl /);
    assert.match(r.stdout, /addressed to verifier\.example/);
    assert.match(
      r.stderr,
      /job [0-9a-f-]+ (queued|running)/,
      'progress is shown while the job runs',
    );
    assert.match(r.stdout, new RegExp(`saved to ${file.replace(/[.]/g, '\\.')}`));
    const saved = JSON.parse(readFileSync(file, 'utf8')) as {
      status: string;
      aggregates_signed: { payload: { trades: number; nonce: string; pnl: number } };
    };
    assert.equal(saved.status, 'done');
    assert.equal(readFileSync(victim, 'utf8'), 'the user’s own file\n');
    assert.equal(lstatSync(file).isSymbolicLink(), false);
    // The shareable file holds no salt: it is beside it, readable by the owner only.
    assert.equal('account_opening' in saved, false);
    const openingFile = `${file}.account-opening.json`;
    assert.equal(statSync(openingFile).mode & 0o777, 0o600);
    const opening = JSON.parse(readFileSync(openingFile, 'utf8')) as {
      account_opening: { salt: string };
    };
    assert.match(opening.account_opening.salt, /^[A-Za-z0-9+/]{43}=$/);
    assert.match(r.stdout, /account-opening\.json: give it only to a verifier/);
    assert.equal(saved.aggregates_signed.payload.nonce, NONCE);
    assert.ok(saved.aggregates_signed.payload.trades > 0);

    // The saved file verifies on its own, as a third party would check it.
    const again = await cli([
      'verify',
      'aggregates',
      file,
      '--allow-api-host',
      new URL(fake.url).host,
      '--expect-nonce',
      NONCE,
      ...trust,
    ]);
    assert.equal(again.code, 0, again.stderr);

    // An edited figure is refused by name.
    saved.aggregates_signed.payload.pnl += 1;
    const edited = join(dir, 'edited.json');
    writeFileSync(edited, JSON.stringify(saved));
    const refused = await cli([
      'verify',
      'aggregates',
      edited,
      '--allow-api-host',
      new URL(fake.url).host,
      ...trust,
    ]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /aggregates refused/);
  });

  it('client attack review: a genuine result of another request is refused', async () => {
    // The host relays the job's answer: here it answers every request with the result of the
    // test above (session 1, its window, audience and nonce), genuine and logged.
    const saved = readFileSync(join(dir, 'result.json'), 'utf8');
    const submit = await cli(['submit', ...trust, '--exchange', 'binance', '--json'], {
      CLOISTER_API_KEY: API_KEY,
      CLOISTER_API_SECRET: API_SECRET,
    });
    assert.equal(submit.code, 0, submit.stderr);
    const second = (JSON.parse(submit.stdout) as { session_id: string }).session_id;
    let answer = saved;
    const JOB = '6f1d2c3b-0a9e-4d8c-b7a6-5e4f3d2c1b0a';
    const progress = { requests: 1, fills: 0, rate_limit_waits: 0, rate_limit_wait_ms: 0 };
    const polled = JSON.stringify({ status: 'cancelled', job_id: JOB, progress });
    const seen: string[] = [];
    const proxy: Server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push(req.url ?? '');
        if (req.method === 'POST' && req.url === '/enclave/request_aggregates') {
          res.writeHead(200, { 'content-type': 'application/json' }).end(answer);
          return;
        }
        if (req.url === `/enclave/aggregates/jobs/${JOB}`) {
          res.writeHead(200, { 'content-type': 'application/json' }).end(polled);
          return;
        }
        void fetch(`${url}${req.url}`, { method: req.method }).then(async (r) => {
          res.writeHead(r.status, { 'content-type': 'application/json' });
          res.end(Buffer.from(await r.arrayBuffer()));
        });
      });
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const via = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
    const host = ['--allow-api-host', new URL(fake.url).host];
    try {
      const other = await cli(
        ['report', '--session', second, '--out', join(dir, 'o.json'), ...host, ...trust],
        {
          CLOISTER_URL: via,
        },
      );
      assert.equal(other.code, 1, other.stdout);
      assert.match(other.stderr, /session: the result is of another session/);
      assert.doesNotMatch(other.stdout, /report verified/);

      const window = await cli(
        [
          'report',
          '--session',
          sessionId,
          '--to',
          '2026-11-02T00:00:00Z',
          '--out',
          join(dir, 'w.json'),
          ...host,
          ...trust,
        ],
        { CLOISTER_URL: via },
      );
      assert.equal(window.code, 1);
      assert.match(window.stderr, /to: the result ends at another time/);
      assert.match(window.stderr, /audience: not the audience asked for/);

      // A job id that is a path is refused before it names a file or a route.
      answer = JSON.stringify({ ...JSON.parse(saved), job_id: '../../escape' });
      const path = await cli(['report', '--session', sessionId, ...host, ...trust], {
        CLOISTER_URL: via,
      });
      assert.equal(path.code, 1);
      assert.match(path.stderr, /answered the aggregates request with no job/);

      // The job is polled at its own route, whatever `status_url` says; a cancelled job ends it.
      answer = JSON.stringify({
        status: 'running',
        job_id: JOB,
        progress,
        status_url: '/elsewhere',
      });
      const cancelled = await cli(['report', '--session', sessionId, ...host, ...trust], {
        CLOISTER_URL: via,
      });
      assert.equal(cancelled.code, 1);
      assert.match(cancelled.stderr, /job [0-9a-f-]+ was cancelled/);
      assert.ok(!seen.includes('/elsewhere'));
    } finally {
      await new Promise((r) => proxy.close(r));
    }

    // An earlier run of the very same request: computed before the request was sent.
    const payload = (JSON.parse(saved) as { aggregates_signed: { payload: AggregatesPayload } })
      .aggregates_signed.payload;
    const same = {
      sessionId,
      from: '2026-10-02T00:00:00.000Z',
      to: '2026-11-01T00:00:00.000Z',
      audience: 'verifier.example',
      nonce: NONCE,
    };
    assert.deepEqual(aggregatesRequestMismatches(payload, same), []);
    assert.deepEqual(
      aggregatesRequestMismatches(payload, {
        ...same,
        requestedAt: Date.parse(payload.computed_at) / 1000 + 3600,
      }),
      ['computed_at: computed before this request (an earlier result)'],
    );
  });

  it('a refused field is named', async () => {
    const r = await cli(['report', '--session', sessionId, '--nonce', 'short', ...trust]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /400 VALIDATION_FAILED: .*\[nonce: /);
    assert.equal((await cli(['report', '--session', sessionId, '--from', 'yesterday'])).code, 2);
  });

  it('report refuses before asking anything when the attestation does not verify', async () => {
    const r = await cli([
      'report',
      '--session',
      sessionId,
      '--expect-measurement',
      'ab'.repeat(48),
      '--trust-simulated-key',
      ts.vendorKey,
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /attestation refused, nothing requested/);
  });

  it('report --help names its options, an example and the environment', async () => {
    const r = await cli(['report', '--help']);
    assert.equal(r.code, 0);
    for (const s of ['--session', '--from', '--symbols', '--out', 'Example:', 'CLOISTER_URL'])
      assert.ok(r.stdout.includes(s), s);
  });
});
