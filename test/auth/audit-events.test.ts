/**
 * The audit trail (docs/ops-events.md): every registration, login (success, and failure with
 * its reason code), logout, logout-all, role grant/revoke (with who did it) and operator
 * revocation is a typed ops event, and every 401/403/429 an `auth.request_denied` line; none
 * carries a password, a token or an email. Role changes made over HTTP and operator
 * revocations are also transparency-log entries, with the user's (or session's) log subject.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CryptoHelper } from '../../src/client/index.js';
import { userLogSubject } from '../../src/protocol/auth.js';
import { sessionLogSubject } from '../../src/protocol/log/entry.js';
import { uniqueCredentials } from '../helpers/client.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { cliSetOperator } from './operator-helper.js';

const PASSWORD = 'audit-password-0000001';
const WRONG = 'audit-wrong-password-99';

describe('audit events', () => {
  let ts: TestService;
  const secrets: string[] = [PASSWORD, WRONG];
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
  /** Host log lines with this `event`. */
  const lines = (event: string) =>
    ts.logs
      .map((l) => {
        try {
          return JSON.parse(l) as Record<string, unknown>;
        } catch {
          return {};
        }
      })
      .filter((l) => l.event === event);
  /** ops_logs rows of this type, details parsed. */
  async function rows(type: string): Promise<Record<string, unknown>[]> {
    const r = await ts.service.db.query<{ details: unknown }>(
      'SELECT details FROM ops_logs WHERE event_type = $1 ORDER BY id',
      [type],
    );
    return r.rows.map((x) =>
      typeof x.details === 'string' ? JSON.parse(x.details) : (x.details as object),
    );
  }
  async function logEntries(): Promise<{ type: string; subject: string }[]> {
    const size = (await inject('GET', '/api/log/checkpoint')).json().size as number;
    const res = await inject('GET', `/api/log/entries?start=0&end=${size}`);
    return (res.json().entries as { entry: string }[]).map((e) => JSON.parse(e.entry));
  }
  const login = async (who: string, password = PASSWORD) => {
    const res = await inject('POST', '/auth/login', {
      payload: { email: `${who}@example.com`, password },
    });
    if (res.statusCode === 200) {
      tokens[who] = res.json().access_token;
      secrets.push(res.json().access_token, res.json().refresh_token);
    }
    return res;
  };

  before(async () => {
    ts = await startTestService('pglite', {
      AUTH_DISABLED_FOR_DEVELOPMENT: 'false',
      AUTH_LOGIN_FAILURES_BEFORE_BACKOFF: '2',
    });
    for (const who of ['olga', 'uma', 'lock']) {
      const res = await inject('POST', '/auth/register', {
        payload: { email: `${who}@example.com`, password: PASSWORD },
      });
      assert.equal(res.statusCode, 201, res.body);
      ids[who] = res.json().user_id;
    }
  });
  after(async () => ts?.stop());

  it('registrations and logins, failed ones with their reason code', async () => {
    assert.deepEqual(
      (await rows('auth.registered')).map((r) => r.userId),
      [ids.olga, ids.uma, ids.lock],
    );
    assert.equal((await login('uma')).statusCode, 200);
    assert.deepEqual(await rows('auth.login_succeeded'), [{ userId: ids.uma }]);

    assert.equal((await login('lock', WRONG)).statusCode, 401);
    assert.equal((await login('nobody')).statusCode, 401);
    assert.equal((await login('lock', WRONG)).statusCode, 401);
    const locked = await login('lock');
    assert.equal(locked.json().error.code, 'AUTH_LOGIN_LOCKED');
    const failed = lines('auth.login_failed').map((l) => [l.userId, l.reason]);
    assert.deepEqual(failed, [
      [ids.lock, 'AUTH_INVALID_CREDENTIALS'],
      [null, 'AUTH_INVALID_CREDENTIALS'],
      [ids.lock, 'AUTH_INVALID_CREDENTIALS'],
      [null, 'AUTH_LOGIN_LOCKED'],
    ]);
    // Host log only: a flood of failures must not become database writes.
    assert.deepEqual(await rows('auth.login_failed'), []);
  });

  it('every 401, 403 and 429 is an auth.request_denied line, by route pattern', async () => {
    const sessionId = crypto.randomUUID();
    assert.equal((await inject('GET', `/enclave/sessions/${sessionId}`)).statusCode, 401);
    assert.equal((await inject('GET', '/operator/metrics', { who: 'uma' })).statusCode, 403);
    const denied = lines('auth.request_denied').map((l) => [l.status, l.code, l.method, l.route]);
    for (const want of [
      [401, 'AUTH_INVALID_CREDENTIALS', 'POST', '/auth/login'],
      [429, 'AUTH_LOGIN_LOCKED', 'POST', '/auth/login'],
      [401, 'AUTH_REQUIRED', 'GET', '/enclave/sessions/:session_id'],
      [403, 'AUTH_FORBIDDEN', 'GET', '/operator/metrics'],
    ])
      assert.ok(
        denied.some((d) => JSON.stringify(d) === JSON.stringify(want)),
        `${want.join(' ')} in ${JSON.stringify(denied)}`,
      );
    assert.ok(!JSON.stringify(lines('auth.request_denied')).includes(sessionId));
    assert.ok(lines('auth.request_denied').every((l) => l.client === '127.0.0.1'));
  });

  it('role changes name who made them; over HTTP they are in the transparency log', async () => {
    assert.ok(await cliSetOperator(ts, 'grant', 'olga@example.com', 'root-on-host'));
    assert.deepEqual(await rows('auth.role_granted'), [
      { userId: ids.olga, role: 'operator', by: 'cli:root-on-host' },
    ]);
    assert.equal((await login('olga')).statusCode, 200);

    const grant = await inject('POST', '/operator/roles/grant', {
      who: 'olga',
      payload: { email: 'uma@example.com' },
    });
    assert.equal(grant.statusCode, 200, grant.body);
    assert.deepEqual(grant.json(), { user_id: ids.uma });
    const revoke = await inject('POST', '/operator/roles/revoke', {
      who: 'olga',
      payload: { email: 'uma@example.com' },
    });
    assert.equal(revoke.statusCode, 200, revoke.body);
    const missing = await inject('POST', '/operator/roles/grant', {
      who: 'olga',
      payload: { email: 'missing@example.com' },
    });
    assert.equal(missing.json().error.code, 'USER_NOT_FOUND');

    const olga = ids.olga!;
    assert.deepEqual((await rows('auth.role_granted')).at(-1), {
      userId: ids.uma,
      role: 'operator',
      by: olga,
    });
    assert.deepEqual(await rows('auth.role_revoked'), [
      { userId: ids.uma, role: 'operator', by: olga },
    ]);
    const entries = await logEntries();
    const subject = userLogSubject(ids.uma!);
    assert.ok(entries.some((e) => e.type === 'auth.role_granted' && e.subject === subject));
    assert.ok(entries.some((e) => e.type === 'auth.role_revoked' && e.subject === subject));
    // The revocation ended uma's login sessions with the role.
    assert.equal((await inject('POST', '/auth/logout', { who: 'uma' })).statusCode, 401);
  });

  it("an operator's revocation of a session is logged with the operator", async () => {
    const att = (await inject('GET', '/attestation/quote')).json();
    const env = await CryptoHelper.encryptCredentials(
      uniqueCredentials('audit'),
      att.enclave_pubkey,
      {
        keyId: att.key_id,
      },
    );
    assert.equal((await login('uma')).statusCode, 200);
    const sub = await inject('POST', '/enclave/submit_key', {
      who: 'uma',
      payload: { ...env, metadata: { exchange: 'binance', label: 'audited', ttl: 3600 } },
    });
    assert.equal(sub.statusCode, 200, sub.body);
    const sessionId = sub.json().session_id as string;
    const res = await inject('POST', `/operator/sessions/${sessionId}/revoke`, { who: 'olga' });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(await rows('session.operator_revoked'), [{ sessionId, operatorId: ids.olga }]);
    const entries = await logEntries();
    const subject = sessionLogSubject(sessionId);
    assert.ok(entries.some((e) => e.type === 'session.revoked' && e.subject === subject));
    assert.ok(entries.some((e) => e.type === 'session.operator_revoked' && e.subject === subject));
    // The receipt still points at the session's revocation entry.
    const receipt = entries[res.json().log.index as number]!;
    assert.equal(receipt.type, 'session.revoked');
  });

  it('logout and logout-all; key rotation names the operator', async () => {
    assert.equal((await inject('POST', '/auth/logout', { who: 'uma' })).statusCode, 200);
    assert.equal((await login('uma')).statusCode, 200);
    assert.equal((await inject('POST', '/auth/logout-all', { who: 'uma' })).statusCode, 200);
    assert.deepEqual(await rows('auth.logout'), [{ userId: ids.uma }]);
    assert.deepEqual(await rows('auth.logout_all'), [{ userId: ids.uma, revoked: 1 }]);
    const rotated = await inject('POST', '/operator/auth/rotate-keys', { who: 'olga' });
    assert.equal(rotated.statusCode, 200, rotated.body);
    const [event] = await rows('auth.key_rotated');
    assert.equal(event!.operatorId, ids.olga);
    assert.equal(event!.keyId, rotated.json().kid);
  });

  it('no password, token or email in any audit event', async () => {
    const { rows: all } = await ts.service.db.query<{ details: unknown }>(
      "SELECT details FROM ops_logs WHERE event_type LIKE 'auth.%' OR event_type LIKE 'session.%'",
    );
    const audit = [
      JSON.stringify(all),
      ...[
        'auth.login_failed',
        'auth.request_denied',
        'auth.login_succeeded',
        'auth.registered',
        'auth.role_granted',
      ].map((e) => JSON.stringify(lines(e))),
    ].join('\n');
    assert.ok(audit.length > 500);
    for (const s of secrets) assert.ok(!audit.includes(s), 'a password or token in the audit');
    assert.ok(!audit.includes('@example.com'), 'an email in the audit');
  });
});
