/**
 * The service runs as the least-privilege login docs/operations/runbook.md tells operators to create: a LOGIN
 * role that is a member of app_service only (no CREATE on the schema). The schema is migrated
 * by its owner (`npm run migrate`); the service checks the version at start, refuses (exit 78
 * message naming `npm run migrate`) while it is behind, and then serves register → login →
 * submit → status → revoke through HTTP. PostgreSQL only (TEST_DATABASE_URL).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { CryptoHelper } from '../../src/client/index.js';
import { loadConfig } from '../../src/host/config.js';
import { openPostgres } from '../../src/host/db/database.js';
import { migrate } from '../../src/host/db/migrate.js';
import { createService } from '../../src/host/service.js';
import { StartupError } from '../../src/host/startup-error.js';
import { uniqueCredentials, verifiedAttestation } from '../helpers/client.js';
import { createTestDatabase, startTestService, type TestService } from '../helpers/service.js';

const admin = process.env.TEST_DATABASE_URL;

describe('the service as a login in app_service only (PostgreSQL)', { skip: !admin }, () => {
  // Roles are cluster-global: a unique name per run, dropped after (also after a failed run).
  const role = `cloister_app_${randomBytes(6).toString('hex')}`;
  let database: { url: string; drop: () => Promise<void> };
  let loginUrl: string;
  const dataDirs: string[] = [];
  let ts: TestService | undefined;

  const adminQuery = async (sql: string) => {
    const c = new pg.Client({ connectionString: admin });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };

  before(async () => {
    database = await createTestDatabase();
    const url = new URL(database.url);
    url.username = role;
    url.password = '';
    loginUrl = url.toString();
  });
  after(async () => {
    await ts?.stop();
    for (const d of dataDirs) rmSync(d, { recursive: true, force: true });
    await database?.drop();
    await adminQuery(`DROP ROLE IF EXISTS ${role}`);
  });

  const config = (env: Record<string, string> = {}) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'cloister-lp-'));
    dataDirs.push(dataDir);
    return loadConfig({
      DATA_DIR: dataDir,
      DATABASE_URL: loginUrl,
      LOG_LEVEL: 'silent',
      KEY_ROTATION_INTERVAL_SECONDS: '0',
      ...env,
    });
  };

  it('refuses to start on an unmigrated schema, naming `npm run migrate`', async () => {
    // The roles may not exist yet on a fresh cluster: migrating once as the owner creates them.
    const owner = await openPostgres(database.url, 1);
    try {
      await owner.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    } finally {
      await owner.close();
    }
    await adminQuery(`DO $$ BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'app_service') THEN
        CREATE ROLE app_service NOLOGIN;
      END IF; END $$`);
    await adminQuery(`CREATE ROLE ${role} LOGIN IN ROLE app_service`);
    await assert.rejects(createService(config()), (err: unknown) => {
      assert.ok(err instanceof StartupError, String(err));
      assert.equal(err.exitCode, 78);
      assert.match(err.message, /schema is behind.*npm run migrate/);
      return true;
    });
  });

  it('after `npm run migrate` as the owner, serves register → login → submit → status → revoke', async () => {
    const owner = await openPostgres(database.url, 1);
    try {
      await migrate(owner);
    } finally {
      await owner.close();
    }
    const dataDir = mkdtempSync(join(tmpdir(), 'cloister-lp-'));
    dataDirs.push(dataDir);
    ts = await startTestService(
      'postgres',
      {
        DATABASE_URL: loginUrl,
        MIGRATE_ON_START: 'false',
        AUTH_DISABLED_FOR_DEVELOPMENT: 'false',
      },
      // The test's own database (dropped in after()), not a fresh migrated one.
      { dataDir, database: { url: loginUrl, drop: async () => undefined } },
    );
    const app = ts.service.app;
    const { rows } = await ts.service.db.query<{ u: string; creator: boolean }>(
      "SELECT current_user AS u, has_schema_privilege('public', 'CREATE') AS creator",
    );
    assert.deepEqual(rows[0], { u: role, creator: false }, 'really the least-privilege login');

    const password = `pw-${randomBytes(12).toString('hex')}`;
    const email = `lp-${randomBytes(4).toString('hex')}@example.com`;
    const reg = await app.inject({
      method: 'POST',
      url: '/auth/register',
      payload: { email, password },
    });
    assert.equal(reg.statusCode, 201, reg.body);
    const login = await app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email, password },
    });
    assert.equal(login.statusCode, 200, login.body);
    const headers = { authorization: `Bearer ${login.json().access_token}` };

    const { verification } = await verifiedAttestation(ts);
    const encrypted = await CryptoHelper.encryptCredentials(
      uniqueCredentials('lp'),
      verification.enclavePubkey!,
      { keyId: verification.keyId! },
    );
    const sub = await app.inject({
      method: 'POST',
      url: '/enclave/submit_key',
      headers,
      payload: { ...encrypted, metadata: { exchange: 'binance', label: 'main', ttl: 3600 } },
    });
    assert.equal(sub.statusCode, 200, sub.body);
    const { session_id } = sub.json();
    const status = await app.inject({
      method: 'GET',
      url: `/enclave/sessions/${session_id}`,
      headers,
    });
    assert.equal(status.statusCode, 200, status.body);
    assert.equal(status.json().credential, 'ok');
    const revoke = await app.inject({
      method: 'POST',
      url: '/enclave/revoke',
      headers,
      payload: { session_id },
    });
    assert.equal(revoke.statusCode, 200, revoke.body);
    // The scheduled jobs' work runs as this login too.
    await ts.service.sweeper.runOnce();
    await ts.service.sweeper.purgeRetention();
  });
});
