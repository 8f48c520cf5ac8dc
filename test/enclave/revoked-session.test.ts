/**
 * The enclave's memory of revocations (methods/verify-stored.ts): once it has checked a
 * `session.revoked` entry for the log (`log.prepare`, or `log.append { entries }`), it refuses that
 * session's stored credential (`CREDENTIAL_REVOKED`) to `credential.verify_stored` and
 * `aggregates.start`, although the binding is still valid: a host that puts back the row it
 * deleted (an old backup) gets nothing opened. Other sessions are untouched; the memory is
 * forgotten once the binding has expired anyway, and does not survive a restart (Known limits).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { CryptoHelper } from '../../src/client/index.js';
import { DAY_MS } from '../../src/protocol/aggregates.js';
import { sessionLogSubject } from '../../src/protocol/log/entry.js';
import type { JobView } from '../../src/protocol/rpc/methods.js';
import { routeTransport } from '../exchanges/doubles.js';
import { testEnclave, type TestEnclave } from '../helpers/enclave-state.js';
import { code, ok } from '../mutation-killers/rpc.js';

async function ready(): Promise<{ t: TestEnclave; sealed: string; pub: string; keyId: string }> {
  const t = testEnclave();
  const g = await ok(t, 'keyring.generate', { policy: 'signer' });
  await ok(t, 'log.init', { checkpoint: null, frontier: [] });
  return {
    t,
    sealed: g.sealed,
    pub: g.public.credential_keys[0]!.public_key,
    keyId: g.public.current_key_id,
  };
}

async function stored(t: TestEnclave, pub: string, keyId: string) {
  const envelope = await CryptoHelper.encryptCredentials(
    { exchange: 'binance', apiKey: 'revoked-key', apiSecret: 'revoked-secret' },
    pub,
    { issuedAt: t.clock.now, keyId },
  );
  const s = await ok(t, 'credential.submit', {
    envelope,
    metadata: { exchange: 'binance', label: 'main', ttl: 600 },
  });
  return {
    session_id: s.session_id,
    envelope,
    key_id: s.key_id,
    exchange: 'binance',
    label: 'main',
    expires_at: s.expires_at,
    binding: s.binding,
  };
}

const revokedEntry = (sessionId: string, time: number) => ({
  v: 1 as const,
  type: 'session.revoked' as const,
  subject: sessionLogSubject(sessionId),
  time,
});

const start = (credential: unknown) => ({
  job_id: randomUUID(),
  credential,
  from: null,
  to: 1_800_000_000_000,
  symbols: ['BTC/USDT'],
  reporting_currency: 'USDT',
  subject: 'ab'.repeat(32),
  audience: null,
  nonce: null,
});

describe('a revoked session in the enclave', () => {
  it('its credential is refused once the revocation was prepared for the log, the others not', async () => {
    const { t, pub, keyId } = await ready();
    const victim = await stored(t, pub, keyId);
    const bystander = await stored(t, pub, keyId);
    assert.equal(await code(t, 'credential.verify_stored', victim), 'ok');

    await ok(t, 'log.prepare', { entries: [revokedEntry(victim.session_id, t.clock.now)] });
    assert.equal(await code(t, 'credential.verify_stored', victim), 'CREDENTIAL_REVOKED');
    // Refused before it is opened: no job, no exchange traffic.
    const job = start(victim);
    assert.equal(await code(t, 'aggregates.start', job), 'CREDENTIAL_REVOKED');
    assert.equal(t.state.jobs.poll([job.job_id])[0]!.state, 'unknown');
    assert.equal(await code(t, 'credential.verify_stored', bystander), 'ok');
  });

  it('a one-call append notes it too; the memory ends when the binding has expired', async () => {
    const { t, sealed, pub, keyId } = await ready();
    const victim = await stored(t, pub, keyId);
    await ok(t, 'log.append', { entries: [revokedEntry(victim.session_id, t.clock.now)] });
    assert.equal(await code(t, 'credential.verify_stored', victim), 'CREDENTIAL_REVOKED');
    assert.equal(t.state.revokedSessions.size, 1);

    // A restarted process (same sealed keyring) has no memory of it: Known limits.
    const restarted = testEnclave({ dir: t.dir });
    await ok(restarted, 'keyring.unseal', { sealed });
    assert.equal(await code(restarted, 'credential.verify_stored', victim), 'ok');

    // Past the longest TTL the enclave binds, the session has expired whatever its row says;
    // the next revocation noted drops the old one.
    t.clock.now += t.state.config.ENCLAVE_MAX_TTL_SECONDS + 1;
    await ok(t, 'log.prepare', { entries: [revokedEntry(randomUUID(), t.clock.now)] });
    assert.equal(t.state.revokedSessions.size, 1);
    assert.equal(t.state.revokedSessions.has(sessionLogSubject(victim.session_id)), false);
    assert.equal(await code(t, 'credential.verify_stored', victim), 'CREDENTIAL_EXPIRED');
  });

  it('a clock the host moves forward, then back, revives neither the revoked session nor an expired one', async () => {
    const { t, pub, keyId } = await ready();
    const victim = await stored(t, pub, keyId);
    const expired = await stored(t, pub, keyId);
    const back = t.clock.now;
    await ok(t, 'log.prepare', { entries: [revokedEntry(victim.session_id, t.clock.now)] });
    // Forward past the longest TTL: the next revocation noted forgets the first one.
    t.clock.now += t.state.config.ENCLAVE_MAX_TTL_SECONDS + 1;
    await ok(t, 'log.prepare', { entries: [revokedEntry(randomUUID(), t.clock.now)] });
    assert.equal(t.state.revokedSessions.has(sessionLogSubject(victim.session_id)), false);
    // Back to when both bindings were valid: the enclave's rules do not go back with it.
    t.clock.now = back;
    assert.equal(await code(t, 'credential.verify_stored', victim), 'CREDENTIAL_EXPIRED');
    assert.equal(await code(t, 'credential.verify_stored', expired), 'CREDENTIAL_EXPIRED');
    assert.equal(await code(t, 'aggregates.start', start(victim)), 'CREDENTIAL_EXPIRED');
  });

  it('a job started before the revocation was noted signs nothing after it', async () => {
    // The host's revocation cancels the jobs it knows of, but a job can reach the enclave
    // between the revocation's database work and its log.prepare (its row inserted after the
    // revocation looked for jobs). Before, that job listed on with the key and signed a result
    // after `session.revoked`; now the enclave refuses it between pages and before signing.
    const { t, pub, keyId } = await ready();
    const victim = await stored(t, pub, keyId);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let listing!: () => void;
    const listed = new Promise<void>((r) => (listing = r));
    const transport = routeTransport(
      {
        '/api/v3/time': () => ({ body: { serverTime: t.clock.now * 1000 } }),
        '/api/v3/exchangeInfo': () => ({
          body: {
            symbols: [
              { symbol: 'BTCUSDT', status: 'TRADING', baseAsset: 'BTC', quoteAsset: 'USDT' },
            ],
          },
        }),
        '/api/v3/account': () => ({ body: { uid: 4242, balances: [] } }),
        '/api/v3/myTrades': async () => {
          listing();
          await held;
          return { body: [] };
        },
      },
      { now: () => t.clock.now * 1000 },
    );
    (t.state as { egress: unknown }).egress = () => transport;
    const to = t.clock.now * 1000;
    const job = { ...start(victim), from: to - DAY_MS, to };
    assert.equal(await code(t, 'aggregates.start', job), 'ok');
    await listed;
    await ok(t, 'log.prepare', { entries: [revokedEntry(victim.session_id, t.clock.now)] });
    release();
    let view: JobView | undefined;
    // Bounded: a job left running fails here, not at the runner's 3-minute timeout.
    for (let round = 0; round < 2000; round++) {
      const { jobs } = await ok(t, 'aggregates.poll', { job_ids: [job.job_id], ack: [] });
      view = jobs[0]!;
      if (view.state !== 'running') break;
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.ok(view && view.state !== 'running', 'the job still runs after its revocation');
    assert.deepEqual(
      { state: view.state, error: 'error' in view ? view.error : undefined },
      { state: 'failed', error: 'CREDENTIAL_REVOKED' },
    );
  });
});
