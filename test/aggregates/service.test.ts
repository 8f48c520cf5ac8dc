/**
 * The aggregates service on its own dependencies (PGlite, the real repositories and credential
 * service; an enclave double that records calls and answers polls as the test says): admission
 * caps per user and per session (429 + Retry-After), the bounded queue (503), fair starts across
 * users, revocation cancelling a job so that no result of it is stored or logged, and the
 * subject the enclave is asked to sign.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { afterEach, describe, it } from 'node:test';
import type { Db } from '../../src/host/db/database.js';
import { openTestPglite } from '../helpers/service.js';
import { migrate } from '../../src/host/db/migrate.js';
import { createAggregateRepository } from '../../src/host/db/repositories/aggregates.js';
import { createSessionRepository } from '../../src/host/db/repositories/sessions.js';
import { HostError } from '../../src/host/errors.js';
import { createOpsLog } from '../../src/host/ops-events.js';
import {
  createAggregatesService,
  type AggregatesService,
} from '../../src/host/services/aggregates-service.js';
import { createCredentialService } from '../../src/host/services/credential-service.js';
import { aggregatesSubject } from '../../src/protocol/aggregates.js';
import type { LogEntry } from '../../src/protocol/log/entry.js';
import type { JobView, MethodName, MethodParams } from '../../src/protocol/rpc/methods.js';

const silent = { error() {}, warn() {}, info() {} };
const b64 = (n: number) => randomBytes(n).toString('base64');
const keyId = () => randomBytes(32).toString('base64url');

interface Harness {
  db: Db;
  service: AggregatesService;
  revoke(sessionId: string): Promise<unknown>;
  /** Calls the enclave double received, in order. */
  calls: { method: MethodName; params: unknown }[];
  /** What the double's poll answers for a job (default: running). */
  views: Map<string, JobView>;
  /** Resolves with the job id of the next `aggregates.start` call. */
  nextStart(): Promise<string>;
  logged: LogEntry[];
  newUser(): Promise<string>;
  newSession(userId: string | null): Promise<string>;
}

let db: Db | null = null;
afterEach(async () => {
  await db?.close();
  db = null;
});

async function harness(config: {
  maxJobs?: number;
  maxJobsPerUser?: number;
  maxJobsPerSession?: number;
  queueMax?: number;
}): Promise<Harness> {
  db = await openTestPglite({ migrated: true });
  await migrate(db);
  const d = db;
  const calls: Harness['calls'] = [];
  const views = new Map<string, JobView>();
  let onStart: ((jobId: string) => void) | null = null;
  const enclave = {
    isReady: () => true,
    async call<M extends MethodName>(method: M, params: MethodParams<M>): Promise<never> {
      calls.push({ method, params });
      if (method === 'aggregates.start') {
        const id = (params as MethodParams<'aggregates.start'>).job_id;
        onStart?.(id);
        onStart = null;
        return { job_id: id } as never;
      }
      if (method === 'aggregates.poll') {
        const p = params as MethodParams<'aggregates.poll'>;
        return {
          jobs: p.job_ids.map(
            (id) =>
              views.get(id) ?? {
                job_id: id,
                state: 'running',
                progress: { requests: 1, fills: 0, rate_limit_waits: 0, rate_limit_wait_ms: 0 },
              },
          ),
        } as never;
      }
      if (method === 'aggregates.cancel')
        return { cancelled: (params as MethodParams<'aggregates.cancel'>).job_ids } as never;
      throw new Error(`unexpected ${method}`);
    },
  };
  const logged: LogEntry[] = [];
  // The log double commits the work and keeps its entries in order (the log's order).
  const log = {
    isReady: () => true,
    async commit<T>(op: {
      work(tx: Parameters<Parameters<Db['transaction']>[0]>[0]): Promise<{
        result: T;
        entries: LogEntry[];
      }>;
    }) {
      const out = await d.transaction((tx) => op.work(tx));
      logged.push(...out.entries);
      return {
        result: out.result,
        indexes: out.entries.map((_, i) => i),
        checkpoint: { size: logged.length, rootHash: 'AA==', note: '' },
      };
    },
  };
  const sessions = createSessionRepository(d);
  const ops = createOpsLog(silent);
  const service = createAggregatesService({
    enclave,
    db: d,
    sessions,
    aggregates: createAggregateRepository(d),
    log: log as never,
    logStore: { latestCheckpoint: async () => null },
    ops,
    logger: silent,
    config: { waitMs: 0, maxWindowDays: 730, pollIntervalMs: 1, ...config },
  });
  const credentials = createCredentialService({
    enclave: enclave as never,
    sessions,
    ops,
    log: log as never,
    jobs: service.revocation,
    sweepNow: async () => undefined,
  });
  return {
    db: d,
    service,
    revoke: (id) => credentials.revoke(id),
    calls,
    views,
    logged,
    nextStart: () => new Promise<string>((resolve) => (onStart = resolve)),
    async newUser() {
      const { rows } = await d.query<{ id: string }>(
        'INSERT INTO users (email) VALUES ($1) RETURNING id',
        [`${randomUUID()}@example.com`],
      );
      return rows[0]!.id;
    },
    async newSession(userId) {
      const now = Math.floor(Date.now() / 1000);
      const id = randomUUID();
      const kid = keyId();
      await sessions.insertWithCredential(
        d,
        {
          session_id: id,
          alg: 'HPKE-Base-X25519-SHA256-A128GCM',
          key_id: kid,
          sender_key: b64(32),
          envelope_digest: randomBytes(32).toString('hex'),
          created_at: now,
          expires_at: now + 3600,
          binding: b64(32),
        },
        { exchange: 'binance', label: 'main' },
        {
          alg: 'HPKE-Base-X25519-SHA256-A128GCM',
          enc: b64(32),
          ciphertext: b64(64),
          key_id: kid,
        },
        userId,
      );
      return id;
    },
  };
}

const FROM = '2026-10-02T00:00:00.000Z';
const TO = '2026-11-01T00:00:00.000Z';
const q = { from: FROM, to: TO };

async function refused(p: Promise<unknown>, code: string): Promise<HostError> {
  let caught: unknown;
  await p.then(
    () => assert.fail(`expected ${code}`),
    (err: unknown) => (caught = err),
  );
  assert.ok(caught instanceof HostError, String(caught));
  assert.equal(caught.code, code);
  return caught;
}

describe('aggregates service: admission', () => {
  it('a user at its cap gets 429 with Retry-After; another user still gets a job', async () => {
    const h = await harness({ maxJobs: 4, maxJobsPerUser: 1, maxJobsPerSession: 1 });
    const a = await h.newUser();
    const b = await h.newUser();
    const a1 = await h.newSession(a);
    const a2 = await h.newSession(a);
    const first = await h.service.request(a1, q);
    assert.equal(first.status, 'running');
    // Same user, another session: over the user cap.
    const err = await refused(h.service.request(a2, q), 'AGGREGATES_TOO_MANY_JOBS');
    assert.equal(err.statusCode, 429);
    assert.ok((err.retryAfterSeconds ?? 0) > 0, 'Retry-After is set');
    // Another user is not held back by A.
    const other = await h.service.request(await h.newSession(b), q);
    assert.equal(other.status, 'running');
    assert.equal(h.calls.filter((c) => c.method === 'aggregates.start').length, 2);
    await h.service.stop();
  });

  it('the per-session cap holds below the per-user cap', async () => {
    const h = await harness({ maxJobs: 4, maxJobsPerUser: 3, maxJobsPerSession: 1 });
    const a = await h.newUser();
    const s = await h.newSession(a);
    await h.service.request(s, q);
    await refused(h.service.request(s, q), 'AGGREGATES_TOO_MANY_JOBS');
    assert.equal((await h.service.request(await h.newSession(a), q)).status, 'running');
    await h.service.stop();
  });

  it('beyond the enclave slots jobs queue; a full queue answers 503 AGGREGATES_QUEUE_FULL', async () => {
    const h = await harness({ maxJobs: 1, queueMax: 1 });
    const users = await Promise.all([h.newUser(), h.newUser(), h.newUser()]);
    const [s1, s2, s3] = await Promise.all(users.map((u) => h.newSession(u)));
    assert.equal((await h.service.request(s1!, q)).status, 'running');
    const queued = await h.service.request(s2!, q);
    assert.equal(queued.status, 'queued');
    const err = await refused(h.service.request(s3!, q), 'AGGREGATES_QUEUE_FULL');
    assert.equal(err.statusCode, 503);
    assert.ok((err.retryAfterSeconds ?? 0) > 0);
    // Only the first job reached the enclave.
    assert.equal(h.calls.filter((c) => c.method === 'aggregates.start').length, 1);
    await h.service.stop();
  });

  it('a freed slot goes to the user with fewer running jobs, before an older queued job', async () => {
    const h = await harness({ maxJobs: 2, maxJobsPerUser: 3, maxJobsPerSession: 1 });
    const a = await h.newUser();
    const b = await h.newUser();
    const a1 = await h.service.request(await h.newSession(a), q);
    const a2 = await h.service.request(await h.newSession(a), q);
    const a3 = await h.service.request(await h.newSession(a), q);
    const b1 = await h.service.request(await h.newSession(b), q);
    assert.deepEqual(
      [a1.status, a2.status, a3.status, b1.status],
      ['running', 'running', 'queued', 'queued'],
    );
    // A's first job ends: B (no job running) goes before A's older queued one.
    h.views.set(a1.job_id, {
      job_id: a1.job_id,
      state: 'failed',
      progress: { requests: 1, fills: 0, rate_limit_waits: 0, rate_limit_wait_ms: 0 },
      error: 'EXCHANGE_UNAVAILABLE',
    });
    const next = h.nextStart();
    h.service.start();
    assert.equal(await next, b1.job_id, 'the freed slot went to B');
    assert.equal((await h.service.job(b1.job_id)).status, 'running');
    assert.equal((await h.service.job(a3.job_id)).status, 'queued');
    await h.service.stop();
  });
});

describe('aggregates service: revocation and subject', () => {
  it('revoking a session cancels its job in the enclave; a later result is neither stored nor logged', async () => {
    const h = await harness({});
    const s = await h.newSession(await h.newUser());
    const job = await h.service.request(s, q);
    assert.equal(job.status, 'running');
    await h.revoke(s);
    const cancel = h.calls.find((c) => c.method === 'aggregates.cancel');
    assert.deepEqual(cancel?.params, { job_ids: [job.job_id] });
    assert.equal((await h.service.job(job.job_id)).status, 'cancelled');
    // The poller read the job as running just before the revocation committed and now stores
    // the enclave's result: the job row is locked and no longer running, so nothing is stored.
    const stored = await createAggregateRepository(h.db).completeJob(
      h.db,
      { job_id: job.job_id, session_id: s },
      {
        payload: '{}',
        signature: b64(64),
        payload_digest: randomBytes(32).toString('hex'),
        account_salt: b64(32),
      },
    );
    assert.equal(stored, false);
    await h.service.stop();
    assert.deepEqual(
      h.logged.map((e) => e.type),
      ['session.revoked'],
    );
    const { rows } = await h.db.query('SELECT 1 FROM aggregates');
    assert.equal(rows.length, 0);
    const ops = await h.db.query<{ event_type: string }>(
      `SELECT event_type FROM ops_logs WHERE session_id = $1 ORDER BY id`,
      [s],
    );
    assert.ok(ops.rows.some((r) => r.event_type === 'aggregates.cancelled'));
  });

  it('a queued job of a revoked session is cancelled and never started', async () => {
    const h = await harness({ maxJobs: 1 });
    const s1 = await h.newSession(await h.newUser());
    const s2 = await h.newSession(await h.newUser());
    await h.service.request(s1, q);
    const queued = await h.service.request(s2, q);
    assert.equal(queued.status, 'queued');
    await h.revoke(s2);
    assert.equal((await h.service.job(queued.job_id)).status, 'cancelled');
    assert.ok(
      !h.calls.some(
        (c) =>
          c.method === 'aggregates.start' &&
          (c.params as { job_id: string }).job_id === queued.job_id,
      ),
    );
    await h.service.stop();
  });

  it('the subject names the session owner: the same key under two users gives two subjects', async () => {
    const h = await harness({});
    const a = await h.newUser();
    const b = await h.newUser();
    await h.service.request(await h.newSession(a), {
      ...q,
      audience: 'v.example',
      nonce: 'n'.repeat(16),
    });
    await h.service.request(await h.newSession(b), q);
    const starts = h.calls
      .filter((c) => c.method === 'aggregates.start')
      .map((c) => c.params as MethodParams<'aggregates.start'>);
    assert.equal(starts[0]!.subject, aggregatesSubject({ userId: a }));
    assert.equal(starts[1]!.subject, aggregatesSubject({ userId: b }));
    assert.notEqual(starts[0]!.subject, starts[1]!.subject);
    assert.equal(starts[0]!.audience, 'v.example');
    assert.equal(starts[0]!.nonce, 'n'.repeat(16));
    assert.equal(starts[1]!.audience, null);
    await h.service.stop();
  });

  it('an unknown session and a bad window are refused before anything is written', async () => {
    const h = await harness({});
    await refused(h.service.request(randomUUID(), q), 'SESSION_NOT_FOUND');
    const s = await h.newSession(null);
    await refused(h.service.request(s, { from: TO, to: FROM }), 'AGGREGATES_WINDOW_INVALID');
    const { rows } = await h.db.query('SELECT 1 FROM aggregate_jobs');
    assert.equal(rows.length, 0);
    await h.service.stop();
  });
});
