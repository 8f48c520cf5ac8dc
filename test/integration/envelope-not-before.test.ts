/**
 * envelope_not_before end to end, with a skew tolerance (the other suites run 0): here the
 * largest, ENVELOPE_MAX_FUTURE_SECONDS = 600, so that every test runs inside the refusal window
 * without depending on how fast the machine is. A just-restarted enclave refuses an envelope dated
 * before boot + 601 s with 425 ENVELOPE_BEFORE_START and `error.not_before`, GET /attestation/quote
 * carries the same value in a header (outside the strictly verified body), the SDK's retry
 * re-seals with it and succeeds, and after a host-forced restart with the spent rows deleted an
 * opened envelope is not opened again.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import {
  CryptoHelper,
  ENVELOPE_NOT_BEFORE_HEADER,
  sendWithFreshEnvelope,
  type EnvelopeV1,
} from '../../src/client/index.js';
import { ApiError, callService } from '../../src/client/service-call.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { uniqueCredentials, verifiedAttestation } from '../helpers/client.js';
import { cliCommand } from '../cli/run.js';

const run = promisify(execFile);

const SKEW = 600;

describe('envelope_not_before through the service (600 s skew)', () => {
  let ts: TestService;
  let key: { pub: string; keyId: string };
  let notBefore: number;
  before(async () => {
    // Restarted once: a process that drew its keyring itself has no earlier process to fear,
    // so the rule holds for keys it loaded (every start but the very first).
    const first = await startTestService('pglite', { ENVELOPE_MAX_FUTURE_SECONDS: String(SKEW) });
    ts = await first.restart();
    const { verification } = await verifiedAttestation(ts);
    key = { pub: verification.enclavePubkey!, keyId: verification.keyId! };
    const status = await ts.service.enclave.call('enclave.status', {});
    notBefore = status.envelope_not_before;
    assert.equal(notBefore, status.boot_time + SKEW + 1);
  });
  after(async () => ts?.stop());

  /** The SDK's HTTP call (callService) over the in-process app. */
  const fetch = (async (url: string | URL, init?: RequestInit) => {
    const res = await ts.service.app.inject({
      method: (init?.method ?? 'GET') as 'POST',
      url: new URL(url).pathname,
      headers: { 'content-type': 'application/json' },
      ...(init?.body ? { payload: init.body as string } : {}),
    });
    return new Response(res.body, { status: res.statusCode });
  }) as typeof globalThis.fetch;

  const seal = (issuedAt: number) =>
    CryptoHelper.encryptCredentials(uniqueCredentials(), key.pub, { keyId: key.keyId, issuedAt });
  const send = (envelope: EnvelopeV1) =>
    callService<{ session_id: string }>(
      { baseUrl: 'http://cloister.test', fetch },
      'POST',
      '/enclave/submit_key',
      { ...envelope, metadata: { exchange: 'binance', label: 'main', ttl: 3600 } },
      (s, c, d) => new ApiError(s, c, d),
    );

  it('publishes the hint as a header of GET /attestation/quote', async () => {
    const res = await ts.service.app.inject({ method: 'GET', url: '/attestation/quote' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers[ENVELOPE_NOT_BEFORE_HEADER], String(notBefore));
    assert.ok(!('envelope_not_before' in res.json()), 'the strict body is unchanged');
  });

  it('refuses an envelope dated one second before it: 425 ENVELOPE_BEFORE_START with not_before', async () => {
    const err = await send(await seal(notBefore - 1)).catch((e: unknown) => e);
    assert.ok(err instanceof ApiError);
    assert.equal(err.status, 425);
    assert.equal(err.code, 'ENVELOPE_BEFORE_START');
    assert.equal(err.notBefore, notBefore);
  });

  it('the SDK retry re-seals with not_before and the submission succeeds', async () => {
    const sealedAt: number[] = [];
    const r = await sendWithFreshEnvelope(
      (issuedAt) => {
        sealedAt.push(issuedAt);
        return seal(issuedAt);
      },
      send,
      () => notBefore - 1, // a client clock the enclave refuses first (as right after a start)
    );
    assert.match(r.session_id, /^[0-9a-f-]{36}$/);
    assert.deepEqual(sealedAt, [notBefore - 1, notBefore]);
  });

  it('right after a restart, the CLI submit and the README example succeed (retry / header hint)', async () => {
    await ts.service.app.listen({ port: 0, host: '127.0.0.1' });
    const addr = ts.service.app.server.address();
    const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    // Inside the window: an envelope dated now is refused, so the CLI must retry.
    assert.ok(Math.floor(Date.now() / 1000) < notBefore);
    const trust = ['--expect-measurement', ts.measurement, '--trust-simulated-key', ts.vendorKey];
    const { stdout } = await run(
      process.execPath,
      [...cliCommand(), 'submit', ...trust, '--exchange', 'bybit', '--json'],
      {
        env: { ...process.env, CLOISTER_URL: url, CLOISTER_API_KEY: 'k', CLOISTER_API_SECRET: 's' },
      },
    );
    assert.match(JSON.parse(stdout).session_id, /^[0-9a-f-]{36}$/);
    const example = await run(process.execPath, ['--import', 'tsx', 'examples/client-flow.ts'], {
      env: { ...process.env, CLOISTER_URL: url, CLOISTER_DATA_DIR: ts.dataDir },
    });
    assert.match(example.stdout, /credential: 'ok'/);
  });

  it('after a host-forced restart (spent rows deleted), an opened envelope is not opened again', async () => {
    // Dated as far ahead as this enclave accepts right after its start.
    const envelope = await seal(notBefore);
    const { session_id } = await send(envelope);
    const pid = ts.service.enclave.pid();
    // The host: kill and respawn the enclave, forget that the envelope was spent.
    ts.service.enclave.restart();
    const until = Date.now() + 60_000;
    while (!(ts.service.enclave.isReady() && ts.service.enclave.pid() !== pid)) {
      if (Date.now() > until) assert.fail('the enclave did not come back');
      await new Promise((r) => setTimeout(r, 50));
    }
    await ts.service.db.query('DELETE FROM spent_envelopes');
    await ts.service.db.query('DELETE FROM credentials WHERE session_id = $1', [session_id]);
    const again = await send(envelope).catch((e: unknown) => e);
    assert.ok(again instanceof ApiError, 'the replay was accepted');
    assert.equal(again.code, 'ENVELOPE_BEFORE_START');
    const status = await ts.service.enclave.call('enclave.status', {});
    assert.equal(again.notBefore, status.envelope_not_before);
    assert.ok(status.envelope_not_before > notBefore);
  });
});

describe('envelope_not_before on the very first start', () => {
  it('an envelope dated now is accepted at once: no earlier process held the new key', async () => {
    // The 600 s skew keeps the test inside the refusal window however slow the start is.
    const ts = await startTestService('pglite', { ENVELOPE_MAX_FUTURE_SECONDS: String(SKEW) });
    try {
      const { verification } = await verifiedAttestation(ts);
      const status = await ts.service.enclave.call('enclave.status', {});
      const now = Math.floor(Date.now() / 1000);
      assert.ok(now < status.envelope_not_before, 'inside the window');
      const envelope = await CryptoHelper.encryptCredentials(
        uniqueCredentials(),
        verification.enclavePubkey!,
        { keyId: verification.keyId!, issuedAt: now },
      );
      const res = await ts.service.app.inject({
        method: 'POST',
        url: '/enclave/submit_key',
        payload: { ...envelope, metadata: { exchange: 'binance', label: 'main', ttl: 3600 } },
      });
      assert.equal(res.statusCode, 200, res.body);
    } finally {
      await ts.stop();
    }
  });
});
