/**
 * Operator and data at rest: attack review (SECURITY.md). An operator exceeding the role:
 * `POST /operator/roles/revoke` named any account, operator or not, answered its user id and
 * ended every login session of it (with a public `auth.role_revoked` log entry for a role it
 * never had). So an operator could log anyone out at will and look up the user id behind an
 * email (which `operator_readonly` no longer reads). A revocation now needs an account that
 * holds the role; anyone else gets the same 404 `USER_NOT_FOUND` as an unknown email, and
 * nothing is ended or logged.
 *
 * Second review: a grant named an unconfirmed registration (a `pending` account, which anyone
 * makes for any address, with their own password) as it names an account: answered its user
 * id, made it an operator and logged `auth.role_granted`, so an operator learnt that someone had
 * started a registration there, and granted the role to a stranger's row believing it was the
 * address's owner. A grant now needs a confirmed account; a pending one is USER_NOT_FOUND.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestService, type TestService } from '../helpers/service.js';
import { cliSetOperator } from './operator-helper.js';

const PASSWORD = 'revoke-password-0000001';

describe('operator role revocation', () => {
  let ts: TestService;
  const ids: Record<string, string> = {};
  const tokens: Record<string, string> = {};
  const inject = (
    method: 'GET' | 'POST',
    url: string,
    opts: { who?: string; payload?: Record<string, unknown> } = {},
  ) =>
    ts.service.app.inject({
      method,
      url,
      ...(opts.payload ? { payload: opts.payload } : {}),
      headers: opts.who ? { authorization: `Bearer ${tokens[opts.who]}` } : {},
    });
  const login = async (who: string) => {
    const res = await inject('POST', '/auth/login', {
      payload: { email: `${who}@example.com`, password: PASSWORD },
    });
    assert.equal(res.statusCode, 200, res.body);
    tokens[who] = res.json().access_token;
  };
  /** `POST /operator/roles/<action>` as olga (an operator). */
  const byOlga = (action: 'grant' | 'revoke', email: string) =>
    inject('POST', `/operator/roles/${action}`, { who: 'olga', payload: { email } });
  const count = async (sql: string, params: unknown[]) =>
    Number(
      (await ts.service.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${sql}`, params))
        .rows[0]!.n,
    );

  before(async () => {
    ts = await startTestService('pglite', { AUTH_DISABLED_FOR_DEVELOPMENT: 'false' });
    for (const who of ['olga', 'uma', 'otto']) {
      const res = await inject('POST', '/auth/register', {
        payload: { email: `${who}@example.com`, password: PASSWORD },
      });
      assert.equal(res.statusCode, 201, res.body);
      ids[who] = res.json().user_id;
    }
    assert.ok(await cliSetOperator(ts, 'grant', 'olga@example.com'));
    assert.ok(await cliSetOperator(ts, 'grant', 'otto@example.com'));
    for (const who of ['olga', 'uma', 'otto']) await login(who);
  });
  after(async () => ts?.stop());

  it('refuses to revoke the role of an account that does not hold it, as for no account', async () => {
    const uma = await byOlga('revoke', 'uma@example.com');
    const nobody = await byOlga('revoke', 'nobody@example.com');
    assert.equal(uma.statusCode, 404, uma.body);
    assert.equal(nobody.statusCode, 404, nobody.body);
    assert.equal(uma.json().error.code, 'USER_NOT_FOUND');
    assert.equal(uma.json().error.message, nobody.json().error.message);
    // uma is still signed in, and nothing was recorded about her.
    assert.equal(
      await count('auth_sessions WHERE user_id = $1 AND revoked_at IS NULL', [ids.uma]),
      1,
    );
    assert.equal(await count("ops_logs WHERE event_type = 'auth.role_revoked'", []), 0);
  });

  it('npm run operator -- revoke on an account without the role does nothing either', async () => {
    assert.equal(await cliSetOperator(ts, 'revoke', 'uma@example.com'), false);
    assert.equal(
      await count('auth_sessions WHERE user_id = $1 AND revoked_at IS NULL', [ids.uma]),
      1,
    );
    assert.equal(await count("ops_logs WHERE event_type = 'auth.role_revoked'", []), 0);
  });

  it("still revokes an operator's role and ends their sessions", async () => {
    const res = await byOlga('revoke', 'otto@example.com');
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), { user_id: ids.otto });
    assert.equal(
      await count('auth_sessions WHERE user_id = $1 AND revoked_at IS NULL', [ids.otto]),
      0,
    );
  });

  it('grants nothing to an unconfirmed registration, over HTTP or with npm run operator', async () => {
    const { rows } = await ts.service.db.query<{ id: string }>(
      `INSERT INTO users (email, status) VALUES ('squatted@example.com', 'pending') RETURNING id`,
    );
    const pending = rows[0]!.id;
    const res = await byOlga('grant', 'squatted@example.com');
    const nobody = await byOlga('grant', 'nobody@example.com');
    assert.equal(res.statusCode, 404, res.body);
    assert.deepEqual(res.json(), nobody.json());
    assert.equal(await cliSetOperator(ts, 'grant', 'squatted@example.com'), false);
    assert.equal(await count("users WHERE id = $1 AND roles = '{}'", [pending]), 1);
    assert.equal(
      await count("ops_logs WHERE event_type = 'auth.role_granted' AND details->>'userId' = $1", [
        pending,
      ]),
      0,
    );
  });
});
