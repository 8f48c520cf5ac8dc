/**
 * Property: losing the enclave mid-load loses nothing that was acknowledged and half-writes
 * nothing. While 8 clients submit fresh envelopes, the enclave process is SIGKILLed (again,
 * boundedly, until a request is seen failing over): requests in flight or arriving while it is
 * down get 503 ENCLAVE_UNAVAILABLE (or LOG_UNAVAILABLE until its log is re-initialised) with
 * Retry-After — never a 500 — and envelopes sealed before
 * the restart are refused (425 ENVELOPE_BEFORE_START, or stale); the supervisor restarts it and records 'enclave.restarted';
 * /readyz comes back; the restarted enclave unseals the same keyring (same public key and key
 * id), so every session acknowledged with a 200 is stored and still opens ('ok'), new envelopes
 * to the same key are accepted, and the database holds exactly one credentials row per 200.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { CryptoHelper } from '../../src/client/index.js';
import { HTTP_ERRORS } from '../../src/host/errors.js';
import { engines, startTestService, type TestService } from '../helpers/service.js';
import { uniqueCredentials, verifiedAttestation } from '../helpers/client.js';
import { sessionStatus } from '../helpers/security-util.js';

const WORKERS = 8;
const LOAD_MS = 4000;
const MAX_KILLS = 5;
/** Generous upper bounds for waiting on the service; they bound the test, they assert nothing about speed. */
const RECOVERY_BOUND_MS = 30_000;

interface Outcome {
  status: number;
  code?: string;
  message?: string;
  retryAfter?: string;
  sessionId?: string;
}

async function waitFor(
  cond: () => boolean | Promise<boolean>,
  boundMs: number,
  what: string,
): Promise<void> {
  const until = Date.now() + boundMs;
  while (!(await cond())) {
    if (Date.now() > until) assert.fail(`gave up waiting for ${what}`);
    await sleep(20);
  }
}

for (const engine of engines()) {
  describe(`enclave crash under load on ${engine}`, () => {
    let ts: TestService;
    before(async () => {
      ts = await startTestService(engine);
    });
    after(async () => ts?.stop());

    it('acknowledged sessions survive a SIGKILLed enclave; failures are 503 + Retry-After; nothing is half-written', async (t) => {
      const app = ts.service.app;
      const { attestation: before, verification } = await verifiedAttestation(ts);
      const pub = verification.enclavePubkey!;
      const outcomes: Outcome[] = [];
      const ok = () => outcomes.filter((o) => o.status === 200).length;
      const unavailable = () => outcomes.filter((o) => o.status === 503).length;

      let killerDone = false;
      const started = Date.now();
      const worker = async () => {
        while (!(killerDone && Date.now() - started >= LOAD_MS)) {
          // Sealed just before sending, as a client would; a restart in between makes it stale.
          const env = await CryptoHelper.encryptCredentials(uniqueCredentials('crash'), pub);
          const res = await app.inject({
            method: 'POST',
            url: '/enclave/submit_key',
            payload: { ...env, metadata: { exchange: 'binance', label: 'crash-load', ttl: 3600 } },
          });
          const body = res.json() as {
            session_id?: string;
            error?: { code: string; message: string };
          };
          outcomes.push({
            status: res.statusCode,
            ...(body.error ? { code: body.error.code, message: body.error.message } : {}),
            ...(res.headers['retry-after'] !== undefined
              ? { retryAfter: String(res.headers['retry-after']) }
              : {}),
            ...(body.session_id ? { sessionId: body.session_id } : {}),
          });
          if (res.statusCode === 503) await sleep(10); // back off a little, as Retry-After asks
        }
      };

      const pids: number[] = [];
      const killer = async () => {
        try {
          await waitFor(() => ok() >= 2 * WORKERS, RECOVERY_BOUND_MS, 'the first submissions');
          while (pids.length < MAX_KILLS) {
            const pid = ts.service.enclave.pid();
            assert.ok(pid !== null && ts.service.enclave.isReady(), 'enclave not up before a kill');
            const seen503 = unavailable();
            process.kill(pid, 'SIGKILL');
            pids.push(pid);
            await waitFor(
              () => ts.service.enclave.isReady() && ts.service.enclave.pid() !== pid,
              RECOVERY_BOUND_MS,
              'the enclave to restart',
            );
            if (unavailable() > seen503) break; // a request failed over: that is what we wanted to see
          }
        } finally {
          killerDone = true;
        }
      };

      await Promise.all([killer(), ...Array.from({ length: WORKERS }, () => worker())]);

      // --- what the clients saw
      const tally = new Map<string, number>();
      for (const o of outcomes)
        tally.set(
          `${o.status} ${o.code ?? ''}`.trim(),
          (tally.get(`${o.status} ${o.code ?? ''}`.trim()) ?? 0) + 1,
        );
      t.diagnostic(
        `kills: ${pids.length}; outcomes: ${[...tally].map(([k, n]) => `${k} ×${n}`).join(', ')}`,
      );
      assert.ok(pids.length >= 1);
      assert.ok(unavailable() > 0, `no request saw the enclave down after ${pids.length} kill(s)`);
      const unexpected = outcomes.filter(
        (o) =>
          !(
            (o.status === 200 && o.sessionId) ||
            (o.status === 503 && o.code === 'ENCLAVE_UNAVAILABLE') ||
            // After a restart the enclave is up before its log is re-initialised: submissions
            // wait for the log (fail closed) rather than complete without an entry.
            (o.status === 503 && o.code === 'LOG_UNAVAILABLE') ||
            (o.status === 400 && o.code === 'ENVELOPE_STALE') ||
            // Sealed before a restart: dated before the new process's envelope_not_before.
            (o.status === 425 && o.code === 'ENVELOPE_BEFORE_START')
          ),
      );
      assert.deepEqual(
        unexpected,
        [],
        'only 200, 503 ENCLAVE_UNAVAILABLE / LOG_UNAVAILABLE, 400 ENVELOPE_STALE or 425 ENVELOPE_BEFORE_START are acceptable',
      );
      assert.equal(
        outcomes.filter((o) => o.status >= 500 && o.status !== 503).length,
        0,
        'a 5xx other than 503',
      );
      for (const o of outcomes.filter((x) => x.status === 503)) {
        assert.equal(
          o.message,
          HTTP_ERRORS[o.code as 'ENCLAVE_UNAVAILABLE' | 'LOG_UNAVAILABLE'][1],
        );
        assert.ok(
          o.retryAfter !== undefined && /^[1-9]\d*$/.test(o.retryAfter),
          `503 without a valid Retry-After: ${o.retryAfter}`,
        );
      }

      // --- recovery
      await waitFor(
        async () => (await app.inject({ method: 'GET', url: '/readyz' })).statusCode === 200,
        RECOVERY_BOUND_MS,
        '/readyz to answer 200',
      );
      const { attestation: afterRestart } = await verifiedAttestation(ts);
      assert.equal(
        afterRestart.enclave_pubkey,
        before.enclave_pubkey,
        'the restarted enclave has another public key',
      );
      assert.equal(afterRestart.key_id, before.key_id);
      assert.equal(afterRestart.image_hash, before.image_hash);
      assert.ok(!pids.includes(ts.service.enclave.pid()!), 'the enclave process was not replaced');

      // New envelopes, sealed after the restart to the same (unchanged) key, are accepted.
      const acknowledged = outcomes.filter((o) => o.status === 200).map((o) => o.sessionId!);
      for (let i = 0; i < 3; i++) {
        const env = await CryptoHelper.encryptCredentials(uniqueCredentials('after'), pub);
        const res = await app.inject({
          method: 'POST',
          url: '/enclave/submit_key',
          payload: { ...env, metadata: { exchange: 'binance', label: 'after-restart', ttl: 3600 } },
        });
        assert.equal(res.statusCode, 200, res.body);
        acknowledged.push(res.json().session_id);
      }

      // --- what is stored
      assert.equal(
        new Set(acknowledged).size,
        acknowledged.length,
        'a session id was handed out twice',
      );
      const db = ts.service.db;
      const count = async (sql: string) => Number((await db.query<{ n: number }>(sql)).rows[0]!.n);
      assert.equal(
        await count('SELECT count(*)::int AS n FROM credentials'),
        acknowledged.length,
        'credentials rows ≠ 200s',
      );
      assert.equal(
        await count('SELECT count(*)::int AS n FROM sessions'),
        acknowledged.length,
        'sessions rows ≠ 200s',
      );
      assert.equal(
        await count(
          "SELECT count(*)::int AS n FROM ops_logs WHERE event_type = 'credential.submitted'",
        ),
        acknowledged.length,
      );
      // Fail closed: exactly one transparency-log entry per acknowledged submission.
      assert.equal(
        await count(
          "SELECT count(*)::int AS n FROM merkle_logs WHERE event_type = 'credential.submitted'",
        ),
        acknowledged.length,
        'log entries ≠ 200s',
      );
      const { rows } = await db.query<{ id: string }>(
        'SELECT s.id FROM sessions s JOIN credentials c ON c.session_id = s.id WHERE s.id = ANY($1::uuid[])',
        [acknowledged],
      );
      assert.equal(
        rows.length,
        acknowledged.length,
        'an acknowledged session is missing or has no ciphertext',
      );

      // Every acknowledged session still opens in the restarted enclave.
      const notOk: string[] = [];
      for (let i = 0; i < acknowledged.length; i += 16) {
        const batch = acknowledged.slice(i, i + 16);
        const answers = await Promise.all(batch.map((id) => sessionStatus(app, id)));
        answers.forEach((a, j) => {
          if (a.statusCode !== 200 || a.json().credential !== 'ok')
            notOk.push(`${batch[j]}: ${a.statusCode} ${a.body}`);
        });
      }
      assert.deepEqual(notOk, []);

      const { rows: restarts } = await db.query<{ details: { restarts: number } }>(
        "SELECT details FROM ops_logs WHERE event_type = 'enclave.restarted' ORDER BY id",
      );
      assert.equal(restarts.length, pids.length, 'one enclave.restarted event per kill');
      assert.deepEqual(
        restarts.map((r) => Number(r.details.restarts)),
        pids.map((_, i) => i + 1),
      );
    });
  });
}
