/**
 * Migrations are applied in order and once (SECURITY.md, "Operator and data at rest: attack
 * review"). A migration whose number sorts before one already applied (a file added in a gap,
 * such as the unused 017, or renumbered) would run after its successors on an existing database
 * but before them on a fresh one: two deployments of one build with different schemas (grants
 * included). `npm run migrate` and the start-up check refuse it instead, naming both versions.
 * An applied migration whose text changed is refused as before.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { openPglite, type Db } from '../../src/host/db/database.js';
import { checkSchema, migrate, type Migration } from '../../src/host/db/migrate.js';
import { StartupError } from '../../src/host/startup-error.js';

function m(version: string, sql: string): Migration {
  return { version, sql, checksum: createHash('sha256').update(sql).digest('hex') };
}

const first = m('001_a', 'CREATE TABLE t_a (x int)');
const third = m('003_c', 'CREATE TABLE t_c (x int)');
const gap = m('002_b', 'CREATE TABLE t_b (x int)');

describe('migration order', () => {
  let db: Db;
  before(async () => {
    db = await openPglite(null);
    assert.deepEqual(await migrate(db, [first, third]), ['001_a', '003_c']);
  });
  after(async () => db?.close());

  it('refuses to apply a migration numbered before one already applied', async () => {
    await assert.rejects(
      migrate(db, [first, gap, third]),
      (err: unknown) =>
        err instanceof StartupError &&
        err.exitCode === 78 &&
        /002_b/.test(err.message) &&
        /003_c/.test(err.message),
    );
    const { rows } = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM information_schema.tables WHERE table_name = 't_b'",
    );
    assert.equal(Number(rows[0]!.n), 0, 'the out-of-order migration did not run');
  });

  it('the start-up check refuses the same schema', async () => {
    await assert.rejects(
      checkSchema(db, [first, gap, third]),
      (err: unknown) => err instanceof StartupError && /002_b/.test(err.message),
    );
  });

  it('still applies new migrations after the newest, and replays none', async () => {
    const fourth = m('004_d', 'CREATE TABLE t_d (x int)');
    assert.deepEqual(await migrate(db, [first, third, fourth]), ['004_d']);
    assert.deepEqual(await migrate(db, [first, third, fourth]), []);
    await checkSchema(db, [first, third, fourth]);
  });
});
