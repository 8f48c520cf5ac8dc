/**
 * A TOTP code used by two logins at once, at two cluster members (two connections to the one
 * database): SECURITY.md, "Sign-in methods: second attack review". Each enclave accepts the
 * code (neither saw it before); the hosts spend its step with the session, and exactly one
 * session is stored. The loser's conditional UPDATE waits on the winner's row lock and, once
 * the winner commits, re-reads the row (PostgreSQL's READ COMMITTED re-check), finds the step
 * spent and rolls back with AUTH_MFA_INVALID. A failure after the step is spent writes nothing:
 * neither the session nor the step. On PostgreSQL (TEST_DATABASE_URL): PGlite has one
 * connection, so nothing there runs concurrently.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { AuthServiceDeps } from '../../src/host/auth/auth-service.js';
import { createTotpService } from '../../src/host/auth/totp-service.js';
import { openPostgres, type Db } from '../../src/host/db/database.js';
import { migrate } from '../../src/host/db/migrate.js';
import { createAuthRepository } from '../../src/host/db/repositories/auth.js';
import { HostError } from '../../src/host/errors.js';
import { createTestDatabase } from '../helpers/service.js';

const SEALED = `ts1.${'A'.repeat(60)}`;

describe('TOTP: one code, two logins at once', { skip: !process.env.TEST_DATABASE_URL }, () => {
  let database: { url: string; drop: () => Promise<void> };
  let db: Db;
  let totp: ReturnType<typeof createTotpService>;

  before(async () => {
    database = await createTestDatabase();
    db = await openPostgres(database.url);
    await migrate(db);
    const repo = createAuthRepository(db);
    totp = createTotpService({ repo } as unknown as AuthServiceDeps);
  });
  after(async () => {
    await db?.close();
    await database?.drop();
  });

  async function account(lastStep: number) {
    const userId = randomUUID();
    await db.query('INSERT INTO users (id, email) VALUES ($1, $2)', [
      userId,
      `${userId}@example.test`,
    ]);
    await db.query(
      'INSERT INTO auth_totp (user_id, sealed, confirmed_at, last_step) VALUES ($1, $2, now(), $3)',
      [userId, SEALED, lastStep],
    );
    return userId;
  }
  const issued = (userId: string, step: number) => ({
    user_id: userId,
    session_id: randomUUID(),
    refresh_hash: randomUUID().replaceAll('-', '').repeat(2),
    refresh_expires_at: Math.floor(Date.now() / 1000) + 3600,
    recovery_mac: null,
    totp_step: step,
  });
  const sessions = async (userId: string) =>
    (await db.query<{ id: string }>('SELECT id FROM auth_sessions WHERE user_id = $1', [userId]))
      .rows.length;
  const lastStep = async (userId: string) =>
    Number(
      (
        await db.query<{ last_step: string }>(
          'SELECT last_step FROM auth_totp WHERE user_id = $1',
          [userId],
        )
      ).rows[0]!.last_step,
    );
  const codeOf = (err: unknown) => (err instanceof HostError ? err.code : String(err));

  it('the second login waits on the first, then loses: one session, and the step spent once', async () => {
    const userId = await account(100);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let spentByFirst!: () => void;
    const firstSpent = new Promise<void>((r) => (spentByFirst = r));
    // The first member spends step 101 and holds its transaction open (before its session).
    const first = totp.storeSecondFactorSession(issued(userId, 101), false, async () => {
      spentByFirst();
      await held;
    });
    // storeSession runs alsoInTx after the spend: the row is locked by now.
    await firstSpent;
    const second = totp
      .storeSecondFactorSession(issued(userId, 101), false)
      .then(() => 'stored', codeOf);
    // Wait until the second member's UPDATE is blocked on the first's row lock.
    for (;;) {
      const { rows } = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity
         WHERE datname = current_database() AND wait_event_type = 'Lock'
           AND query LIKE 'UPDATE auth_totp SET last_step%'`,
      );
      if (rows[0]!.n > 0) break;
      await new Promise((r) => setImmediate(r));
    }
    release();
    await first;
    assert.equal(await second, 'AUTH_MFA_INVALID');
    assert.equal(await sessions(userId), 1);
    assert.equal(await lastStep(userId), 101);
  });

  it('a failure after the step is spent leaves neither a session nor the spent step', async () => {
    const userId = await account(100);
    const broken = issued(userId, 102);
    await assert.rejects(
      totp.storeSecondFactorSession(broken, false, async () => {
        throw new HostError('AUTH_PASSKEY_INVALID');
      }),
      (err) => codeOf(err) === 'AUTH_PASSKEY_INVALID',
    );
    assert.equal(await sessions(userId), 0);
    assert.equal(await lastStep(userId), 100);
    // A session id already taken (the insert fails after the spend): the same.
    await totp.storeSecondFactorSession(issued(userId, 102), false);
    const taken = { ...issued(userId, 103), session_id: broken.session_id };
    await db.query('INSERT INTO auth_sessions (id, user_id) VALUES ($1, $2)', [
      taken.session_id,
      userId,
    ]);
    await assert.rejects(totp.storeSecondFactorSession(taken, false));
    assert.equal(await lastStep(userId), 102);
    // An older code after a newer one, at a member that never saw either: refused.
    await assert.rejects(
      totp.storeSecondFactorSession(issued(userId, 101), false),
      (err) => codeOf(err) === 'AUTH_MFA_INVALID',
    );
    assert.equal(await sessions(userId), 2);
  });
});
