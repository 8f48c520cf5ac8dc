/**
 * The batch's leaves + checkpoint statement (`insertLeavesWithCheckpoint`): each column goes as
 * one text that the database splits (string_to_array), not as an array literal. What must hold:
 * every leaf is stored exactly as given (entry text to the byte, whatever it escapes, with its
 * own subject, event type, hash and index), and a value the split would not give back one for
 * one (an empty one, one holding the separator) or leaves that are not consecutive are refused
 * before anything is written. On PGlite and, with TEST_DATABASE_URL, on PostgreSQL.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { openPostgres, type Db } from '../../src/host/db/database.js';
import { migrate } from '../../src/host/db/migrate.js';
import { jcs } from '../../src/protocol/jcs.js';
import { createLogStore, type StoredLeafRow } from '../../src/host/log/log-store.js';
import { createTestDatabase, openTestPglite } from '../helpers/service.js';

const engines: [string, () => Promise<{ db: Db; drop: () => Promise<void> }>][] = [
  [
    'PGlite',
    async () => ({ db: await openTestPglite({ migrated: true }), drop: async () => undefined }),
  ],
];
if (process.env.TEST_DATABASE_URL) {
  engines.push([
    'PostgreSQL',
    async () => {
      const t = await createTestDatabase();
      return { db: await openPostgres(t.url, 2), drop: t.drop };
    },
  ]);
}

const checkpoint = (size: number) => ({
  size,
  rootHash: randomBytes(32).toString('base64'),
  note: `note ${size}`,
});

/** Canonical JSON texts with everything JSON escapes or carries as is. */
const TEXTS = [
  jcs({ v: 1, type: 'session.revoked', subject: 'a', time: 1 }),
  jcs({ a: 'quote " backslash \\ slash / comma , brace { } }', b: [1, 2, { c: null }] }),
  jcs({ ctl: '\u0000\u0001\b\f\n\r\t\u001f', del: '\u007f', ls: '\u2028\u2029' }),
  jcs({ uni: 'é 日本 😀 \uFFFD', num: [-0, 1e21, 5e-324, 0.1] }),
  jcs({ empty: '', nested: { '': { ',': '\n' } } }),
  '{}',
];

for (const [engine, make] of engines) {
  describe(`log store: a batch's leaves and checkpoint (${engine})`, () => {
    let db: Db;
    let drop: () => Promise<void>;
    before(async () => {
      ({ db, drop } = await make());
      await migrate(db);
    });
    after(async () => {
      await db.close();
      await drop();
    });

    const rows = (first: number, texts: readonly string[]): StoredLeafRow[] =>
      texts.map((entry, i) => ({
        index: first + i,
        entry,
        leafHash: createHash('sha256').update(entry).digest('hex'),
        subject: `s-${first + i}_${i % 2 ? 'X' : 'y'}`,
        eventType: i % 2 ? 'session.revoked' : 'credential.submitted',
      }));

    it('stores every leaf exactly as given, one row each, and the checkpoint', async () => {
      const store = createLogStore(db);
      const many = Array.from({ length: 700 }, (_, i) => TEXTS[i % TEXTS.length]!);
      for (const [first, texts] of [
        [0, TEXTS],
        [TEXTS.length, many],
        [TEXTS.length + many.length, ['{"one":1}']],
      ] as const) {
        const leaves = rows(first, texts);
        await db.transaction((tx) =>
          store.insertLeavesWithCheckpoint(tx, leaves, checkpoint(first + texts.length)),
        );
        const stored = await store.entries(first, first + texts.length);
        assert.deepEqual(
          stored,
          leaves.map((l) => ({ index: l.index, entry: l.entry, leafHash: l.leafHash })),
        );
        const { rows: extra } = await db.query<{ subject: string; event_type: string }>(
          'SELECT subject, event_type FROM merkle_logs WHERE leaf_index >= $1 ORDER BY leaf_index',
          [first],
        );
        assert.deepEqual(
          extra.map((r) => [r.subject, r.event_type]),
          leaves.map((l) => [l.subject, l.eventType]),
        );
        assert.equal((await store.latestCheckpoint())?.size, first + texts.length);
      }
    });

    it('refuses values the split would not give back, and gaps, before writing anything', async () => {
      const store = createLogStore(db);
      const head = (await store.latestCheckpoint())!.size;
      const good = rows(head, ['{"a":1}', '{"b":2}']);
      const bad: StoredLeafRow[][] = [
        [{ ...good[0]!, entry: '{"a":\n1}' }, good[1]!],
        [good[0]!, { ...good[1]!, subject: 'a,b' }],
        [{ ...good[0]!, subject: '' }],
        [{ ...good[0]!, eventType: 'x,y' }, good[1]!],
        [good[0]!, { ...good[1]!, leafHash: `${good[1]!.leafHash},` }],
        [good[0]!, { ...good[1]!, index: head + 2 }],
      ];
      for (const leaves of bad) {
        await assert.rejects(
          db.transaction((tx) =>
            store.insertLeavesWithCheckpoint(tx, leaves, checkpoint(head + leaves.length)),
          ),
          RangeError,
        );
      }
      assert.equal((await store.latestCheckpoint())!.size, head);
      assert.deepEqual(await store.entries(head, head + 10), []);
    });
  });
}
