/**
 * Account recovery (docs/protocol/auth.md "Account recovery"), end to end through the service
 * and the enclave, with the mail the enclave renders (simulated platform, no SMTP_URL: written
 * under DATA_DIR/mail/). An account without a second factor is reset at once. With TOTP:
 * the recovery waits for the enclave's unlock time; completing it early is refused; another
 * session of the account sees it and cancels it; a host that edits `unlock_at` in the database
 * is refused by the enclave's MAC (which covers the sealed password too); with the wait over, completion
 * sets the new password, removes TOTP and ends every session. No code or password is in any
 * table or log line.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TOTP, URI } from 'otpauth';
import pg from 'pg';
import { dumpPublicSchema } from '../helpers/security-util.js';
import { mailedCode } from '../helpers/mail.js';
import { startTestService, type TestService } from '../helpers/service.js';

type Method = 'GET' | 'POST' | 'DELETE';

function client(ts: () => TestService) {
  const call = (method: Method, url: string, token?: string, payload?: object) =>
    ts().service.app.inject({
      method,
      url,
      ...(payload ? { payload: payload as Record<string, unknown> } : {}),
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
  /** The code of the newest recovery mail for `email` (the answer comes before the mail). */
  const recoveryCode = (email: string) =>
    mailedCode(ts().dataDir, /account recovery code is (\d{6})/, email);
  /** Register, log in, enrol and confirm TOTP: the account has a second factor. */
  const withTotp = async (email: string, password: string) => {
    assert.equal(
      (await call('POST', '/auth/register', undefined, { email, password })).statusCode,
      201,
    );
    const token = (await call('POST', '/auth/login', undefined, { email, password })).json()
      .access_token as string;
    const enrol = await call('POST', '/auth/totp/enroll', token, {});
    assert.equal(enrol.statusCode, 201, enrol.body);
    const totp = URI.parse(enrol.json().otpauth_uri) as TOTP;
    const ok = await call('POST', '/auth/totp/confirm', token, { code: totp.generate() });
    assert.equal(ok.statusCode, 200, ok.body);
    return { token, totp };
  };
  const confirm = async (email: string, password: string) => {
    assert.equal(
      (await call('POST', '/auth/recovery/start', undefined, { email })).statusCode,
      202,
    );
    return call('POST', '/auth/recovery/confirm', undefined, {
      email,
      code: await recoveryCode(email),
      password,
    });
  };
  return { call, recoveryCode, withTotp, confirm };
}

const NEW_PASSWORD = 'recovered passphrase 7Q2x';

describe('account recovery with a time-lock', () => {
  let ts: TestService;
  const { call, withTotp, confirm } = client(() => ts);
  let codesSeen: string[] = [];

  before(async () => {
    ts = await startTestService('pglite', {
      AUTH_LOGIN_MAX_PER_IP: '100000',
      AUTH_REGISTER_MAX_PER_IP: '100000',
    });
  });
  after(async () => ts?.stop());

  it('an account without a second factor is reset at once; a stranger gets no mail', async () => {
    const email = 'plain@example.com';
    await call('POST', '/auth/register', undefined, { email, password: 'a long enough password' });
    const stranger = await call('POST', '/auth/recovery/start', undefined, {
      email: 'nobody@example.com',
    });
    assert.equal(stranger.statusCode, 202);
    const r = await confirm(email, NEW_PASSWORD);
    assert.equal(r.statusCode, 200, r.body);
    assert.deepEqual(r.json(), { status: 'reset' });
    const login = await call('POST', '/auth/login', undefined, { email, password: NEW_PASSWORD });
    assert.equal(login.statusCode, 200);
    assert.ok(
      !readdirSync(join(ts.dataDir, 'mail')).some((f) =>
        readFileSync(join(ts.dataDir, 'mail', f), 'utf8').includes('nobody@example.com'),
      ),
    );
  });

  it('with TOTP: pending until the unlock time; early completion refused; another session cancels', async () => {
    const email = 'locked@example.com';
    const { totp } = await withTotp(email, 'a long enough password');
    const r = await confirm(email, NEW_PASSWORD);
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(r.json().status, 'pending');
    const unlockAt = Date.parse(r.json().unlock_at);
    assert.ok(unlockAt > Date.now() + 3600_000, 'the default delay is a day');
    const completion = { email, completion_code: r.json().completion_code as string };
    assert.match(completion.completion_code, /^[A-Za-z0-9_-]{22}$/);
    const early = await call('POST', '/auth/recovery/complete', undefined, completion);
    assert.equal(early.statusCode, 409);
    assert.equal(early.json().error.code, 'AUTH_RECOVERY_LOCKED');
    // The new password does not work yet; the old one (with TOTP) does.
    const newPw = await call('POST', '/auth/login', undefined, { email, password: NEW_PASSWORD });
    assert.equal(newPw.statusCode, 401);
    const other = await call('POST', '/auth/login', undefined, {
      email,
      password: 'a long enough password',
      totp_code: totp.generate({ timestamp: Date.now() + 30_000 }),
    });
    assert.equal(other.statusCode, 200, other.body);
    const token = other.json().access_token as string;
    const seen = await call('GET', '/auth/recovery', token);
    assert.equal(seen.statusCode, 200);
    assert.equal(seen.json().pending.unlock_at, r.json().unlock_at);
    assert.equal(seen.json().pending.can_complete, false);
    const cancel = await call('DELETE', '/auth/recovery', token);
    assert.equal(cancel.statusCode, 200, cancel.body);
    assert.equal((await call('GET', '/auth/recovery', token)).json().pending, null);
    const after = await call('POST', '/auth/recovery/complete', undefined, completion);
    assert.equal(after.json().error.code, 'AUTH_RECOVERY_INVALID');
    const events = await ts.service.db.query<{ event_type: string }>(
      "SELECT event_type FROM ops_logs WHERE event_type LIKE 'auth.recovery_%' ORDER BY id",
    );
    assert.deepEqual(
      events.rows.map((e) => e.event_type),
      ['auth.recovery_started', 'auth.recovery_cancelled'],
    );
  });

  it("a host that edits unlock_at in the database is refused by the enclave's MAC", async () => {
    const email = 'edited@example.com';
    await withTotp(email, 'a long enough password');
    const pending = await confirm(email, NEW_PASSWORD);
    assert.equal(pending.json().status, 'pending');
    await ts.service.db.query('UPDATE auth_recoveries SET unlock_at = 0');
    const r = await call('POST', '/auth/recovery/complete', undefined, {
      email,
      completion_code: pending.json().completion_code,
    });
    assert.equal(r.statusCode, 409);
    assert.equal(r.json().error.code, 'AUTH_RECOVERY_INVALID');
    const login = await call('POST', '/auth/login', undefined, { email, password: NEW_PASSWORD });
    assert.equal(login.statusCode, 401);
  });

  it('no recovery code or password in any table or log line', async () => {
    const dir = join(ts.dataDir, 'mail');
    codesSeen = readdirSync(dir).flatMap((f) => {
      const m = /code is (\d{6})/.exec(readFileSync(join(dir, f), 'utf8'));
      return m ? [m[1]!] : [];
    });
    assert.ok(codesSeen.length >= 3);
    const dump = (await dumpPublicSchema(ts.service.db))
      .flatMap((d) => d.rows.map((r) => `${d.table}: ${r}`))
      .join('\n');
    const logs = ts.logs.join('\n');
    assert.ok(dump.includes('locked@example.com')); // positive control
    assert.ok(dump.includes('auth_recoveries: ')); // a pending recovery is there to search
    assert.ok(!dump.includes(NEW_PASSWORD), 'the new password is in the database');
    assert.ok(!logs.includes(NEW_PASSWORD), 'the new password is in the logs');
    for (const code of codesSeen) {
      const re = new RegExp(`(?<!\\d)${code}(?!\\d)`);
      assert.ok(!re.test(dump), `code ${code} in the database`);
      assert.ok(!re.test(logs), `code ${code} in the logs`);
    }
  });
});

describe('account recovery once the time-lock has run out', () => {
  let ts: TestService;
  const { call, withTotp, confirm } = client(() => ts);

  before(async () => {
    ts = await startTestService('pglite', {
      AUTH_LOGIN_MAX_PER_IP: '100000',
      AUTH_REGISTER_MAX_PER_IP: '100000',
      AUTH_RECOVERY_DELAY_SECONDS: '0',
    });
  });
  after(async () => ts?.stop());

  it('completes: new password, TOTP removed, every session ended', async () => {
    const email = 'lost@example.com';
    const { token } = await withTotp(email, 'a long enough password');
    const r = await confirm(email, NEW_PASSWORD);
    assert.equal(r.json().status, 'pending', r.body);
    const completion = { email, completion_code: r.json().completion_code as string };
    const done = await call('POST', '/auth/recovery/complete', undefined, completion);
    assert.equal(done.statusCode, 200, done.body);
    const login = await call('POST', '/auth/login', undefined, { email, password: NEW_PASSWORD });
    assert.equal(login.statusCode, 200, login.body);
    assert.equal((await call('GET', '/auth/recovery', token)).statusCode, 401);
    const totp = await ts.service.db.query('SELECT 1 FROM auth_totp');
    assert.equal(totp.rows.length, 0);
    const again = await call('POST', '/auth/recovery/complete', undefined, completion);
    assert.equal(again.json().error.code, 'AUTH_RECOVERY_INVALID');
  });
});

describe(
  'account recovery on PostgreSQL, racing a password change',
  { skip: !process.env.TEST_DATABASE_URL },
  () => {
    let ts: TestService;
    const { call, withTotp, confirm } = client(() => ts);

    before(async () => {
      ts = await startTestService('postgres', {
        AUTH_LOGIN_MAX_PER_IP: '100000',
        AUTH_REGISTER_MAX_PER_IP: '100000',
        AUTH_RECOVERY_DELAY_SECONDS: '0',
      });
    });
    after(async () => ts?.stop());

    it('a change that commits while the completion waits is kept; the completion is refused', async () => {
      const email = 'racing@example.com';
      await withTotp(email, 'a long enough password');
      const r = await confirm(email, NEW_PASSWORD);
      assert.equal(r.json().status, 'pending', r.body);
      // The owner's change, written but not yet committed (its row lock held): another account's
      // sealed password stands in for the new one (what matters is that it is kept).
      await withTotp('other@example.com', 'another long password');
      const owner = new pg.Client({ connectionString: ts.databaseUrl });
      await owner.connect();
      try {
        const account = async (address: string) =>
          (
            await owner.query<{ id: string; sealed: string }>(
              `SELECT u.id, p.sealed FROM users u JOIN user_passwords p ON p.user_id = u.id
              WHERE u.email = $1`,
              [address],
            )
          ).rows[0]!;
        const changed = (await account('other@example.com')).sealed;
        const target = (await account(email)).id;
        await owner.query('BEGIN');
        await owner.query('UPDATE user_passwords SET sealed = $2 WHERE user_id = $1', [
          target,
          changed,
        ]);
        const completing = call('POST', '/auth/recovery/complete', undefined, {
          email,
          completion_code: r.json().completion_code as string,
        });
        let settled = false;
        void completing.finally(() => (settled = true));
        // Wait until the completion's transaction waits for the owner's row lock (or has ended).
        while (!settled) {
          const waiting = await ts.service.db.query<{ n: string }>(
            'SELECT count(*) AS n FROM pg_locks WHERE NOT granted',
          );
          if (Number(waiting.rows[0]!.n) > 0) break;
          await new Promise((res) => setTimeout(res, 20));
        }
        await owner.query('COMMIT');
        const done = await completing;
        assert.equal(done.json().error?.code, 'AUTH_RECOVERY_INVALID', done.body);
        const kept = await owner.query<{ sealed: string }>(
          'SELECT sealed FROM user_passwords WHERE user_id = $1',
          [target],
        );
        assert.equal(kept.rows[0]!.sealed, changed, "the owner's change was overwritten");
        assert.equal((await ts.service.db.query('SELECT 1 FROM auth_totp')).rows.length, 2);
      } finally {
        await owner.end();
      }
    });
  },
);
