/**
 * Database round trips of the hot auth paths (issue 17): a password login reads the account,
 * its TOTP secret and its recovery-code MACs in one statement, and stores the session with its
 * first refresh token and its audit event in one more statement (atomic, no transaction); a
 * refresh reads the token, its session, its successor and the account in one statement and
 * rotates in one. Counted by wrapping the service's database handle; statements on tables the
 * auth paths do not touch (background jobs) are left out.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Queryable } from '../../src/host/db/database.js';
import { engines, startTestService, type TestService } from '../helpers/service.js';

const AUTH_TABLES =
  /\b(users|user_passwords|auth_totp|auth_recovery_codes|auth_sessions|refresh_tokens|ops_logs)\b/;

for (const engine of engines())
  describe(`auth round trips (${engine})`, () => {
    let ts: TestService;
    const seen: string[] = [];
    const post = (url: string, payload: Record<string, unknown>) =>
      ts.service.app.inject({ method: 'POST', url, payload });

    before(async () => {
      ts = await startTestService(engine, {
        AUTH_DISABLED_FOR_DEVELOPMENT: 'false',
        AUTH_LOGIN_MAX_PER_IP: '100000',
        AUTH_REGISTER_MAX_PER_IP: '100000',
      });
      const counted = (q: Queryable) => {
        const query = q.query.bind(q);
        q.query = ((sql: string, ...rest: unknown[]) => {
          if (AUTH_TABLES.test(sql)) seen.push(sql.replace(/\s+/g, ' ').trim());
          return (query as (...a: unknown[]) => unknown)(sql, ...rest);
        }) as typeof q.query;
        return q;
      };
      const db = counted(ts.service.db) as Queryable & {
        transaction(fn: (tx: Queryable) => Promise<unknown>): Promise<unknown>;
      };
      const transaction = db.transaction.bind(db);
      db.transaction = (fn) => {
        seen.push('TRANSACTION');
        return transaction((tx) => fn(counted(tx)));
      };
    });
    after(async () => {
      await ts?.stop();
    });

    it('a password login: one lookup, then the session, its refresh token and the event in one statement', async () => {
      const email = 'trips@example.com';
      const password = 'round-trips-password-01';
      assert.equal((await post('/auth/register', { email, password })).statusCode, 201);
      seen.length = 0;
      const login = await post('/auth/login', { email, password });
      assert.equal(login.statusCode, 200, login.body);
      assert.equal(seen.length, 2, seen.join('\n'));
      assert.match(seen[0]!, /FROM users u JOIN user_passwords/);
      assert.match(seen[0]!, /auth_totp/);
      assert.match(seen[0]!, /auth_recovery_codes/);
      // No BEGIN/COMMIT: one statement is atomic on its own.
      assert.match(
        seen[1]!,
        /INSERT INTO auth_sessions .*INSERT INTO ops_logs .*INSERT INTO refresh_tokens/,
      );
      const { rows } = await ts.service.db.query<{ n: string }>(
        `SELECT count(*) AS n FROM ops_logs o JOIN auth_sessions s ON s.user_id::text = o.details->>'userId'
          WHERE o.event_type = 'auth.login_succeeded' AND s.id = $1`,
        [
          JSON.parse(Buffer.from(login.json().access_token.split('.')[1], 'base64url').toString())
            .sid,
        ],
      );
      assert.equal(Number(rows[0]!.n), 1, 'the login event is stored with its session');

      seen.length = 0;
      const refreshed = await post('/auth/refresh', {
        refresh_token: (login.json() as { refresh_token: string }).refresh_token,
      });
      assert.equal(refreshed.statusCode, 200, refreshed.body);
      assert.equal(seen.length, 2, seen.join('\n'));
      assert.match(seen[0]!, /FROM refresh_tokens r JOIN auth_sessions s .* JOIN users u/);
      assert.match(seen[1]!, /UPDATE refresh_tokens .* INSERT INTO refresh_tokens/);
    });
  });
