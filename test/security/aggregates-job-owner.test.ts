/**
 * The owner check on aggregates jobs (session-access.ts checkJob): user B polling user A's
 * real job id gets the same 404 JOB_NOT_FOUND as for a job that does not exist, while A
 * polling it gets the job. Real service, real enclave, fake exchange, real tokens.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startFakeExchange, type FakeExchange } from '../../devtools/fake-exchange/index.js';
import { CryptoHelper } from '../../src/client/index.js';
import { startTestService, type TestService } from '../helpers/service.js';

const tag = Math.random().toString(36).slice(2, 10);
const creds = {
  exchange: 'binance' as const,
  apiKey: `JOBOWNERKEY-${tag}`,
  apiSecret: `JOBOWNERSECRET-${tag}`,
};

describe("aggregates jobs belong to their session's owner", () => {
  let fake: FakeExchange;
  let ts: TestService;
  const tokens: Record<string, string> = {};
  const as = (who: string) => ({ authorization: `Bearer ${tokens[who]}` });

  before(async () => {
    fake = await startFakeExchange({
      accounts: [{ apiKey: creds.apiKey, secret: creds.apiSecret, seed: 5, fills: 50, days: 10 }],
    });
    ts = await startTestService('pglite', {
      AUTH_DISABLED_FOR_DEVELOPMENT: 'false',
      BINANCE_BASE_URL: fake.url,
      AGGREGATES_WAIT_MS: '20000',
    });
    for (const who of ['alice', 'bob']) {
      const body = { email: `${who}@example.com`, password: 'job-owner-password-1' };
      await ts.service.app.inject({ method: 'POST', url: '/auth/register', payload: body });
      tokens[who] = (
        await ts.service.app.inject({ method: 'POST', url: '/auth/login', payload: body })
      ).json().access_token;
    }
  });
  after(async () => {
    await ts?.stop();
    await fake?.close();
  });

  it("B polling A's real job id gets 404 JOB_NOT_FOUND; A gets the job", async () => {
    const app = ts.service.app;
    const att = (await app.inject({ method: 'GET', url: '/attestation/quote' })).json();
    const env = await CryptoHelper.encryptCredentials(creds, att.enclave_pubkey, {
      keyId: att.key_id,
    });
    const sub = await app.inject({
      method: 'POST',
      url: '/enclave/submit_key',
      headers: as('alice'),
      payload: { ...env, metadata: { exchange: 'binance', label: 'main', ttl: 3600 } },
    });
    assert.equal(sub.statusCode, 200, sub.body);
    const req = await app.inject({
      method: 'POST',
      url: '/enclave/request_aggregates',
      headers: as('alice'),
      payload: { session_id: sub.json().session_id },
    });
    assert.ok([200, 202].includes(req.statusCode), req.body);
    const jobId = req.json().job_id as string;
    const { rows } = await ts.service.db.query('SELECT 1 FROM aggregate_jobs WHERE id = $1', [
      jobId,
    ]);
    assert.equal(rows.length, 1, 'the job is real');

    const bob = await app.inject({
      method: 'GET',
      url: `/enclave/aggregates/jobs/${jobId}`,
      headers: as('bob'),
    });
    assert.equal(bob.statusCode, 404, bob.body);
    assert.equal(bob.json().error.code, 'JOB_NOT_FOUND');
    assert.ok(!bob.body.includes('aggregates_signed'));

    const alice = await app.inject({
      method: 'GET',
      url: `/enclave/aggregates/jobs/${jobId}`,
      headers: as('alice'),
    });
    assert.ok([200, 202].includes(alice.statusCode), alice.body);
    assert.equal(alice.json().job_id, jobId);
  });
});
