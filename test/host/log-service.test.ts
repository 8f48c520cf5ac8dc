/**
 * The host's log service against a real in-process enclave (the method handlers on a simulated
 * platform, params checked by the method table as the RPC server does) and a real PGlite
 * database: large operations are split over several enclave appends within one transaction; a
 * failing operation is rolled back alone; a divergent enclave answer stores nothing, fails every
 * caller and asks for an enclave restart.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { HANDLERS } from '../../src/enclave/methods/index.js';
import { openPostgres, type Db } from '../../src/host/db/database.js';
import { migrate } from '../../src/host/db/migrate.js';
import { createLogService, type LogService } from '../../src/host/log/log-service.js';
import { EnclaveCallError } from '../../src/host/enclave-client/rpc-client.js';
import { createLogStore, type LogStore } from '../../src/host/log/log-store.js';
import { bytesToBase64 } from '../../src/protocol/encoding.js';
import { RpcError } from '../../src/protocol/rpc/errors.js';
import { verifyCheckpointNote } from '../../src/protocol/log/checkpoint.js';
import type { LogEntry } from '../../src/protocol/log/entry.js';
import { CompactRange, MerkleStage } from '../../src/protocol/log/merkle.js';
import { logOrigin } from '../../src/protocol/log/origin.js';
import {
  LOG_APPEND_MAX_ENTRIES,
  LOG_PREPARED_MAX,
  METHODS,
  type MethodName,
  type MethodParams,
  type MethodResult,
} from '../../src/protocol/rpc/methods.js';
import { testEnclave } from '../helpers/enclave-state.js';
import { createTestDatabase, openTestPglite } from '../helpers/service.js';
import { expiredEntry as expired } from '../helpers/log-entries.js';

const silent = { error() {}, warn() {}, info() {} };

describe('log service batching and failure handling', () => {
  let db: Db;
  let log: LogService;
  /** Entries per `log.append` (a prepared one counts its prepare's entries). */
  let appends: number[];
  /** Entries per `log.prepare`. */
  let prepares: number[];
  /** Each enclave call with its checked params, and each head lock taken, in order. */
  let calls: { method: string; params: unknown }[];
  let tamperPrepare: ((r: MethodResult<'log.prepare'>) => MethodResult<'log.prepare'>) | null;
  let diverged: number;
  let tamper: ((r: MethodResult<'log.append'>) => MethodResult<'log.append'>) | null;
  /** Awaited before a `log.append` answer is handed back (holds the call in flight). */
  let hold: (() => Promise<void>) | null;
  let logKey: { name: string; publicKey: Uint8Array };
  /** Called with each message the service logs as an error. */
  let onError: ((msg: string) => void) | null = null;
  let call: <M extends MethodName>(method: M, params: MethodParams<M>) => Promise<MethodResult<M>>;

  async function setup(
    batchMax = 512,
    batchIntervalMs = 1,
    open: () => Promise<Db> = () => openTestPglite({ migrated: true }),
    wrapStore: (s: LogStore) => LogStore = (s) => s,
  ): Promise<void> {
    db = await open();
    // Finds every migration applied on the migrated PGlite; migrates a new PostgreSQL database.
    await migrate(db);
    const t = testEnclave();
    HANDLERS['keyring.generate'](t.state, { policy: 'signer' });
    const publicKey = t.state.keyrings.credential.active!.logPublicKey();
    logKey = { name: logOrigin(publicKey), publicKey };
    appends = [];
    prepares = [];
    calls = [];
    const preparedSizes = new Map<string, number>();
    diverged = 0;
    tamper = null;
    tamperPrepare = null;
    hold = null;
    call = async <M extends MethodName>(
      method: M,
      params: MethodParams<M>,
    ): Promise<MethodResult<M>> => {
      const checked = METHODS[method].params.parse(params) as MethodParams<M>;
      calls.push({ method, params: checked });
      if (method === 'log.prepare')
        prepares.push((checked as MethodParams<'log.prepare'>).entries.length);
      if (method === 'log.append') {
        const p = checked as MethodParams<'log.append'>;
        appends.push(p.entries?.length ?? preparedSizes.get(p.prepared!) ?? -1);
      }
      const handler = HANDLERS[method] as (
        state: typeof t.state,
        params: MethodParams<M>,
      ) => MethodResult<M> | Promise<MethodResult<M>>;
      // As the RPC client hands an enclave's error over: its code in an EnclaveCallError.
      const res = await Promise.resolve()
        .then(() => handler(t.state, checked))
        .catch((err: unknown) => {
          throw err instanceof RpcError ? new EnclaveCallError(err.code) : err;
        });
      if (method === 'log.prepare') {
        const r = res as MethodResult<'log.prepare'>;
        preparedSizes.set(r.id, r.leaf_hashes.length);
        if (tamperPrepare) return tamperPrepare(r) as MethodResult<M>;
      }
      if (method === 'log.append' && hold) await hold();
      if (method === 'log.append' && tamper)
        return tamper(res as MethodResult<'log.append'>) as MethodResult<M>;
      return res;
    };
    log = createLogService({
      db,
      store: wrapStore(createLogStore(db)),
      enclave: { call },
      logger: { ...silent, error: (_o: unknown, msg?: string) => onError?.(msg ?? '') },
      batchIntervalMs,
      batchMax,
      onDiverged: () => diverged++,
    });
    await log.load();
    await log.initEnclave(call);
    assert.ok(log.isReady());
  }
  beforeEach(() => {
    db = null as unknown as Db;
    onError = null;
  });
  afterEach(async () => db?.close());

  const count = async (table: string) =>
    Number((await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n);

  it('splits an operation with more entries than one append takes, in one transaction', async () => {
    await setup();
    const n = 2 * LOG_APPEND_MAX_ENTRIES + 100;
    const entries = Array.from({ length: n }, expired);
    const logged = await log.commit({ work: async () => ({ result: 'swept', entries }) });
    assert.equal(logged.result, 'swept');
    assert.deepEqual(appends, [LOG_APPEND_MAX_ENTRIES, LOG_APPEND_MAX_ENTRIES, 100]);
    assert.deepEqual(
      logged.indexes,
      entries.map((_, i) => i),
    );
    assert.equal(logged.checkpoint.size, n);
    const v = verifyCheckpointNote(logged.checkpoint.note, logKey);
    assert.ok(v.valid, v.reasons.join('; '));
    assert.equal(await count('merkle_logs'), n);
    const { rows } = await db.query<{ tree_size: string }>(
      'SELECT tree_size FROM log_checkpoints ORDER BY tree_size',
    );
    assert.deepEqual(
      rows.map((r) => Number(r.tree_size)),
      [0, LOG_APPEND_MAX_ENTRIES, 2 * LOG_APPEND_MAX_ENTRIES, n],
    );
    assert.equal(log.tree().size, n);
  });

  it('batches concurrent operations under one checkpoint; a failing one is rolled back alone', async () => {
    await setup();
    await db.exec('CREATE TABLE side_effects (v text NOT NULL)');
    const ops = Array.from({ length: 20 }, (_, i) =>
      log.commit({
        async work(tx) {
          await tx.query('INSERT INTO side_effects (v) VALUES ($1)', [`op${i}`]);
          if (i === 7) throw new Error('this operation fails');
          return { result: i, entries: [expired()] };
        },
      }),
    );
    const settled = await Promise.allSettled(ops);
    assert.equal(settled.filter((s) => s.status === 'rejected').length, 1);
    assert.equal(settled[7]!.status, 'rejected');
    assert.equal(appends.length, 1, 'one enclave append (one signature) for the whole batch');
    const sizes = new Set(
      settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value.checkpoint.size] : [])),
    );
    assert.deepEqual([...sizes], [19]);
    const { rows } = await db.query<{ v: string }>('SELECT v FROM side_effects ORDER BY v');
    assert.equal(rows.length, 19);
    assert.ok(!rows.some((r) => r.v === 'op7'), 'the failed operation left nothing behind');
  });

  it('a batch PostgreSQL ends (40P01, 40001) runs again whole, at most 3 times; what it rejected stays rejected', async () => {
    // Op 1 fails on its own (so the batch runs again with a savepoint per operation); there the
    // server ends op 2's first run as it ends a deadlock's victim.
    await setup(3, 60_000);
    await db.exec('CREATE TABLE side_effects (v text NOT NULL)');
    const pg = (code: string) => Object.assign(new Error('ended by the server'), { code });
    const runs = [0, 0, 0];
    const op = (i: number, fail: (run: number) => Error | null) =>
      log.commit({
        async work(tx) {
          const run = ++runs[i]!;
          await tx.query('INSERT INTO side_effects (v) VALUES ($1)', [`op${i}.${run}`]);
          const err = fail(run);
          if (err) throw err;
          return { result: i, entries: [expired()] };
        },
      });
    const fails = new Error('this operation fails');
    const settled = await Promise.allSettled([
      op(0, () => null),
      op(1, () => fails),
      op(2, (run) => (run === 1 ? pg('40P01') : null)),
    ]);
    assert.deepEqual(
      settled.map((s) => (s.status === 'fulfilled' ? s.value.result : s.reason)),
      [0, fails, 2],
    );
    // 0: without savepoints, then twice isolated; 1: not again once rejected; 2: twice isolated.
    assert.deepEqual(runs, [3, 2, 2]);
    assert.deepEqual(appends, [2], 'the enclave sees the batch once');
    const { rows } = await db.query<{ v: string }>('SELECT v FROM side_effects ORDER BY v');
    assert.deepEqual(
      rows.map((r) => r.v),
      ['op0.3', 'op2.2'],
    );

    // A batch that keeps being ended fails closed, after its third attempt.
    runs.fill(0);
    const ended = await Promise.allSettled([
      op(0, () => null),
      op(1, () => null),
      op(2, () => pg('40001')),
    ]);
    for (const s of ended) {
      assert.equal(s.status, 'rejected');
      assert.equal((s.reason as { code?: string }).code, 'LOG_UNAVAILABLE');
    }
    // Without savepoints once (op 2 fails it), then isolated 3 times.
    assert.deepEqual(runs, [4, 4, 4]);
    assert.deepEqual(appends, [2]);
    assert.equal(await count('side_effects'), 2);
  });

  /** Two operations in one batch: signed once, never again, nothing stored, the log restarts. */
  async function signedOnceNotStored(): Promise<void> {
    const one = () => log.commit({ work: async () => ({ result: null, entries: [expired()] }) });
    const settled = await Promise.allSettled([one(), one()]);
    for (const s of settled) {
      assert.equal(s.status, 'rejected');
      assert.equal((s.reason as { code?: string }).code, 'LOG_UNAVAILABLE');
    }
    assert.deepEqual(appends, [2], 'signed once, not again');
    assert.equal(diverged, 1, 'the enclave log restarts from the stored state');
    assert.equal(await count('merkle_logs'), 0);
  }

  it('a batch ended by the server once the enclave has signed is not run again: it fails closed', async () => {
    let end = false;
    await setup(2, 60_000, undefined, (store) => ({
      ...store,
      insertLeavesWithCheckpoint: async (q, leaves, cp) => {
        if (end) throw Object.assign(new Error('deadlock detected'), { code: '40P01' });
        return store.insertLeavesWithCheckpoint(q, leaves, cp);
      },
    }));
    end = true;
    await signedOnceNotStored();
  });

  it('a log.append that fails once sent (no answer while the enclave signs) restarts the enclave log, never runs again', async () => {
    // The enclave signs, then its answer is lost: a timeout, or an error with a code the batch
    // would otherwise run again on. Either way the enclave is past the stored log.
    const lost = [
      new EnclaveCallError('ENCLAVE_TIMEOUT'),
      Object.assign(new Error('ended'), { code: '40P01' }),
    ];
    for (const err of lost) {
      await db?.close();
      await setup(2, 60_000);
      tamper = () => {
        throw err;
      };
      await signedOnceNotStored();
      assert.equal(log.isReady(), false, 'commits fail closed until the enclave restarts');
    }
    // A lost connection: the enclave restarts on its own (or, connected, is restarted by hand).
    await db.close();
    // batchMax 1: the one commit's batch starts at once rather than after the 60 s interval.
    await setup(1, 60_000);
    tamper = () => {
      throw new EnclaveCallError('ENCLAVE_UNAVAILABLE');
    };
    await assert.rejects(
      log.commit({ work: async () => ({ result: null, entries: [expired()] }) }),
      { code: 'LOG_UNAVAILABLE' },
    );
    assert.equal(diverged, 0);
  });

  it('caps a batch at batchMax; what queues during a batch goes in the next one at once', async () => {
    await setup(8, 50);
    const one = () => log.commit({ work: async () => ({ result: null, entries: [expired()] }) });
    const first = await Promise.all(Array.from({ length: 20 }, one));
    assert.deepEqual(appends, [8, 8, 4], 'batches of at most batchMax operations');
    assert.deepEqual(
      first.map((l) => l.indexes[0]),
      Array.from({ length: 20 }, (_, i) => i),
    );
    // While a slow batch runs, 5 operations arrive over several batch intervals: they wait for
    // it and then go together, rather than as one small batch per interval.
    appends = [];
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    // The slow batch is held until all 5 have arrived (not for a fixed time: on a loaded
    // machine the arrivals' sleeps may outlast any fixed hold).
    let arrived = 0;
    const slow = log.commit({
      async work() {
        while (arrived < 5) await sleep(10);
        return { result: null, entries: [expired()] };
      },
    });
    await sleep(60); // the slow batch has started (interval 50 ms)
    const later: Promise<unknown>[] = [];
    for (let i = 0; i < 5; i++) {
      later.push(one());
      arrived++;
      await sleep(30);
    }
    await Promise.all([slow, ...later]);
    assert.deepEqual(appends, [1, 5]);
  });

  it('a batch that finds no stored head under the lock (its checkpoints gone) fails closed: nothing signed, nothing stored', async () => {
    // A database rolled back to before the log's first checkpoint (or its checkpoints deleted)
    // is behind what this instance committed, as much as a shorter head is.
    let gone = false;
    await setup(512, 1, undefined, (s) => ({
      ...s,
      lockHead: async (q) => (gone ? null : s.lockHead(q)),
    }));
    await log.commit({ work: async () => ({ result: null, entries: [expired()] }) });
    const signed = appends.length;
    gone = true;
    await assert.rejects(
      log.commit({ work: async () => ({ result: null, entries: [expired()] }) }),
      { code: 'LOG_UNAVAILABLE' },
    );
    assert.equal(appends.length, signed, 'the enclave was not asked to sign');
    assert.equal(await count('merkle_logs'), 1);
    assert.equal(await count('log_checkpoints'), 2);
  });

  it('a divergent enclave answer stores nothing, fails every caller and restarts the enclave', async () => {
    await setup();
    await log.commit({ work: async () => ({ result: null, entries: [expired()] }) });
    // Leaf hashes in a prepared answer (which has none) that are not the batch's.
    tamper = (r) => ({
      ...r,
      leaf_hashes: Array.from({ length: r.size - r.first_index }, () => 'A'.repeat(43) + '='),
    });
    const results = await Promise.allSettled(
      [1, 2, 3].map(() =>
        log.commit({ work: async () => ({ result: null, entries: [expired()] }) }),
      ),
    );
    for (const r of results) {
      assert.equal(r.status, 'rejected');
      assert.equal((r.reason as { code?: string }).code, 'LOG_UNAVAILABLE');
    }
    assert.equal(diverged, 1);
    assert.equal(log.isReady(), false, 'commits fail closed until the enclave restarts');
    assert.equal(await count('merkle_logs'), 1);
    assert.equal(await count('log_checkpoints'), 2);
    await assert.rejects(
      log.commit({ work: async () => ({ result: null, entries: [expired()] }) }),
      { code: 'LOG_UNAVAILABLE' },
    );
  });

  it("an answer whose size is not its checkpoint's stores nothing and fails every caller (no hang)", async () => {
    await setup();
    await log.commit({ work: async () => ({ result: null, entries: [expired()] }) });
    tamper = (r) => ({ ...r, size: r.size + 1 });
    // Settles when the commit does, or when the batch crashes and leaves it pending for ever.
    const crashed = new Promise<string>((resolve) => {
      onError = (msg) => {
        if (msg === 'log batch crashed') resolve('pending after a crash');
      };
    });
    const outcome = await Promise.race([
      log.commit({ work: async () => ({ result: null, entries: [expired()] }) }).then(
        () => 'resolved',
        (err: { code?: string }) => err.code,
      ),
      crashed,
    ]);
    assert.equal(outcome, 'LOG_UNAVAILABLE');
    assert.equal(diverged, 1);
    assert.equal(log.isReady(), false, 'commits fail closed until the enclave restarts');
    assert.equal(await count('merkle_logs'), 1);
    assert.equal(await count('log_checkpoints'), 2);
  });

  it('checks an append while the enclave call is in flight: the expected root is ready before the answer', async () => {
    await setup();
    await log.commit({ work: async () => ({ result: null, entries: [expired()] }) });
    // Counts CompactRange appends, the in-process enclave's own (all made inside the call, before
    // its first await), and MerkleStage appends, the host's (the root its checkpoint must have).
    const append = CompactRange.prototype.append;
    const stageAppend = MerkleStage.prototype.append;
    let appended = 0;
    CompactRange.prototype.append = function (this: CompactRange, leaf: Uint8Array) {
      appended++;
      append.call(this, leaf);
    };
    MerkleStage.prototype.append = function (this: MerkleStage, leaf: Uint8Array) {
      appended++;
      stageAppend.call(this, leaf);
    };
    const seen: number[] = [];
    try {
      hold = async () => {
        // A few turns of the event loop with the answer held back (no clock involved): the host
        // works out the three leaves' root meanwhile (before issue 17's change: only after).
        for (let i = 0; i < 20 && appended < 6; i++) await new Promise((r) => setImmediate(r));
        seen.push(appended);
      };
      const logged = await log.commit({
        work: async () => ({ result: null, entries: [expired(), expired(), expired()] }),
      });
      assert.deepEqual(logged.indexes, [1, 2, 3]);
    } finally {
      CompactRange.prototype.append = append;
      MerkleStage.prototype.append = stageAppend;
    }
    assert.deepEqual(
      seen,
      [3 + 3],
      'the enclave and the host each appended three leaves before the answer',
    );
    assert.equal(diverged, 0);
    assert.equal(await count('merkle_logs'), 4);
  });

  it('an entry that cannot be canonicalized fails its batch before the enclave; nothing stored, no restart', async () => {
    await setup();
    await log.commit({ work: async () => ({ result: null, entries: [expired()] }) });
    // The entry's bytes are made before the head lock; a failure there fails the batch (its
    // rows rolled back) without a signature, so the log stays ready.
    const bad = { ...expired(), time: 1n } as unknown as LogEntry;
    const results = await Promise.allSettled([
      log.commit({
        async work(tx) {
          await tx.query(`INSERT INTO ops_logs (event_type, details) VALUES ('test.bad', '{}')`);
          return { result: null, entries: [bad] };
        },
      }),
      log.commit({ work: async () => ({ result: null, entries: [expired()] }) }),
    ]);
    for (const r of results) {
      assert.equal(r.status, 'rejected');
      assert.equal((r.reason as { code?: string }).code, 'LOG_UNAVAILABLE');
    }
    assert.deepEqual(appends, [1], 'the enclave never saw the failed batch');
    assert.equal(diverged, 0);
    assert.equal(log.isReady(), true);
    assert.equal(await count('merkle_logs'), 1);
    assert.equal(await count('ops_logs'), 0, "the failed batch's rows are rolled back");
    const next = await log.commit({ work: async () => ({ result: null, entries: [expired()] }) });
    assert.deepEqual(next.indexes, [1]);
    assert.equal(next.checkpoint.size, 2);
  });

  it('has the enclave prepare a batch before the head lock; the append under the lock carries only the id', async () => {
    await setup(512, 1, undefined, (store) => ({
      ...store,
      lockHead: async (q) => {
        calls.push({ method: 'head lock', params: null });
        return store.lockHead(q);
      },
    }));
    calls = [];
    const logged = await log.commit({
      work: async () => ({ result: null, entries: [expired(), expired()] }),
    });
    assert.deepEqual(logged.indexes, [0, 1]);
    assert.deepEqual(
      calls.map((c) => c.method),
      ['log.prepare', 'head lock', 'log.append'],
    );
    const prep = calls[0]!.params as MethodParams<'log.prepare'>;
    assert.equal(prep.entries.length, 2);
    const append = calls[2]!.params as MethodParams<'log.append'>;
    assert.equal(append.entries, undefined, 'no entries under the lock');
    assert.match(append.prepared ?? '', /^[0-9a-f]{32}$/);
    assert.deepEqual(appends, [2]);
    assert.equal(await count('merkle_logs'), 2);
  });

  it('a failed log.prepare or one whose leaf hashes are not ours fails its batch unsigned: no restart, nothing stored', async () => {
    await setup();
    await log.commit({ work: async () => ({ result: null, entries: [expired()] }) });
    const failures: ((r: MethodResult<'log.prepare'>) => MethodResult<'log.prepare'>)[] = [
      (r) => ({ ...r, leaf_hashes: r.leaf_hashes.map(() => 'A'.repeat(43) + '=') }),
      (r) => ({ ...r, leaf_hashes: r.leaf_hashes.slice(1) }),
      () => {
        throw new EnclaveCallError('ENCLAVE_TIMEOUT');
      },
    ];
    for (const f of failures) {
      tamperPrepare = f;
      const results = await Promise.allSettled([
        log.commit({
          async work(tx) {
            await tx.query(`INSERT INTO ops_logs (event_type, details) VALUES ('test.op', '{}')`);
            return { result: null, entries: [expired(), expired()] };
          },
        }),
        log.commit({ work: async () => ({ result: null, entries: [expired()] }) }),
      ]);
      for (const r of results) {
        assert.equal(r.status, 'rejected');
        assert.equal((r.reason as { code?: string }).code, 'LOG_UNAVAILABLE');
      }
    }
    assert.deepEqual(appends, [1], 'the enclave was never asked to sign the failed batches');
    assert.equal(diverged, 0);
    assert.equal(log.isReady(), true);
    assert.equal(await count('merkle_logs'), 1);
    assert.equal(await count('ops_logs'), 0, "the failed batches' rows are rolled back");
    tamperPrepare = null;
    const next = await log.commit({ work: async () => ({ result: null, entries: [expired()] }) });
    assert.deepEqual(next.indexes, [1]);
  });

  it('a batch that runs again after its prepare (40001 under the lock) prepares again and appends the new id', async () => {
    let ended = 0;
    await setup(512, 1, undefined, (store) => ({
      ...store,
      lockHead: async (q) => {
        if (ended-- > 0) throw Object.assign(new Error('could not serialize'), { code: '40001' });
        return store.lockHead(q);
      },
    }));
    ended = 1;
    const ids: string[] = [];
    tamperPrepare = (r) => (ids.push(r.id), r);
    const logged = await log.commit({
      work: async () => ({ result: null, entries: [expired(), expired()] }),
    });
    assert.deepEqual(logged.indexes, [0, 1]);
    assert.deepEqual(prepares, [2, 2], 'prepared once per attempt');
    assert.deepEqual(appends, [2], 'signed once');
    const sent = calls.filter((c) => c.method === 'log.append');
    assert.deepEqual(
      sent.map((c) => (c.params as MethodParams<'log.append'>).prepared),
      [ids[1]],
      "the second attempt's id; the first one's is never used",
    );
    assert.equal(diverged, 0);
    assert.equal(await count('merkle_logs'), 2);
  });

  it('an append whose prepared id the enclave no longer holds (restarted, evicted) fails its batch unsigned: no restart', async () => {
    await setup();
    await log.commit({ work: async () => ({ result: null, entries: [expired()] }) });
    // The enclave answers LOG_PREPARED_UNKNOWN as the RPC client hands it over: it took nothing
    // and signed nothing (the id is checked before anything else), so this is no divergence.
    tamperPrepare = (r) => ({ ...r, id: 'ab'.repeat(16) });
    await assert.rejects(
      log.commit({ work: async () => ({ result: null, entries: [expired(), expired()] }) }),
      { code: 'LOG_UNAVAILABLE' },
    );
    assert.deepEqual(appends, [1, -1], 'the unknown id was sent once');
    assert.equal(diverged, 0, 'nothing was signed: the enclave log is not restarted');
    assert.equal(log.isReady(), true);
    assert.equal(await count('merkle_logs'), 1);
    tamperPrepare = null;
    const next = await log.commit({ work: async () => ({ result: null, entries: [expired()] }) });
    assert.deepEqual(next.indexes, [1]);
  });

  it(`prepares at most ${LOG_PREPARED_MAX} chunks of a batch ahead; the rest go with their entries`, async () => {
    await setup();
    const n = LOG_PREPARED_MAX * LOG_APPEND_MAX_ENTRIES + 3;
    const entries = Array.from({ length: n }, expired);
    const logged = await log.commit({ work: async () => ({ result: 'swept', entries }) });
    assert.equal(logged.checkpoint.size, n);
    assert.deepEqual(prepares, Array(LOG_PREPARED_MAX).fill(LOG_APPEND_MAX_ENTRIES));
    const sent = calls
      .filter((c) => c.method === 'log.append')
      .map((c) => {
        const p = c.params as MethodParams<'log.append'>;
        return p.prepared ? 'prepared' : p.entries!.length;
      });
    assert.deepEqual(sent, [...Array(LOG_PREPARED_MAX).fill('prepared'), 3]);
    assert.equal(await count('merkle_logs'), n);
    assert.equal(diverged, 0);
  });

  /** A second service on the same database, as after a host restart; its error lines and log.init calls. */
  async function reload(): Promise<{
    log: LogService;
    errors: Record<string, unknown>[];
    inits: number;
  }> {
    const errors: Record<string, unknown>[] = [];
    const out = { log: null as unknown as LogService, errors, inits: 0 };
    out.log = createLogService({
      db,
      store: createLogStore(db),
      enclave: { call },
      logger: { ...silent, error: (o: Record<string, unknown>) => void errors.push(o) },
      batchIntervalMs: 1,
      batchMax: 512,
      onDiverged: () => diverged++,
    });
    await out.log.load();
    await out.log.initEnclave(async (method, params) => {
      if (method === 'log.init') out.inits++;
      return call(method, params);
    });
    return out;
  }

  it('refuses at load a stored entry whose text no longer hashes to its leaf hash', async () => {
    await setup();
    await log.commit({ work: async () => ({ result: null, entries: [expired(), expired()] }) });
    await log.commit({ work: async () => ({ result: null, entries: [expired()] }) });
    // Unaltered, a reload resumes the log (so the check below is not refusing everything).
    const clean = await reload();
    assert.equal(clean.log.isReady(), true);
    assert.deepEqual(clean.errors, []);

    // The text of leaf 1 is rewritten; its leaf hash, the tree and the checkpoint are untouched,
    // so the frontier the enclave checks is still right.
    const { rows } = await db.query<{ entry: string }>(
      'SELECT entry FROM merkle_logs WHERE leaf_index = 1',
    );
    const altered = rows[0]!.entry.replace('credential.expired', 'session.revoked');
    assert.notEqual(altered, rows[0]!.entry);
    await db.query('UPDATE merkle_logs SET entry = $1 WHERE leaf_index = 1', [altered]);
    const after = await reload();
    assert.equal(after.log.isReady(), false, 'nothing may be appended to an altered log');
    assert.equal(after.inits, 0, 'the enclave is not asked to resume it');
    assert.equal(after.log.tree().size, 3, 'proofs are still served from the stored hashes');
    assert.deepEqual(
      after.errors.find((e) => e.event === 'log.entry_altered'),
      { event: 'log.entry_altered', code: 'LOG_STATE_INVALID', firstIndex: 1, leaves: 1 },
    );
    await assert.rejects(
      after.log.commit({ work: async () => ({ result: null, entries: [expired()] }) }),
      { code: 'LOG_UNAVAILABLE' },
    );
  });

  it('refuses at load a log with a missing leaf row (every later leaf is shifted)', async () => {
    await setup();
    await log.commit({
      work: async () => ({ result: null, entries: [expired(), expired(), expired()] }),
    });
    await db.query('DELETE FROM merkle_logs WHERE leaf_index = 1');
    const after = await reload();
    assert.equal(after.log.isReady(), false);
    assert.equal(after.inits, 0);
    assert.equal(after.errors.find((e) => e.event === 'log.entry_altered')?.firstIndex, 2);
  });

  /**
   * PostgreSQL only (a pool: two batch transactions can be open at once; PGlite runs one at a
   * time). Batch 1 is held in its leaves + checkpoint statement until batch 2 has written its
   * rows and the enclave has prepared its entries (`log.prepare`, before the head lock), so the
   * pipeline is observed by the order of events, not by timing. Batch 2 signs only
   * once batch 1 is over: it needs the head lock batch 1 holds (several writers).
   */
  describe('pipelined batches (PostgreSQL)', { skip: !process.env.TEST_DATABASE_URL }, () => {
    let database: { url: string; drop: () => Promise<void> } | undefined;
    afterEach(async () => {
      await db?.close();
      db = null as unknown as Db;
      await database?.drop();
      database = undefined;
    });

    /** Opens a fresh database; batch 1's store write waits until batch 2 is prepared. */
    async function pipelineSetup(): Promise<string[]> {
      const events: string[] = [];
      let writes = 0;
      database = await createTestDatabase();
      const url = database.url;
      await setup(
        2,
        1,
        () => openPostgres(url),
        (store) => ({
          ...store,
          async insertLeavesWithCheckpoint(q, leaves, cp) {
            const n = ++writes;
            if (n === 1) {
              while (!events.includes('prepared 2')) await new Promise((r) => setImmediate(r));
            } else {
              // What the other connections see: batch 1 committed before this batch signed.
              events.push(`batch ${n} signed over ${await count('merkle_logs')} committed`);
            }
            await store.insertLeavesWithCheckpoint(q, leaves, cp);
            events.push(`stored ${n}`);
          },
        }),
      );
      await db.exec('CREATE TABLE side_effects (v text NOT NULL)');
      appends = [];
      let prepared = 0;
      tamperPrepare = (r) => (events.push(`prepared ${++prepared}`), r);
      return events;
    }
    function opWith(events: string[]) {
      return (v: string) =>
        log.commit({
          async work(tx) {
            await tx.query('INSERT INTO side_effects (v) VALUES ($1)', [v]);
            events.push(`rows ${v}`);
            return { result: v, entries: [expired()] };
          },
        });
    }

    it(
      "writes the next batch's rows while the previous one commits; signing and commits stay in order",
      { timeout: 120_000 },
      async () => {
        const events = await pipelineSetup();
        const op = opWith(events);
        const settled: string[] = [];
        const ops = ['a', 'b', 'c', 'd'].map((v) => op(v).then((l) => (settled.push(v), l)));
        const logged = await Promise.all(ops);
        assert.deepEqual(appends, [2, 2], 'two batches, each signed once');
        assert.deepEqual(events, [
          'rows a',
          'rows b',
          'prepared 1',
          'rows c',
          'rows d',
          'prepared 2',
          'stored 1',
          'batch 2 signed over 2 committed',
          'stored 2',
        ]);
        assert.deepEqual(settled, ['a', 'b', 'c', 'd'], 'callers released in batch order');
        assert.deepEqual(
          logged.map((l) => l.indexes[0]),
          [0, 1, 2, 3],
        );
        assert.equal(logged[3]!.checkpoint.size, 4);
        const v = verifyCheckpointNote(logged[3]!.checkpoint.note, logKey);
        assert.ok(v.valid, v.reasons.join('; '));
        assert.equal(await count('side_effects'), 4);
        assert.equal(log.tree().size, 4);
        assert.equal(bytesToBase64(log.tree().root()), logged[3]!.checkpoint.rootHash);
      },
    );

    it(
      'a batch after one that was signed but not stored is never signed; one restart',
      { timeout: 120_000 },
      async () => {
        // Batch 1's checkpoint (size 2) is refused by the database while batch 2's rows are
        // written and waiting.
        const events = await pipelineSetup();
        const op = opWith(events);
        await db.query(
          'ALTER TABLE log_checkpoints ADD CONSTRAINT test_refuse CHECK (tree_size <> 2)',
        );
        const results = await Promise.allSettled(['a', 'b', 'c', 'd'].map(op));
        for (const r of results) {
          assert.equal(r.status, 'rejected');
          assert.equal((r.reason as { code?: string }).code, 'LOG_UNAVAILABLE');
        }
        assert.deepEqual(appends, [2], 'batch 2 was never signed (its prepare is left unused)');
        assert.deepEqual(events, [
          'rows a',
          'rows b',
          'prepared 1',
          'rows c',
          'rows d',
          'prepared 2',
        ]);
        assert.equal(diverged, 1, 'one restart for the divergence');
        assert.equal(log.isReady(), false);
        assert.equal(await count('side_effects'), 0, 'neither batch left rows');
        assert.equal(await count('merkle_logs'), 0);
        assert.equal(await count('log_checkpoints'), 1, 'only the empty checkpoint');
        assert.equal(log.tree().size, 0);
      },
    );
  });
});
