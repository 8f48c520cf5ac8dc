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
import { openPostgres, type Db, type Queryable } from '../../src/host/db/database.js';
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
import { testEnclave, type TestEnclave } from '../helpers/enclave-state.js';
import { createTestDatabase, openTestPglite } from '../helpers/service.js';

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
  enclave: TestEnclave;
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

interface SetupOptions {
  /** Wraps each batch transaction's handle (to hold a statement back, or watch its outcome). */
  tx?: (tx: Queryable) => Queryable;
  /** Another instance of the same cluster: this one's enclave holds the same keyring. */
  member?: TestEnclave;
}

async function setup(
  batchMax: number,
  open: () => Promise<Db>,
  wrapStore: (s: LogStore) => LogStore = (s) => s,
  options: SetupOptions = {},
): Promise<Setup> {
  const db = await open();
  await migrate(db);
  const t = testEnclave();
  if (options.member) {
    Object.assign(t.state, { keyrings: options.member.state.keyrings });
    t.state.phase = options.member.state.phase;
  } else {
    HANDLERS['keyring.generate'](t.state, { policy: 'signer' });
  }
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
          return fn(counted(options.tx ? options.tx(tx) : tx, seen));
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
    enclave: t,
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
  [
    'PGlite',
    async () => ({ open: () => openTestPglite({ migrated: true }), drop: async () => undefined }),
  ],
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

/** A promise settled from outside: one step of the interleaving below. */
function step(): { done: Promise<void>; pass: () => void } {
  let pass!: () => void;
  const done = new Promise<void>((r) => (pass = r));
  return { done, pass };
}

describe(
  'two instances replaying two envelopes in opposite order (PostgreSQL)',
  { skip: !process.env.TEST_DATABASE_URL && 'needs TEST_DATABASE_URL (row locks between pools)' },
  () => {
    it('the batch PostgreSQL ends in a deadlock runs again: each envelope accepted once, every replay ENVELOPE_REPLAYED', async () => {
      const { url, drop: dropDb } = await createTestDatabase();
      const instances: Setup[] = [];
      try {
        const spent = b64(32);
        const e1 = b64(32);
        const e2 = b64(32);
        // A claims e1 then e2, B claims e2 then e1. Each holds its second claim back until the
        // other's first claim is in: then each waits for the other's row, and PostgreSQL ends
        // one of the two transactions (40P01). Both batches also replay `spent`, so that their
        // first attempt (one statement for every row) fails and they claim one key at a time.
        const order = { A: [e1, e2], B: [e2, e1] } as const;
        const firstAttempt = { A: step(), B: step() };
        const firstClaim = { A: step(), B: step() };
        const deadlocks: string[] = [];
        let armed = false;
        const hold =
          (me: 'A' | 'B', other: 'A' | 'B') =>
          (tx: Queryable): Queryable => ({
            exec: (sql) => tx.exec(sql),
            query: async (sql, params, options) => {
              const keys =
                armed && sql.includes('INSERT INTO spent_envelopes')
                  ? (params![0] as string[])
                  : [];
              // The first attempts one after the other; the claims once both are over.
              if (keys.length === 3 && me === 'B') await firstAttempt.A.done;
              if (keys.length === 1) await Promise.all([firstAttempt.A.done, firstAttempt.B.done]);
              if (keys.length === 1 && keys[0] === order[me][1]) await firstClaim[other].done;
              try {
                return await tx.query(sql, params, options);
              } catch (err) {
                const code = (err as { code?: string }).code;
                if (code === '40P01') deadlocks.push(me);
                throw err;
              } finally {
                if (keys.length === 3) firstAttempt[me].pass();
                if (keys.length === 1 && keys[0] === order[me][0]) firstClaim[me].pass();
              }
            },
          });
        const open = () => openPostgres(url, 4);
        const a = await setup(3, open, undefined, { tx: hold('A', 'B') });
        instances.push(a);
        const b = await setup(3, open, undefined, { tx: hold('B', 'A'), member: a.enclave });
        instances.push(b);
        await Promise.all([a.submit(envelope(spent)), a.submit(envelope()), a.submit(envelope())]);
        armed = true;
        const outcomes = await Promise.allSettled([
          ...[spent, ...order.A].map((k) => a.submit(envelope(k))),
          ...[spent, ...order.B].map((k) => b.submit(envelope(k))),
        ]);
        const codes = outcomes.map((o) =>
          o.status === 'fulfilled' ? 'ok' : (o.reason as { code?: string }).code,
        );
        // At least once: the batch run again may meet the other's rows a second time (seen once
        // in CI, two deadlocks); what holds whatever the count is the outcome below.
        assert.ok(deadlocks.length >= 1, 'PostgreSQL ended one of the two batches');
        // Through A: spent, e1, e2; through B: spent, e2, e1.
        assert.equal(codes[0], 'ENVELOPE_REPLAYED');
        assert.equal(codes[3], 'ENVELOPE_REPLAYED');
        for (const [x, y] of [
          [1, 5],
          [2, 4],
        ] as const) {
          assert.deepEqual([codes[x], codes[y]].sort(), ['ENVELOPE_REPLAYED', 'ok'], `${x}, ${y}`);
        }
        // The 3 earlier submissions and the 2 accepted ones: nothing twice, nothing half-written.
        for (const table of ['sessions', 'credentials', 'merkle_logs', 'spent_envelopes'])
          assert.equal(await a.count(table), 5, table);
      } finally {
        for (const s of instances) await s.close();
        await dropDb();
      }
    });
  },
);
