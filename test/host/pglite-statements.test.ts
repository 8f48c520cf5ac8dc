/**
 * Named statements on PGlite (src/host/db/pglite-statements.ts, issue 17): prepared once on the
 * connection, the same rows and errors as PGlite's own `query`, and the same isolation: a named
 * statement outside a transaction never runs inside another caller's open transaction.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Db, Queryable } from '../../src/host/db/database.js';
import { openTestPglite } from '../helpers/service.js';

const SELECT = `SELECT id, n, at, doc, tags, note FROM t WHERE id = ANY($1::uuid[]) ORDER BY n`;
const INSERT = `INSERT INTO t (id, n, at, doc, tags, note) VALUES ($1, $2, to_timestamp($3), $4::jsonb, $5::text[], $6)`;

describe('PGlite named statements', () => {
  let db: Db;
  const ids = ['0b6a1e0e-8f7e-4a39-9c51-7f0f6f9d8a01', '0b6a1e0e-8f7e-4a39-9c51-7f0f6f9d8a02'];

  before(async () => {
    db = await openTestPglite();
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

  it('binds every kind of value as an unnamed query does (arrays, bytea, int8, jsonb, nulls)', async () => {
    await db.exec(`CREATE TABLE v (k int PRIMARY KEY, n int8, b boolean, by bytea, d timestamptz,
                     j jsonb, tx text[], u uuid[], f float8[], note text)`);
    const sql = `INSERT INTO v (k, n, b, by, d, j, tx, u, f, note)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *`;
    // Strings that would break out of an array literal if a quote, comma, brace or backslash
    // were not escaped.
    const nasty = ['a"b', 'c,d', '{e}', 'f\\g', 'NULL', 'null', '', ' s ', 'x\\"},{"y', "q'q"];
    const cases: unknown[][] = [
      [
        7,
        new Uint8Array([0, 1, 255]),
        true,
        new Date(1_700_000_000_123),
        { a: [1, 'x"y'], b: null },
      ],
      [9_007_199_254_740_993n, new Uint8Array([]), false, '2020-01-01T00:00:00Z', '{"s":1}'],
      ['12', null, 't', 1_700_000_000_000, [1, 2]],
    ].map(([n, by, b, d, j], k) => [
      k,
      n,
      b,
      by,
      d,
      j,
      k === 0 ? nasty : [null, 'x', undefined],
      k === 2 ? null : [ids[0]],
      k === 0 ? [1.5, NaN, Infinity, -0, 1e300] : k === 1 ? [] : [null],
      k === 1 ? undefined : 'n\u00e9e',
    ]);
    for (const values of cases) {
      const plain = (await db.query(sql, values)).rows;
      await db.exec('DELETE FROM v');
      const named = (await db.query(sql, values, { name: 'v_insert' })).rows;
      await db.exec('DELETE FROM v');
      assert.deepEqual(named, plain);
    }
    const [first] = (await db.query<{ tx: string[] }>(sql, cases[0], { name: 'v_insert' })).rows;
    assert.deepEqual(first!.tx, nasty);
  });

  it('keeps a statement prepared in a savepoint or transaction that rolled back', async () => {
    const sql = 'SELECT $1::int + 1 AS n';
    await db
      .transaction(async (q) => {
        await q.query('SAVEPOINT log_op');
        assert.deepEqual((await q.query(sql, [1], { name: 't_plus' })).rows, [{ n: 2 }]);
        await q.query('ROLLBACK TO SAVEPOINT log_op');
        assert.deepEqual((await q.query(sql, [2], { name: 't_plus' })).rows, [{ n: 3 }]);
        throw new Error('undo');
      })
      .catch(() => undefined);
    assert.ok((await prepared()).includes('t_plus'));
    assert.deepEqual((await db.query(sql, [3], { name: 't_plus' })).rows, [{ n: 4 }]);
  });

  it('refuses a transaction’s handle once that transaction is over, as PGlite does', async () => {
    let leaked!: Queryable;
    await db.transaction(async (q) => {
      leaked = q;
    });
    const id = ids[0].replace(/01$/, '30');
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let inside!: () => void;
    const opened = new Promise<void>((r) => (inside = r));
    // Another caller's transaction is open when the stale handle is used.
    const other = db
      .transaction(async () => {
        inside();
        await gate;
        throw new Error('roll back');
      })
      .catch((e: Error) => e.message);
    await opened;
    await assert.rejects(leaked.query(SELECT, [[id]]), /Transaction is closed/);
    const stale = leaked.query(INSERT, [id, 30, 0, '{}', [], null], { name: 't_insert' });
    const settled = stale.then(
      () => 'ran',
      (e: Error) => e.message,
    );
    release();
    assert.equal(await other, 'roll back');
    // Had it run, it would have run inside the other caller's transaction (and rolled back
    // with it, after being acknowledged).
    assert.equal(await settled, 'Transaction is closed');
    assert.equal((await db.query(SELECT, [[id]], { name: 't_select' })).rows.length, 0);
  });

  it('prepares again a statement the session lost', async () => {
    await db.exec('DEALLOCATE t_select');
    assert.ok(!(await prepared()).includes('t_select'));
    assert.equal((await db.query(SELECT, [ids], { name: 't_select' })).rows.length, 2);
    assert.ok((await prepared()).includes('t_select'));
  });
});

describe('PGlite named statements while the database closes', () => {
  it('refuses to run once close() has begun, instead of running unanswered', async () => {
    const db = await openTestPglite();
    await db.exec('CREATE TABLE c (n int PRIMARY KEY)');
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let inside!: () => void;
    const opened = new Promise<void>((r) => (inside = r));
    const tx = db.transaction(async () => {
      inside();
      await gate;
    });
    await opened;
    const closed = db.close();
    await new Promise((r) => setImmediate(r)); // close() waits for the transaction
    // Issued after close(): without the check it ran during the teardown, its answer lost
    // (no rows, no error), while the row was written.
    const late = db
      .query<{ n: number }>('INSERT INTO c VALUES (1) RETURNING n', [], { name: 'c_insert' })
      .then(
        (r) => `ran: ${JSON.stringify(r.rows)}`,
        (e: Error) => e.message,
      );
    release();
    await tx;
    await closed;
    assert.match(await late, /PGlite is clos(ing|ed)/);
  });
});
