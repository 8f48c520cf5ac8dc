/**
 * Named statements on PGlite (src/host/db/pglite-statements.ts, issue 17): prepared once on the
 * connection, the same rows and errors as PGlite's own `query`, and the same isolation: a named
 * statement outside a transaction never runs inside another caller's open transaction.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openPglite, type Db } from '../../src/host/db/database.js';

const SELECT = `SELECT id, n, at, doc, tags, note FROM t WHERE id = ANY($1::uuid[]) ORDER BY n`;
const INSERT = `INSERT INTO t (id, n, at, doc, tags, note) VALUES ($1, $2, to_timestamp($3), $4::jsonb, $5::text[], $6)`;

describe('PGlite named statements', () => {
  let db: Db;
  const ids = ['0b6a1e0e-8f7e-4a39-9c51-7f0f6f9d8a01', '0b6a1e0e-8f7e-4a39-9c51-7f0f6f9d8a02'];

  before(async () => {
    db = await openPglite(null);
    await db.exec(`CREATE TABLE t (id uuid PRIMARY KEY, n int8 NOT NULL, at timestamptz NOT NULL,
                     doc jsonb NOT NULL, tags text[] NOT NULL, note text)`);
    await db.query(INSERT, [ids[0], 7, 1_700_000_000, '{"a":[1,"x"]}', ['p', 'q,r'], null], {
      name: 't_insert',
    });
    await db.query(INSERT, [ids[1], 8, 1_700_000_001.5, '{"b":null}', [], 'n\u00e9e'], {
      name: 't_insert',
    });
  });
  after(() => db.close());

  const prepared = async () =>
    (
      await db.query<{ name: string }>('SELECT name FROM pg_prepared_statements ORDER BY name')
    ).rows.map((r) => r.name);

  it('is prepared once on the connection and reads back what an unnamed query reads', async () => {
    const plain = await db.query(SELECT, [ids]);
    for (let i = 0; i < 3; i++) {
      const viaName = await db.query(SELECT, [ids], { name: 't_select' });
      assert.deepEqual(viaName.rows, plain.rows);
    }
    assert.equal(plain.rows.length, 2);
    const [a, b] = plain.rows as Record<string, unknown>[];
    assert.deepEqual(a, {
      id: ids[0],
      n: 7,
      at: new Date(1_700_000_000_000),
      doc: { a: [1, 'x'] },
      tags: ['p', 'q,r'],
      note: null,
    });
    assert.equal(b!.note, 'n\u00e9e');
    assert.deepEqual(b!.tags, []);
    assert.deepEqual(await prepared(), ['t_insert', 't_select']);
  });

  it('does not run inside another caller’s open transaction', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let inside!: () => void;
    const opened = new Promise<void>((r) => (inside = r));
    const tx = db
      .transaction(async (q) => {
        await q.query(INSERT, [ids[0].replace(/01$/, '10'), 10, 0, '{}', [], null]);
        inside();
        await gate;
        throw new Error('roll back');
      })
      .catch((e: Error) => e.message);
    await opened;
    const outside = db.query(INSERT, [ids[0].replace(/01$/, '11'), 11, 0, '{}', [], null], {
      name: 't_insert',
    });
    // Had it run on the connection now, it would be part of the transaction rolled back below.
    await new Promise((r) => setTimeout(r, 20));
    release();
    assert.equal(await tx, 'roll back');
    await outside;
    const { rows } = await db.query<{ n: number }>('SELECT n FROM t WHERE n >= 10 ORDER BY n');
    assert.deepEqual(
      rows.map((r) => r.n),
      [11],
    );
  });

  it('runs inside its own transaction, and rolls back with it', async () => {
    const id = ids[0].replace(/01$/, '20');
    await db
      .transaction(async (q) => {
        await q.query(INSERT, [id, 20, 0, '{}', [], null], { name: 't_insert' });
        const { rows } = await q.query(SELECT, [[id]], { name: 't_select' });
        assert.equal(rows.length, 1);
        throw new Error('undo');
      })
      .catch(() => undefined);
    assert.equal((await db.query(SELECT, [[id]], { name: 't_select' })).rows.length, 0);
  });

  it('keeps PostgreSQL’s error codes, and the connection keeps serving', async () => {
    await assert.rejects(
      db.query(INSERT, [ids[0], 1, 0, '{}', [], null], { name: 't_insert' }),
      (e: { code?: string }) => e.code === '23505',
    );
    await assert.rejects(
      db.transaction(async (q) => {
        await q.query(INSERT, [ids[1], 1, 0, '{}', [], null], { name: 't_insert' });
      }),
      (e: { code?: string }) => e.code === '23505',
    );
    assert.equal((await db.query(SELECT, [ids], { name: 't_select' })).rows.length, 2);
  });

  it('refuses one name for two texts', async () => {
    await assert.rejects(
      db.query('SELECT 1 AS one', [], { name: 't_select' }),
      /statement name t_select used for two texts/,
    );
  });

  it('prepares again a statement the session lost', async () => {
    await db.exec('DEALLOCATE t_select');
    assert.deepEqual(await prepared(), ['t_insert']);
    assert.equal((await db.query(SELECT, [ids], { name: 't_select' })).rows.length, 2);
    assert.deepEqual(await prepared(), ['t_insert', 't_select']);
  });
});
