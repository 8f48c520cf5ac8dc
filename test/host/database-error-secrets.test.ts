/**
 * Operator and data at rest: attack review (SECURITY.md). A start, `npm run migrate` or
 * `npm run operator` that cannot reach or log in to PostgreSQL prints one line naming the cause
 * and the variable: never DATABASE_URL itself, whose password would land in the terminal, the
 * service manager's journal or a CI log.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openDatabaseFor } from '../../src/host/db/database.js';
import { StartupError } from '../../src/host/startup-error.js';

const PASSWORD = 'pw-planted-4242-secret';

describe('database start-up errors', () => {
  it('an unreachable server is named without the URL or its password', async () => {
    // Port 1: refused at once on loopback.
    const url = `postgres://cloister_app:${PASSWORD}@127.0.0.1:1/cloister`;
    await assert.rejects(openDatabaseFor({ databaseUrl: url, dataDir: '/nonexistent' }), (err) => {
      assert.ok(err instanceof StartupError);
      assert.match(err.message, /DATABASE_URL/);
      assert.ok(!err.message.includes(PASSWORD));
      assert.ok(!err.message.includes('127.0.0.1:1'));
      return true;
    });
  });

  it(
    'a refused login is named without the password',
    { skip: !process.env.TEST_DATABASE_URL },
    async () => {
      const url = new URL(process.env.TEST_DATABASE_URL!);
      url.username = 'no_such_login_x';
      url.password = PASSWORD;
      await assert.rejects(
        openDatabaseFor({ databaseUrl: url.toString(), dataDir: '/nonexistent' }),
        (err) => {
          assert.ok(err instanceof StartupError);
          assert.ok(!err.message.includes(PASSWORD));
          return true;
        },
      );
    },
  );
});
