/**
 * Submissions inside a log batch (issue 17): the rows of every submission in a batch (spent
 * envelopes, sessions, credentials, ops events) are written by ONE statement, and the leaves with
 * their checkpoint by one more, so the statements a batch sends do not depend on how many
 * submissions it holds; between them one statement locks the log head and reads it. The replay check stays exact: a sender key already spent (by an earlier submission, or
 * twice in the same batch) fails that submission alone with ENVELOPE_REPLAYED, and the others
 * commit. A batch whose store fails leaves no row of any submission behind.
 *
 * The real credential service, log service, repositories and log handlers (in process) on a
 * real database (PGlite; PostgreSQL as well with TEST_DATABASE_URL); only `credential.submit`
 * is answered by the test (its envelope opening is tested in test/enclave).
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { afterEach, describe, it } from 'node:test';
import { HANDLERS } from '../../src/enclave/methods/index.js';
import { openPglite, openPostgres, type Db, type Queryable } from '../../src/host/db/database.js';
import { migrate } from '../../src/host/db/migrate.js';
import { createSessionRepository } from '../../src/host/db/repositories/sessions.js';
import { createLogService } from '../../src/host/log/log-service.js';
import { createLogStore, type LogStore } from '../../src/host/log/log-store.js';
import { createOpsLog } from '../../src/host/ops-events.js';
import { createCredentialService } from '../../src/host/services/credential-service.js';
import type { CredentialEnvelope } from '../../src/protocol/envelope/registry.js';
import {
  METHODS,
  type MethodName,
  type MethodParams,
  type MethodResult,
} from '../../src/protocol/rpc/methods.js';
import { testEnclave } from '../helpers/enclave-state.js';
import { createTestDatabase } from '../helpers/service.js';

const silent = { error() {}, warn() {}, info() {} };
const b64 = (n: number) => randomBytes(n).toString('base64');
const META = { exchange: 'binance', label: 'main', ttl: 3600 } as const;
const KEY_ID = 'k'.repeat(43);
const ALG = 'HPKE-Base-X25519-SHA256-A128GCM';

/** An envelope whose sender key is `enc` (the replay key). */
const envelope = (enc = b64(32)): CredentialEnvelope => ({
  alg: ALG,
  enc,
  ciphertext: b64(64),
  key_id: KEY_ID,
});

interface Setup {
  db: Db;
  submit: (env: CredentialEnvelope) => Promise<unknown>;
  /** Statements sent inside each log batch transaction, in order (first words of the text). */
  batches: string[][];
  count: (table: string) => Promise<number>;
  close: () => Promise<void>;
}

/**
 * What a statement writes, for counting: "INSERT spent_envelopes+sessions" for a statement that
 * inserts into both; its first words for anything else.
 */
function label(sql: string): string {
  const s = sql.replace(/\s+/g, ' ').trim();
  const tables = [...s.matchAll(/INSERT INTO (\w+)/g)].map((m) => m[1]);
  return tables.length > 0 ? `INSERT ${tables.join('+')}` : s.slice(0, 40);
}

async function setup(
  batchMax: number,
  open: () => Promise<Db>,
  wrapStore: (s: LogStore) => LogStore = (s) => s,
): Promise<Setup> {
  const db = await open();
  await migrate(db);
  const t = testEnclave();
  HANDLERS['keyring.generate'](t.state, { policy: 'signer' });
  const call = async <M extends MethodName>(
    method: M,
    params: MethodParams<M>,
  ): Promise<MethodResult<M>> => {
    const checked = METHODS[method].params.parse(params) as MethodParams<M>;
    if (method === 'credential.submit') {
      const env = (checked as MethodParams<'credential.submit'>).envelope as { enc: string };
      const now = Math.floor(Date.now() / 1000);
      return METHODS['credential.submit'].result.parse({
        session_id: randomUUID(),
        alg: ALG,
        key_id: KEY_ID,
        sender_key: env.enc,
        envelope_digest: randomBytes(32).toString('hex'),
        created_at: now,
        expires_at: now + META.ttl,
        binding: b64(32),
      }) as MethodResult<M>;
    }
    const handler = HANDLERS[method] as (
      state: typeof t.state,
      params: MethodParams<M>,
    ) => MethodResult<M> | Promise<MethodResult<M>>;
    return handler(t.state, checked);
  };
  const batches: string[][] = [];
  const counted = (tx: Queryable, seen: string[]): Queryable => ({
    query: (sql, params, options) => {
      seen.push(label(sql));
      return tx.query(sql, params, options);
    },
    exec: (sql) => {
      seen.push(label(sql));
      return tx.exec(sql);
    },
  });
  const log = createLogService({
    db: {
      transaction: (fn) =>
        db.transaction((tx) => {
          const seen: string[] = [];
          batches.push(seen);
          return fn(counted(tx, seen));
        }),
    },
    store: wrapStore(createLogStore(db)),
    enclave: { call },
    logger: silent,
    // A batch starts when batchMax submissions wait (the timer never fires first).
    batchIntervalMs: 60_000,
    batchMax,
    onDiverged: () => undefined,
  });
  await log.load();
  await log.initEnclave(call);
  batches.length = 0;
  const credentials = createCredentialService({
    enclave: { call } as never,
    sessions: createSessionRepository(db),
    ops: createOpsLog({ info: () => undefined }),
    log,
    sweepNow: async () => undefined,
  });
  return {
    db,
    submit: (env) => credentials.submit(env, META),
    batches,
    count: async (table) =>
      Number((await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n),
    close: async () => {
      await log.drain();
      await db.close();
    },
  };
}

const engines: [string, () => Promise<{ open: () => Promise<Db>; drop: () => Promise<void> }>][] = [
  ['PGlite', async () => ({ open: () => openPglite(null), drop: async () => undefined })],
];
if (process.env.TEST_DATABASE_URL) {
  engines.push([
    'PostgreSQL',
    async () => {
      const t = await createTestDatabase();
      return { open: () => openPostgres(t.url, 4), drop: t.drop };
    },
  ]);
}

for (const [engine, make] of engines) {
  describe(`submissions in one log batch (${engine})`, () => {
    let s: Setup | null = null;
    let drop: () => Promise<void> = async () => undefined;
    const start = async (batchMax: number, wrapStore?: (s: LogStore) => LogStore) => {
      const e = await make();
      drop = e.drop;
      s = await setup(batchMax, e.open, wrapStore);
      return s;
    };
    afterEach(async () => {
      await s?.close();
      s = null;
      await drop();
    });

    it('one statement for every row of the batch, one for its leaves, whatever its size', async () => {
      const one = await start(1);
      await one.submit(envelope());
      assert.equal(one.batches.length, 1);
      const single = one.batches[0]!;
      await s!.close();
      s = null;
      await drop();

      const many = await start(24);
      await Promise.all(Array.from({ length: 24 }, () => many.submit(envelope())));
      assert.equal(many.batches.length, 1, 'the 24 submissions share one batch');
      const batch = many.batches[0]!;
      // Every row of the 24 submissions in one statement; leaves and checkpoint in another.
      assert.deepEqual(
        batch.filter((x) => x.startsWith('INSERT')),
        [
          'INSERT spent_envelopes+sessions+credentials+ops_logs',
          'INSERT merkle_logs+log_checkpoints',
        ],
      );
      assert.deepEqual(batch, single, 'the same statements for 1 and for 24 submissions');
      // Between them, the head lock and the head read in one round trip (migration 022).
      assert.deepEqual(batch, [
        'INSERT spent_envelopes+sessions+credentials+ops_logs',
        'SELECT tree_size, root_hash, note FROM l',
        'INSERT merkle_logs+log_checkpoints',
      ]);
      assert.equal(await many.count('spent_envelopes'), 24);
      assert.equal(await many.count('sessions'), 24);
      assert.equal(await many.count('credentials'), 24);
      assert.equal(await many.count('merkle_logs'), 24);
    });

    it('a sender key already spent, or twice in the batch, fails that submission alone', async () => {
      const t = await start(8);
      const spent = b64(32);
      // An earlier batch spends `spent` (with 7 others).
      await Promise.all([
        t.submit(envelope(spent)),
        ...Array.from({ length: 7 }, () => t.submit(envelope())),
      ]);
      const twice = b64(32);
      const outcomes = await Promise.allSettled([
        t.submit(envelope(spent)),
        t.submit(envelope(twice)),
        t.submit(envelope(twice)),
        ...Array.from({ length: 5 }, () => t.submit(envelope())),
      ]);
      const codes = outcomes.map((o) =>
        o.status === 'fulfilled' ? 'ok' : (o.reason as { code?: string }).code,
      );
      assert.equal(codes[0], 'ENVELOPE_REPLAYED');
      assert.deepEqual(
        [codes[1], codes[2]].sort(),
        ['ENVELOPE_REPLAYED', 'ok'],
        'one of the two with the same key',
      );
      assert.deepEqual(codes.slice(3), Array(5).fill('ok'));
      // 8 + 6 accepted: each with its session, credential, leaf; 8 + 6 keys spent.
      for (const table of ['sessions', 'credentials', 'merkle_logs', 'spent_envelopes'])
        assert.equal(await t.count(table), 14, table);
    });

    it('a batch whose leaves cannot be stored leaves no row of any submission', async () => {
      let fail = false;
      const t = await start(6, (store) => ({
        ...store,
        insertLeavesWithCheckpoint: async (q, leaves, cp) => {
          if (fail) throw new Error('disk full');
          return store.insertLeavesWithCheckpoint(q, leaves, cp);
        },
      }));
      await Promise.all(Array.from({ length: 6 }, () => t.submit(envelope())));
      fail = true;
      const outcomes = await Promise.allSettled(
        Array.from({ length: 6 }, () => t.submit(envelope())),
      );
      for (const o of outcomes) {
        assert.equal(o.status, 'rejected');
        assert.equal((o.reason as { code?: string }).code, 'LOG_UNAVAILABLE');
      }
      for (const table of ['sessions', 'credentials', 'ops_logs', 'merkle_logs', 'spent_envelopes'])
        assert.equal(await t.count(table), 6, table);
    });
  });
}
