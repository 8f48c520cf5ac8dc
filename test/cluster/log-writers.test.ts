/**
 * Issue 13, one log with many writers: two host log services (two instances), each with its own
 * in-process enclave holding the same cluster keyring (same log key), append concurrently to one
 * database. Appends are serialized on the log head row; each enclave checks an RFC 9162
 * consistency proof from its last checkpoint to the head it is handed before it signs. Result:
 * one linear history, every checkpoint pair consistent, entry count == entries committed. And an
 * enclave refuses a head that does not extend its own checkpoint (a fork, a rollback, a foreign
 * key, a wrong proof or frontier). PostgreSQL when TEST_DATABASE_URL is set (real row locks
 * between two pools), PGlite otherwise.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { HANDLERS } from '../../src/enclave/methods/index.js';
import { openPostgres, type Db } from '../../src/host/db/database.js';
import { migrate } from '../../src/host/db/migrate.js';
import { createLogService, type LogService } from '../../src/host/log/log-service.js';
import { createLogStore, type LogStore } from '../../src/host/log/log-store.js';
import { createWitnessJob, parseWitnesses } from '../../src/host/log/witness-client.js';
import { base64ToBytes, bytesToBase64, hexToBytes, utf8 } from '../../src/protocol/encoding.js';
import { parseCheckpoint, verifyCheckpointNote } from '../../src/protocol/log/checkpoint.js';
import { sessionLogSubject, type LogEntry } from '../../src/protocol/log/entry.js';
import { MerkleTree, leafHash, verifyConsistency } from '../../src/protocol/log/merkle.js';
import { parseNote } from '../../src/protocol/log/note.js';
import { logOrigin } from '../../src/protocol/log/origin.js';
import {
  METHODS,
  type MethodName,
  type MethodParams,
  type MethodResult,
} from '../../src/protocol/rpc/methods.js';
import { testEnclave, type TestEnclave } from '../helpers/enclave-state.js';
import { startWitness } from '../helpers/witness.js';
import { createTestDatabase, openTestPglite } from '../helpers/service.js';

const silent = { error() {}, warn() {}, info() {} };
const entry = (): LogEntry => ({
  v: 1,
  type: 'credential.expired',
  subject: sessionLogSubject(randomUUID()),
  time: 1_800_000_000,
});

type Call = <M extends MethodName>(method: M, params: MethodParams<M>) => Promise<MethodResult<M>>;

/** The RPC server's way: params checked by the method table, then the handler. */
function caller(t: TestEnclave): Call {
  return async <M extends MethodName>(method: M, params: MethodParams<M>) => {
    const checked = METHODS[method].params.parse(params) as MethodParams<M>;
    const handler = HANDLERS[method] as (
      s: typeof t.state,
      p: MethodParams<M>,
    ) => MethodResult<M> | Promise<MethodResult<M>>;
    return handler(t.state, checked);
  };
}

describe('transparency log: two writers on one database', () => {
  const pg = Boolean(process.env.TEST_DATABASE_URL);
  let dbs: Db[] = [];
  let drop: (() => Promise<void>) | undefined;
  let a: TestEnclave;
  let b: TestEnclave;
  let logA: LogService;
  let logB: LogService;
  let logKey: { name: string; publicKey: Uint8Array };

  const service = (db: Db, t: TestEnclave, store: LogStore = createLogStore(db)) =>
    createLogService({
      db,
      store,
      enclave: { call: caller(t) },
      logger: silent,
      batchIntervalMs: 2,
      batchMax: 16,
      onDiverged: () => assert.fail('no divergence expected'),
    });

  before(async () => {
    let dbA: Db;
    let dbB: Db;
    if (pg) {
      const created = await createTestDatabase();
      drop = created.drop;
      dbA = await openPostgres(created.url);
      dbB = await openPostgres(created.url);
    } else {
      dbA = await openTestPglite({ migrated: true });
      dbB = dbA;
    }
    dbs = [...new Set([dbA, dbB])];
    await migrate(dbA);
    a = testEnclave();
    b = testEnclave();
    HANDLERS['keyring.generate'](a.state, { policy: 'signer' });
    // Two members of one cluster hold the same keyring (the root forwarded at join).
    Object.assign(b.state, { keyrings: a.state.keyrings });
    b.state.phase = a.state.phase;
    const publicKey = a.state.keyrings.credential.active!.logPublicKey();
    logKey = { name: logOrigin(publicKey), publicKey };
    logA = service(dbA, a);
    logB = service(dbB, b);
    for (const [log, t] of [
      [logA, a],
      [logB, b],
    ] as const) {
      await log.load();
      await log.initEnclave(caller(t));
      assert.ok(log.isReady());
    }
  });
  after(async () => {
    for (const db of dbs) await db.close();
    await drop?.();
  });

  it('concurrent commits through both: one linear history, nothing lost, every checkpoint pair consistent', async () => {
    const ops: Promise<{ indexes: number[] }>[] = [];
    let expected = 0;
    for (let i = 0; i < 60; i++) {
      const n = 1 + (i % 3);
      expected += n;
      const entries = Array.from({ length: n }, entry);
      ops.push((i % 2 === 0 ? logA : logB).commit({ work: async () => ({ result: i, entries }) }));
    }
    const done = await Promise.all(ops);
    const indexes = done.flatMap((d) => d.indexes).sort((x, y) => x - y);
    assert.deepEqual(
      indexes,
      Array.from({ length: expected }, (_, i) => i),
      'every operation got its own leaves, no index twice, none missing',
    );
    const db = dbs[0]!;
    const leaves = (
      await db.query<{ leaf_index: string; entry: string; leaf_hash: string }>(
        'SELECT leaf_index, entry, leaf_hash FROM merkle_logs ORDER BY leaf_index',
      )
    ).rows;
    assert.equal(leaves.length, expected, 'entry count == entries committed');
    const tree = new MerkleTree();
    leaves.forEach((l, i) => {
      assert.equal(Number(l.leaf_index), i);
      assert.deepEqual(leafHash(utf8.encode(l.entry)), hexToBytes(l.leaf_hash));
      tree.append(hexToBytes(l.leaf_hash));
    });
    const checkpoints = (
      await db.query<{ tree_size: string; note: string }>(
        'SELECT tree_size, note FROM log_checkpoints ORDER BY tree_size',
      )
    ).rows.map((r) => {
      const v = verifyCheckpointNote(r.note, logKey);
      assert.ok(v.valid, v.reasons.join('; '));
      return parseCheckpoint(parseNote(r.note).text);
    });
    assert.ok(checkpoints.length > 2, 'several batches from both writers');
    assert.equal(checkpoints.at(-1)!.size, expected);
    for (const cp of checkpoints) assert.deepEqual(cp.rootHash, tree.root(cp.size));
    for (let i = 1; i < checkpoints.length; i++) {
      const [p, q] = [checkpoints[i - 1]!, checkpoints[i]!];
      if (p.size === 0) continue;
      assert.ok(
        verifyConsistency(
          p.size,
          q.size,
          p.rootHash,
          q.rootHash,
          tree.consistencyProof(p.size, q.size),
        ),
        `checkpoint ${p.size} → ${q.size}`,
      );
    }
    // Both writers serve the whole log once they sync.
    await logA.sync();
    await logB.sync();
    assert.equal(logA.latest()!.size, expected);
    assert.equal(logB.latest()!.size, expected);
    assert.equal(logA.latest()!.note, logB.latest()!.note);
  });

  it(
    "a pipelined batch signs over the committed head, with another writer's leaves appended after its previous batch",
    // PostgreSQL only: on PGlite both writers share one connection, and A's batch below waits
    // inside its transaction for a commit of B.
    { skip: !pg },
    async () => {
      const start = logA.latest()!.size;
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let firstStarted = false;
      // A's batch 1: held in its rows until A's batch 2 has been queued behind it.
      const p1 = logA.commit({
        async work() {
          firstStarted = true;
          await gate;
          return { result: 'a1', entries: [entry()] };
        },
      });
      while (!firstStarted) await new Promise((r) => setImmediate(r));
      // A's batch 2 is cut once batch 1 is signed; its rows phase (overlapping batch 1's
      // commit) waits for a commit through B, which needs the head lock after batch 1.
      let fromB: { indexes: number[] } | undefined;
      const p2 = logA.commit({
        async work() {
          fromB = await logB.commit({
            work: async () => ({ result: 'b', entries: [entry()] }),
          });
          return { result: 'a2', entries: [entry()] };
        },
      });
      release();
      const [one, two] = await Promise.all([p1, p2]);
      assert.deepEqual(one.indexes, [start]);
      assert.deepEqual(fromB!.indexes, [start + 1], "B appended between A's two batches");
      assert.deepEqual(two.indexes, [start + 2], "A's second batch extends B's leaf");
      assert.equal(two.checkpoint.size, start + 3);
      assert.equal(bytesToBase64(logA.tree().root(start + 3)), two.checkpoint.rootHash);
      const stored = (
        await dbs[0]!.query<{ tree_size: string; note: string }>(
          'SELECT tree_size, note FROM log_checkpoints WHERE tree_size > $1 ORDER BY tree_size',
          [start],
        )
      ).rows;
      assert.deepEqual(
        stored.map((r) => Number(r.tree_size)),
        [start + 1, start + 2, start + 3],
      );
      assert.equal(stored.at(-1)!.note, two.checkpoint.note);
    },
  );

  it('an enclave refuses a head that does not extend its checkpoint, and keeps its state', async () => {
    const callB = caller(b);
    const state = b.state.log!;
    const before = state.checkpoint();
    const size = state.size;
    // Another log with the same key but its own history (a fork the host tries to pass on).
    const fork = testEnclave();
    Object.assign(fork.state, { keyrings: a.state.keyrings });
    fork.state.phase = a.state.phase;
    const callFork = caller(fork);
    await callFork('log.init', { checkpoint: null, frontier: [] });
    const forkTree = new MerkleTree();
    const es = Array.from({ length: size + 3 }, entry);
    const res = await callFork('log.append', { entries: es });
    for (const h of res.leaf_hashes!) forkTree.append(base64ToBytes(h));
    const forkHead = {
      checkpoint: res.checkpoint,
      frontier: forkTree.compactRange(forkTree.size).map(bytesToBase64),
    };
    const refused = async (head: MethodParams<'log.append'>['head']) =>
      assert.rejects(callB('log.append', { entries: [entry()], head }), {
        code: 'LOG_STATE_INVALID',
      });
    // The fork with the honest proof of its own tree, and with no proof.
    await refused({
      ...forkHead,
      proof: forkTree.consistencyProof(size, forkTree.size).map(bytesToBase64),
    });
    await refused({ ...forkHead, proof: [] });
    // A rollback: B's own earlier checkpoint (size 0 → the empty note) is older than its state.
    const first = (
      await dbs[0]!.query<{ note: string }>('SELECT note FROM log_checkpoints WHERE tree_size = 1')
    ).rows[0];
    if (first) await refused({ checkpoint: first.note, frontier: [], proof: [] });
    // A head signed by another key.
    const other = testEnclave();
    HANDLERS['keyring.generate'](other.state, { policy: 'signer' });
    await caller(other)('log.init', { checkpoint: null, frontier: [] });
    const foreign = await caller(other)('log.append', { entries: es });
    await refused({ checkpoint: foreign.checkpoint, frontier: [], proof: [] });
    assert.equal(state.checkpoint(), before, 'nothing changed in the enclave');
    assert.equal(state.size, size);
  });
  it("a read route's sync that read an older head never moves the served checkpoint back past a commit", async () => {
    // A third member (same keyring), whose plain reads of leaves (a read route's sync, not a
    // batch's read under the head lock) wait at a gate once it is armed.
    const c = testEnclave();
    Object.assign(c.state, { keyrings: a.state.keyrings });
    c.state.phase = a.state.phase;
    const store = createLogStore(dbs[0]!);
    let gate: Promise<void> | null = null;
    let reached!: () => void;
    const atGate = new Promise<void>((r) => (reached = r));
    const logC = service(dbs[0]!, c, {
      ...store,
      async entries(start, end, q) {
        if (!q && gate) {
          reached();
          await gate;
        }
        return store.entries(start, end, q);
      },
    });
    await logC.load();
    await logC.initEnclave(caller(c));
    // Another member appends: the stored head is now past C's.
    await logA.commit({ work: async () => ({ result: 'a', entries: [entry()] }) });
    let release!: () => void;
    gate = new Promise<void>((r) => (release = r));
    // A read route's sync reads that head, then waits for its leaves ...
    const syncing = logC.sync();
    await atGate;
    // ... while C commits a batch of its own over it (its reads under the lock pass the gate).
    const mine = await logC.commit({ work: async () => ({ result: 'c', entries: [entry()] }) });
    assert.equal(logC.latest()!.size, mine.checkpoint.size);
    release();
    await syncing;
    assert.equal(
      logC.latest()!.size,
      mine.checkpoint.size,
      'the checkpoint C serves did not go back to the head its sync read first',
    );
    assert.equal(logC.latest()!.note, mine.checkpoint.note);
  });

  it("a member that has not read the others' appends gets cosignatures, never the rollback warning", async () => {
    // Both members run the witness job. B has read nothing since A appended: its own latest
    // checkpoint is behind the witness's, which is not a rollback (SECURITY.md, second review).
    const witness = await startWitness('witness.test/cluster', () => [logKey]);
    try {
      const warnings: string[] = [];
      const job = (log: LogService) =>
        createWitnessJob({
          witnesses: parseWitnesses(`${witness.vkey} ${witness.url}`),
          log,
          store: createLogStore(dbs[0]!),
          logger: { ...silent, warn: (_o: unknown, msg?: string) => warnings.push(msg ?? '') },
          intervalMs: 3_600_000,
        });
      await logB.sync();
      await logA.commit({ work: async () => ({ result: 'a', entries: [entry(), entry()] }) });
      await job(logA).runOnce();
      const cosigned = witness.state.get(logKey.name)!.size;
      assert.equal(cosigned, logA.latest()!.size);
      assert.ok(logB.latest()!.size < cosigned, 'B is behind');
      await job(logB).runOnce();
      assert.equal(warnings.join('; '), '');
      assert.equal(logB.latest()!.size, cosigned, 'B read the head before it asked the witness');
      // A appends and has it cosigned while B's request is on its way: B's answer is a 409 with
      // a larger size, which the stored log (read again) explains.
      let first = true;
      const racing = createWitnessJob({
        witnesses: parseWitnesses(`${witness.vkey} ${witness.url}`),
        log: logB,
        store: createLogStore(dbs[0]!),
        logger: { ...silent, warn: (_o: unknown, msg?: string) => warnings.push(msg ?? '') },
        intervalMs: 3_600_000,
        fetchImpl: async (url, init) => {
          if (first) {
            first = false;
            await logA.commit({ work: async () => ({ result: 'a', entries: [entry()] }) });
            await job(logA).runOnce();
          }
          return fetch(url, init);
        },
      });
      await logB.commit({ work: async () => ({ result: 'b', entries: [entry()] }) });
      await racing.runOnce();
      assert.ok(witness.state.get(logKey.name)!.size > cosigned);
      assert.equal(warnings.join('; '), '');
    } finally {
      await witness.close();
    }
  });
});
