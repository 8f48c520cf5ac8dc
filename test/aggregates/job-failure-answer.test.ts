/**
 * A job that ends because its session was revoked while it ran (the enclave's
 * CREDENTIAL_REVOKED, the job's check between pages) is answered as a revocation's cancel is,
 * 410 `cancelled` (docs/reference/http-api.md); one whose session expired (CREDENTIAL_EXPIRED)
 * as the session's end, 404 SESSION_NOT_FOUND. Both were a 500 INTERNAL.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import type { StoredJob } from '../../src/host/db/repositories/aggregates.js';
import { HostError } from '../../src/host/errors.js';
import { answerFor, type AnswerDeps } from '../../src/host/services/aggregates-answer.js';

const deps = {
  aggregates: {
    findResult: () => Promise.reject(new Error('not for a failed job')),
    logIndex: () => Promise.reject(new Error('not for a failed job')),
  },
  logStore: { latestCheckpoint: () => Promise.reject(new Error('not for a failed job')) },
} as unknown as AnswerDeps;

function failed(error_code: string | null): StoredJob {
  return {
    job_id: randomUUID(),
    session_id: randomUUID(),
    status: 'failed',
    request: {} as StoredJob['request'],
    requests_made: 3,
    fills_seen: 10,
    rate_limit_waits: 0,
    rate_limit_wait_ms: 0,
    error_code,
    aggregate_id: null,
  };
}

async function codeOf(job: StoredJob): Promise<{ code: string; status: number }> {
  try {
    await answerFor(job, deps);
  } catch (err) {
    assert.ok(err instanceof HostError);
    return { code: err.code, status: err.statusCode };
  }
  assert.fail('a failed job must be answered with an error');
}

describe('a failed job is answered with its cause', () => {
  it('revoked while running: cancelled, as the revocation cancels a job', async () => {
    const job = failed('CREDENTIAL_REVOKED');
    const answer = await answerFor(job, deps);
    assert.equal(answer.status, 'cancelled');
    assert.equal(answer.job_id, job.job_id);
  });

  it('expired while running: 404 SESSION_NOT_FOUND', async () => {
    for (const code of ['CREDENTIAL_EXPIRED', 'SESSION_NOT_FOUND'])
      assert.deepEqual(
        await codeOf(failed(code)),
        { code: 'SESSION_NOT_FOUND', status: 404 },
        code,
      );
  });

  it('a client-facing enclave code stays itself; an unknown one is INTERNAL', async () => {
    assert.equal((await codeOf(failed('EXCHANGE_KEY_REJECTED'))).code, 'EXCHANGE_KEY_REJECTED');
    assert.deepEqual(await codeOf(failed(null)), { code: 'INTERNAL', status: 500 });
  });
});
