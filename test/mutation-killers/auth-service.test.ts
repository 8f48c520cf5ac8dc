/**
 * `createAuthService` (src/host/auth/auth-service.ts) in-process, for the mutation run
 * (docs/mutation-testing.md): the service tests in test/auth/ cover it against the spawned
 * enclave, minutes per file. Here the enclave is a scripted fake of its RPC client (answers and
 * `EnclaveCallError`s as the real client gives them), the repository an in-memory table, the
 * log and ops sinks record what they get. Each test pins one rule of the host's half of the
 * auth protocol (docs/protocol/auth.md): what it stores, what it refuses, what it records.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { createAuthService, type AuthServiceDeps } from '../../src/host/auth/auth-service.js';
import type { RefreshRow, UserRow } from '../../src/host/db/repositories/auth.js';
import { EnclaveCallError } from '../../src/host/enclave-client/rpc-client.js';
import { HostError } from '../../src/host/errors.js';
import type { Clock } from '../../src/host/jobs/periodic.js';
import { userLogSubject } from '../../src/protocol/auth.js';
import { AUTH_CONFIG as config, recordingOps, recordingThrottle } from '../helpers/auth-fakes.js';

/** A refresh_tokens row as stored; findRefresh adds the account's status and roles. */
type StoredRefresh = Omit<RefreshRow, 'user_status' | 'roles'>;

const NOW = 1_900_000_000; // seconds; Date is frozen here for every test
const UID = '11111111-1111-4111-8111-111111111111';
const SID = '22222222-2222-4222-8222-222222222222';
const sha = (s: string) => createHash('sha256').update(s, 'ascii').digest('hex');

type Handler = (params: Record<string, unknown>) => unknown;

const tokens = (over: Record<string, unknown> = {}) => ({
  access_token: 'acc',
  access_expires_at: NOW + 900,
  refresh_token: 'ref-next',
  refresh_expires_at: NOW + 86400,
  refresh_hash: sha('ref-next'),
  // No recovery code was spent (a TOTP login or a plain password login).
  recovery_mac: null,
  totp_step: null,
  ...over,
});

/** Everything the service touches, as plain records. */
function world(
  opts: {
    handlers?: Record<string, Handler>;
    clock?: Clock;
    lease?: { acquire(name: string): Promise<boolean> };
  } = {},
) {
  const calls: { method: string; params: Record<string, unknown> }[] = [];
  const handlers: Record<string, Handler> = {
    'auth.jwks': () => ({ keys: [{ kid: 'k-jwks' }] }),
    ...opts.handlers,
  };
  const enclave = {
    call: (async (method: string, params: Record<string, unknown>) => {
      calls.push({ method, params });
      const h = handlers[method];
      if (!h) throw new Error(`unexpected call ${method}`);
      return h(params);
    }) as unknown as AuthServiceDeps['enclave']['call'],
  };
  const users = new Map<string, UserRow>();
  const refresh = new Map<string, StoredRefresh>();
  const keyrings: { generation: number; sealed: string; tx: unknown }[] = [];
  const steps: string[] = [];
  const TX = { tx: true };
  const DB = {
    db: true,
    transaction: async <T>(fn: (tx: unknown) => Promise<T>) => {
      steps.push('tx');
      return fn(TX);
    },
  };
  const repoCalls: unknown[][] = [];
  let latest: { generation: number; sealed: string } | null = null;
  let latestTime: number | null = null;
  let roleAnswer: string | null = UID;
  let rotateWins = true;
  const repo = {
    db: DB,
    latestKeyring: async () => latest,
    latestKeyringTime: async () => latestTime,
    insertKeyring: async (generation: number, sealed: string, tx: unknown = DB) => {
      keyrings.push({ generation, sealed, tx });
    },
    findUserByEmail: async (email: string) =>
      [...users.values()].find((u) => u.email === email) ?? null,
    // The login lookup: the account joined with its (here: no) TOTP secret and recovery codes.
    findLoginUser: async (email: string) => {
      const u = [...users.values()].find((x) => x.email === email);
      return u ? { ...u, totp_sealed: null, recovery_macs: [] } : null;
    },
    findUser: async (id: string) => users.get(id) ?? null,
    confirmedTotp: async () => null,
    recoveryCodeMacs: async () => [],
    insertUser: async (id: string, email: string, sealed: string) => {
      repoCalls.push(['insertUser', id, email, sealed]);
      if ([...users.values()].some((u) => u.email === email)) return false;
      users.set(id, { user_id: id, email, password_sealed: sealed, roles: [], status: 'active' });
      return true;
    },
    updatePassword: async (id: string, sealed: string, q: unknown = DB) => {
      repoCalls.push(['updatePassword', id, sealed, q]);
    },
    grantRole: async (email: string, role: string, tx: unknown) => {
      repoCalls.push(['grantRole', email, role, tx]);
      return roleAnswer;
    },
    revokeRole: async (email: string, role: string, tx: unknown) => {
      repoCalls.push(['revokeRole', email, role, tx]);
      return roleAnswer;
    },
    // With the login's event: its row (ops.row below) goes into the same statement.
    insertSession: async (tx: unknown, sid: string, uid: string, r: unknown, event?: unknown) => {
      repoCalls.push(['insertSession', tx, sid, uid, r, ...(event ? [event] : [])]);
    },
    // The refresh lookup joins the account: its status (null when gone) and roles.
    findRefresh: async (hash: string): Promise<RefreshRow | null> => {
      const r = refresh.get(hash);
      if (!r) return null;
      const u = users.get(r.user_id);
      return { ...r, user_status: u?.status ?? null, roles: u?.roles ?? [] };
    },
    rotate: async (hash: string, sealed: string, child: unknown) => {
      repoCalls.push(['rotate', hash, sealed, child]);
      if (!rotateWins) {
        // Another request rotated it a moment ago.
        const row = refresh.get(hash)!;
        refresh.set(hash, { ...row, used_at: NOW, sealed_response: 'sealed-other' });
      }
      return rotateWins;
    },
    revokeSession: async (q: unknown, sid: string, uid: string, reason: string) => {
      repoCalls.push(['revokeSession', q, sid, uid, reason]);
      return true;
    },
    revokeAllSessions: async (q: unknown, uid: string, reason: string) => {
      repoCalls.push(['revokeAllSessions', q, uid, reason]);
      return 3;
    },
  };
  const committed: { entries: unknown[]; result: unknown }[] = [];
  const log = {
    isReady: () => true,
    commit: async (op: { work(tx: unknown): Promise<{ result: unknown; entries: unknown[] }> }) => {
      steps.push('commit');
      const r = await op.work(TX);
      committed.push(r);
      return { result: r.result, leaves: [], checkpoint: null };
    },
  };
  const jwksSet: unknown[] = [];
  let reload: (() => Promise<void>) | null = null;
  const verifier = {
    setReload: (fn: () => Promise<void>) => void (reload = fn),
    setJwks: (j: unknown) => void jwksSet.push(j),
    jwks: () => ({ keys: ['current'] }),
    forget: () => void steps.push('forget'),
    verify: async () => {
      throw new Error('not used');
    },
  };
  const throttle = recordingThrottle();
  const { ops, recorded, emitted } = recordingOps();
  const errors: unknown[] = [];
  const service = createAuthService({
    enclave,
    repo: repo as unknown as AuthServiceDeps['repo'],
    log: log as unknown as AuthServiceDeps['log'],
    verifier: verifier as unknown as AuthServiceDeps['verifier'],
    throttle: throttle.throttle,
    ops,
    config,
    logger: {
      error: (...a: unknown[]) => void errors.push(a),
    } as unknown as AuthServiceDeps['logger'],
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...(opts.lease ? { lease: opts.lease } : {}),
  });
  return {
    /** What the service handed the verifier for an unknown kid (setReload). */
    reload: () => reload!(),
    service,
    calls,
    handlers,
    users,
    refresh,
    keyrings,
    steps,
    TX,
    DB,
    repoCalls,
    committed,
    jwksSet,
    throttleCalls: throttle.calls,
    recorded,
    emitted,
    errors,
    setLatest: (l: typeof latest, time: number | null = null) => {
      latest = l;
      latestTime = time;
    },
    setRoleAnswer: (a: string | null) => (roleAnswer = a),
    setRotateWins: (w: boolean) => (rotateWins = w),
    setWait: throttle.setWait,
    setRefundFails: throttle.setRefundFails,
    addUser: (status: 'active' | 'disabled' = 'active') =>
      users.set(UID, {
        user_id: UID,
        email: 'a@example.test',
        password_sealed: 'pw-sealed',
        roles: ['operator'],
        status,
      }),
  };
}

beforeEach(() => mock.timers.enable({ apis: ['Date'], now: NOW * 1000 }));
afterEach(() => mock.timers.reset());

describe('auth service: keys', () => {
  it('initEnclave hands back the latest sealed keyring and stores only a new one', async () => {
    const w = world({
      handlers: { 'auth.init': () => ({ keys: [{ kid: 'a' }], sealed: null, generation: 1 }) },
    });
    w.setLatest({ generation: 4, sealed: 'blob-4' });
    await w.service.initEnclave(callOf(w));
    assert.deepEqual(w.calls, [{ method: 'auth.init', params: { sealed: 'blob-4' } }]);
    assert.deepEqual(w.keyrings, [], 'nothing new to store');
    assert.deepEqual(w.jwksSet, [{ keys: [{ kid: 'a' }] }]);

    const first = world({
      handlers: { 'auth.init': () => ({ keys: [{ kid: 'b' }], sealed: 'blob-1', generation: 1 }) },
    });
    await first.service.initEnclave(callOf(first));
    assert.deepEqual(first.calls[0]!.params, { sealed: null });
    assert.deepEqual(
      first.keyrings.map(({ generation, sealed }) => ({ generation, sealed })),
      [{ generation: 1, sealed: 'blob-1' }],
    );
  });

  it('jwks() is the verifier’s; refreshJwks() loads the enclave’s key set into it', async () => {
    const w = world();
    assert.deepEqual(w.service.jwks(), { keys: ['current'] });
    await w.service.refreshJwks();
    assert.deepEqual(w.calls, [{ method: 'auth.jwks', params: {} }]);
    assert.deepEqual(w.jwksSet, [{ keys: [{ kid: 'k-jwks' }] }]);
  });

  it('refreshJwks() unseals a stored keyring only when it is newer than the one the enclave holds', async () => {
    const w = world({
      handlers: {
        'auth.init': (p) => ({
          keys: [{ kid: `k-${String(p.sealed)}` }],
          sealed: null,
          generation: p.sealed === 'blob-2' ? 2 : 1,
        }),
      },
    });
    w.setLatest({ generation: 1, sealed: 'blob-1' });
    await w.service.initEnclave(callOf(w));
    await w.service.refreshJwks();
    // Generation 1 is what the enclave already holds: no second unseal, only the key set.
    assert.deepEqual(
      w.calls.map((c) => c.method),
      ['auth.init', 'auth.jwks'],
    );
    // Another member rotated: generation 2 is handed over once, then no more.
    w.setLatest({ generation: 2, sealed: 'blob-2' });
    await w.service.refreshJwks();
    await w.service.refreshJwks();
    assert.deepEqual(
      w.calls.map((c) => [c.method, c.params.sealed]),
      [
        ['auth.init', 'blob-1'],
        ['auth.jwks', undefined],
        ['auth.init', 'blob-2'],
        ['auth.jwks', undefined],
      ],
    );
    assert.deepEqual(w.jwksSet.at(-2), { keys: [{ kid: 'k-blob-2' }] });
  });

  it('the verifier reloads through refreshJwks (an unknown kid: another member rotated)', async () => {
    const w = world({
      handlers: { 'auth.init': () => ({ keys: [{ kid: 'k-3' }], sealed: null, generation: 3 }) },
    });
    await w.reload();
    assert.deepEqual(w.calls, [{ method: 'auth.jwks', params: {} }]);
    w.setLatest({ generation: 3, sealed: 'blob-3' });
    await w.reload();
    assert.deepEqual(w.calls.at(-1), { method: 'auth.init', params: { sealed: 'blob-3' } });
    assert.deepEqual(w.jwksSet.at(-1), { keys: [{ kid: 'k-3' }] });
  });

  it('a service that handed nothing yet unseals even the first generation', async () => {
    const w = world({
      handlers: { 'auth.init': () => ({ keys: [{ kid: 'k-1' }], sealed: null, generation: 1 }) },
    });
    w.setLatest({ generation: 1, sealed: 'blob-1' });
    await w.service.refreshJwks();
    assert.deepEqual(w.calls, [{ method: 'auth.init', params: { sealed: 'blob-1' } }]);
  });

  it('after its own rotation the enclave holds the new generation: no unseal of it again', async () => {
    const w = world({
      handlers: {
        'auth.prepare_rotation': () => ({ sealed: 'blob-5', generation: 5, kid: 'kid-5' }),
        'auth.activate': () => ({ keys: [{ kid: 'kid-5' }], generation: 5 }),
      },
    });
    await w.service.rotateKeys();
    w.setLatest({ generation: 5, sealed: 'blob-5' });
    await w.service.refreshJwks();
    assert.deepEqual(
      w.calls.map((c) => c.method),
      ['auth.prepare_rotation', 'auth.activate', 'auth.jwks'],
    );
  });

  it('rotateKeys: prepare, store and log in one commit, then activate; fail closed', async () => {
    const w = world({
      handlers: {
        'auth.prepare_rotation': () => ({ sealed: 'blob-5', generation: 5, kid: 'kid-5' }),
        'auth.activate': () => ({ keys: [{ kid: 'kid-5' }], generation: 5 }),
      },
    });
    assert.deepEqual(await w.service.rotateKeys('op-1'), { generation: 5, kid: 'kid-5' });
    assert.deepEqual(
      w.calls.map((c) => c.method),
      ['auth.prepare_rotation', 'auth.activate'],
    );
    assert.deepEqual(w.calls[1]!.params, { generation: 5, sealed: 'blob-5' });
    assert.deepEqual(w.keyrings, [{ generation: 5, sealed: 'blob-5', tx: w.TX }]);
    assert.deepEqual(w.recorded, [
      {
        q: w.TX,
        event: { type: 'auth.key_rotated', generation: 5, keyId: 'kid-5', operatorId: 'op-1' },
      },
    ]);
    assert.equal((w.committed[0]!.entries[0] as { subject: string }).subject, 'kid-5');
    assert.deepEqual(w.jwksSet, [{ keys: [{ kid: 'kid-5' }] }]);

    // The schedule asks with no operator: recorded as null.
    const s = world({ handlers: w.handlers });
    await s.service.rotateKeys();
    assert.equal((s.recorded[0]!.event as { operatorId: unknown }).operatorId, null);
  });
});

/** The world's enclave call, for methods that take one. */
function callOf(w: ReturnType<typeof world>) {
  return (async (method: string, params: Record<string, unknown>) => {
    w.calls.push({ method, params });
    return w.handlers[method]!(params);
  }) as never;
}

describe('auth service: register', () => {
  it('stores the sealed password and records the event', async () => {
    const w = world({
      handlers: { 'auth.register': () => ({ user_id: UID, password_sealed: 'pw' }) },
    });
    assert.deepEqual(await w.service.register('a@example.test', { password: 'x' }), {
      user_id: UID,
    });
    assert.deepEqual(w.calls[0], {
      method: 'auth.register',
      params: { email: 'a@example.test', secret: { password: 'x' } },
    });
    assert.deepEqual(w.repoCalls, [['insertUser', UID, 'a@example.test', 'pw']]);
    assert.deepEqual(w.recorded, [{ q: w.DB, event: { type: 'auth.registered', userId: UID } }]);
  });

  it('a taken email: refused before the enclave, and again if the insert loses a race', async () => {
    const w = world({
      handlers: { 'auth.register': () => ({ user_id: UID, password_sealed: 'pw' }) },
    });
    w.addUser();
    await assert.rejects(w.service.register('a@example.test', { password: 'x' }), {
      code: 'AUTH_EMAIL_TAKEN',
    });
    assert.deepEqual(w.calls, [], 'no Argon2id work for a taken email');

    // The race: nobody when checked, somebody when inserted.
    const r = world({
      handlers: {
        'auth.register': () => {
          r.addUser();
          return { user_id: UID, password_sealed: 'pw' };
        },
      },
    });
    await assert.rejects(r.service.register('a@example.test', { password: 'x' }), {
      code: 'AUTH_EMAIL_TAKEN',
    });
    assert.deepEqual(r.recorded, []);
  });
});

describe('auth service: login', () => {
  const loginOk = (over: Record<string, unknown> = {}) => ({
    'auth.login': () => ({
      ...tokens(),
      user_id: UID,
      session_id: SID,
      password_sealed: null,
      ...over,
    }),
  });

  it('a success: the pair, the session and its event stored in one statement, the throttle cleared', async () => {
    const w = world({ handlers: loginOk() });
    w.addUser();
    const r = await w.service.login('a@example.test', { password: 'x' });
    assert.deepEqual(r, {
      user_id: UID,
      access_token: 'acc',
      token_type: 'Bearer',
      expires_in: 900,
      refresh_token: 'ref-next',
      refresh_expires_in: 86400,
    });
    assert.deepEqual(w.calls[0]!.params, {
      email: 'a@example.test',
      secret: { password: 'x' },
      user: {
        user_id: UID,
        password_sealed: 'pw-sealed',
        roles: ['operator'],
        // No TOTP enrolled: the enclave is told so, with no recovery-code MACs to check.
        totp_sealed: null,
        recovery_macs: [],
      },
    });
    assert.deepEqual(w.throttleCalls, ['begin a@example.test', 'succeeded a@example.test']);
    // The audit event is written by the session's own statement (atomic, no transaction).
    assert.deepEqual(w.repoCalls, [
      [
        'insertSession',
        w.DB,
        SID,
        UID,
        { hash: sha('ref-next'), expiresAt: NOW + 86400 },
        ['ROW', 'auth.login_succeeded'],
      ],
    ]);
    assert.deepEqual(w.steps, []);
    assert.deepEqual(w.recorded, [
      { q: 'session', event: { type: 'auth.login_succeeded', userId: UID } },
    ]);
    assert.deepEqual(w.emitted, []);
  });

  it('a rehashed password is stored with the session (one transaction); expired lifetimes answer 0, never negative', async () => {
    const w = world({
      handlers: loginOk({
        password_sealed: 'pw-new',
        access_expires_at: NOW - 5,
        refresh_expires_at: NOW - 1,
      }),
    });
    w.addUser();
    const r = await w.service.login('a@example.test', { password: 'x' });
    assert.equal(r.expires_in, 0);
    assert.equal(r.refresh_expires_in, 0);
    // In the login's transaction: a failed store cannot leave the session (and its success
    // event) behind a login that then answers an error.
    assert.deepEqual(w.repoCalls, [
      ['updatePassword', UID, 'pw-new', w.TX],
      [
        'insertSession',
        w.TX,
        SID,
        UID,
        { hash: sha('ref-next'), expiresAt: NOW - 1 },
        ['ROW', 'auth.login_succeeded'],
      ],
    ]);
    assert.deepEqual(w.steps, ['tx']);
  });

  it('an unknown or disabled account is sent to the enclave as no user (same work, same answer)', async () => {
    for (const status of [null, 'disabled'] as const) {
      const w = world({
        handlers: {
          'auth.login': () => {
            throw new EnclaveCallError('AUTH_INVALID_CREDENTIALS');
          },
        },
      });
      if (status) w.addUser(status);
      await assert.rejects(w.service.login('a@example.test', { password: 'x' }), {
        code: 'AUTH_INVALID_CREDENTIALS',
      });
      assert.equal(w.calls[0]!.params.user, null);
      // A wrong password stays counted: no refund.
      assert.deepEqual(w.throttleCalls, ['begin a@example.test']);
      assert.deepEqual(w.emitted, [
        {
          type: 'auth.login_failed',
          userId: status ? UID : null,
          reason: 'AUTH_INVALID_CREDENTIALS',
        },
      ]);
      assert.deepEqual(w.recorded, []);
    }
  });

  it('a second factor is passed to the enclave; a wrong code stays counted like a wrong password', async () => {
    const w = world({ handlers: loginOk() });
    w.addUser();
    await w.service.login('a@example.test', { password: 'x' }, { totp_code: '123456' });
    assert.deepEqual(w.calls[0]!.params.second, { totp_code: '123456' });

    const wrong = world({
      handlers: {
        'auth.login': () => {
          throw new EnclaveCallError('AUTH_MFA_INVALID');
        },
      },
    });
    wrong.addUser();
    await assert.rejects(
      wrong.service.login('a@example.test', { password: 'x' }, { totp_code: '000000' }),
      { code: 'AUTH_MFA_INVALID' },
    );
    assert.deepEqual(wrong.throttleCalls, ['begin a@example.test'], 'no refund');
    assert.deepEqual(wrong.emitted, [
      { type: 'auth.login_failed', userId: UID, reason: 'AUTH_MFA_INVALID' },
    ]);
  });

  it('locked: refused before any lookup, with Retry-After in whole seconds', async () => {
    const w = world({ handlers: loginOk() });
    w.addUser();
    w.setWait(1500);
    const err = await w.service.login('a@example.test', { password: 'x' }).catch((e) => e);
    assert.ok(err instanceof HostError);
    assert.equal(err.code, 'AUTH_LOGIN_LOCKED');
    assert.equal(err.retryAfterSeconds, 2);
    assert.deepEqual(w.calls, []);
    assert.deepEqual(w.emitted, [
      { type: 'auth.login_failed', userId: null, reason: 'AUTH_LOGIN_LOCKED' },
    ]);
  });

  it('another failure than the password is refunded (even if the refund fails) and audited', async () => {
    const down = world({
      handlers: {
        'auth.login': () => {
          throw new EnclaveCallError('ENCLAVE_UNAVAILABLE');
        },
      },
    });
    down.addUser();
    down.setRefundFails(true);
    await assert.rejects(down.service.login('a@example.test', { password: 'x' }), {
      code: 'ENCLAVE_UNAVAILABLE',
    });
    assert.deepEqual(down.throttleCalls, ['begin a@example.test', 'refund a@example.test']);
    assert.deepEqual(down.emitted, [
      { type: 'auth.login_failed', userId: UID, reason: 'ENCLAVE_UNAVAILABLE' },
    ]);

    // A database error is no code of ours: INTERNAL.
    const broken = world({ handlers: loginOk() });
    const repoErr = new Error('connection lost');
    (broken as unknown as { service: unknown }).service = createAuthServiceWithBrokenLookup(
      repoErr,
      broken,
    );
    await assert.rejects(
      (broken.service as ReturnType<typeof createAuthService>).login('a@example.test', {
        password: 'x',
      }),
      /connection lost/,
    );
    assert.deepEqual(broken.emitted.at(-1), {
      type: 'auth.login_failed',
      userId: null,
      reason: 'INTERNAL',
    });
  });
});

/** A service whose user lookup throws `err`, the rest from `w`. */
function createAuthServiceWithBrokenLookup(err: Error, w: ReturnType<typeof world>) {
  return createAuthService({
    enclave: { call: callOf(w) },
    repo: {
      findLoginUser: async () => {
        throw err;
      },
    } as never,
    log: {} as never,
    verifier: {} as never,
    throttle: {
      begin: async () => 0,
      refund: async () => undefined,
      succeeded: async () => undefined,
      waitMs: async () => 0,
      failed: async () => undefined,
    },
    ops: {
      record: async () => undefined,
      emit: (e: unknown) => void w.emitted.push(e),
    } as never,
    config,
    logger: { error: () => undefined } as never,
  });
}

describe('auth service: refresh', () => {
  const TOKEN = 'ref-current';
  const row = (over: Partial<StoredRefresh> = {}): StoredRefresh => ({
    token_hash: sha(TOKEN),
    session_id: SID,
    user_id: UID,
    expires_at: NOW + 100,
    used_at: null,
    sealed_response: null,
    session_revoked: false,
    child_used: false,
    ...over,
  });
  const rotating = () => ({
    'auth.refresh': () => ({ ...tokens(), sealed_response: 'sealed-1' }),
    'auth.refresh_replay': () => tokens({ access_token: 'acc-replayed' }),
  });

  it('a fresh token rotates: the enclave call, the stored successor, the pair', async () => {
    const w = world({ handlers: rotating() });
    w.addUser();
    w.refresh.set(sha(TOKEN), row());
    const r = await w.service.refresh(TOKEN);
    assert.equal(r.access_token, 'acc');
    assert.equal(r.token_type, 'Bearer');
    assert.deepEqual(w.calls, [
      {
        method: 'auth.refresh',
        params: { refresh_token: TOKEN, user_id: UID, session_id: SID, roles: ['operator'] },
      },
    ]);
    assert.deepEqual(w.repoCalls, [
      [
        'rotate',
        sha(TOKEN),
        'sealed-1',
        { hash: sha('ref-next'), sessionId: SID, userId: UID, expiresAt: NOW + 86400 },
      ],
    ]);
  });

  it('refused as invalid: unknown, revoked session, expired (at the second), user gone or disabled', async () => {
    const cases: [string, (w: ReturnType<typeof world>) => void][] = [
      ['unknown', () => undefined],
      ['revoked', (w) => w.refresh.set(sha(TOKEN), row({ session_revoked: true }))],
      ['expired now', (w) => w.refresh.set(sha(TOKEN), row({ expires_at: NOW }))],
      ['expired', (w) => w.refresh.set(sha(TOKEN), row({ expires_at: NOW - 1 }))],
      ['user gone', (w) => (w.refresh.set(sha(TOKEN), row()), w.users.clear())],
      [
        'user disabled',
        (w) => (w.refresh.set(sha(TOKEN), row()), (w.users.get(UID)!.status = 'disabled')),
      ],
    ];
    for (const [name, set] of cases) {
      const w = world({ handlers: rotating() });
      w.addUser();
      set(w);
      await assert.rejects(w.service.refresh(TOKEN), { code: 'AUTH_REFRESH_INVALID' }, name);
      assert.deepEqual(w.calls, [], name);
    }
    // One second before expiry still works.
    const w = world({ handlers: rotating() });
    w.addUser();
    w.refresh.set(sha(TOKEN), row({ expires_at: NOW + 1 }));
    assert.equal((await w.service.refresh(TOKEN)).access_token, 'acc');
  });

  it('a retry within the grace window gets the same pair back, up to the last second', async () => {
    for (const age of [0, config.refreshGraceSeconds]) {
      const w = world({ handlers: rotating() });
      w.addUser();
      w.refresh.set(sha(TOKEN), row({ used_at: NOW - age, sealed_response: 'sealed-1' }));
      const r = await w.service.refresh(TOKEN);
      assert.equal(r.access_token, 'acc-replayed', `age ${age}`);
      assert.deepEqual(w.calls, [
        {
          method: 'auth.refresh_replay',
          params: {
            refresh_token: TOKEN,
            user_id: UID,
            session_id: SID,
            sealed_response: 'sealed-1',
          },
        },
      ]);
      assert.deepEqual(w.committed, [], 'nothing revoked');
    }
  });

  /** A reuse: every session of the user ends, logged, then the cache is dropped. */
  function assertReuse(w: ReturnType<typeof world>) {
    assert.deepEqual(w.repoCalls.at(-1), ['revokeAllSessions', w.TX, UID, 'refresh_reused']);
    assert.deepEqual(w.recorded, [
      { q: w.TX, event: { type: 'auth.refresh_reused', userId: UID, revoked: 3 } },
    ]);
    const entry = w.committed[0]!.entries[0] as { type: string; subject: string };
    assert.equal(entry.type, 'auth.refresh_reused');
    assert.equal(entry.subject, userLogSubject(UID));
    assert.deepEqual(w.steps, ['commit', 'forget'], 'forget after the commit');
  }

  it('reuse: after the grace window, with no stored response, or once the successor was used', async () => {
    const cases: Partial<StoredRefresh>[] = [
      { used_at: NOW - config.refreshGraceSeconds - 1, sealed_response: 'sealed-1' },
      { used_at: NOW, sealed_response: null },
      { used_at: NOW, sealed_response: 'sealed-1', child_used: true },
    ];
    for (const c of cases) {
      const w = world({ handlers: rotating() });
      w.addUser();
      w.refresh.set(sha(TOKEN), row(c));
      await assert.rejects(w.service.refresh(TOKEN), { code: 'AUTH_REFRESH_REUSED' });
      assert.deepEqual(w.calls, [], JSON.stringify(c));
      assertReuse(w);
    }
  });

  it('the enclave refusing the replay as a reuse revokes; any other error is passed on', async () => {
    /** A user whose token was rotated a moment ago; the enclave's replay fails with `code`. */
    const replayFails = (code: 'AUTH_REFRESH_REUSED' | 'ENCLAVE_UNAVAILABLE') => {
      const w = world({
        handlers: {
          'auth.refresh_replay': () => {
            throw new EnclaveCallError(code);
          },
        },
      });
      w.addUser();
      w.refresh.set(sha(TOKEN), row({ used_at: NOW, sealed_response: 'sealed-1' }));
      return w;
    };
    const reused = replayFails('AUTH_REFRESH_REUSED');
    await assert.rejects(reused.service.refresh(TOKEN), { code: 'AUTH_REFRESH_REUSED' });
    assertReuse(reused);

    const down = replayFails('ENCLAVE_UNAVAILABLE');
    await assert.rejects(down.service.refresh(TOKEN), { code: 'ENCLAVE_UNAVAILABLE' });
    assert.deepEqual(down.committed, [], 'an outage revokes nothing');
  });

  it('losing the rotation race: the request is a retry of the winner and gets its pair', async () => {
    const w = world({ handlers: rotating() });
    w.addUser();
    w.setRotateWins(false);
    w.refresh.set(sha(TOKEN), row());
    const r = await w.service.refresh(TOKEN);
    assert.equal(r.access_token, 'acc-replayed');
    assert.equal(w.calls.at(-1)!.params.sealed_response, 'sealed-other', 'the winner’s');
  });
});

describe('auth service: logout and roles', () => {
  it('logout ends one session of its user, forgets the cache and records it', async () => {
    const w = world();
    await w.service.logout(UID, SID);
    assert.deepEqual(w.repoCalls, [['revokeSession', w.DB, SID, UID, 'logout']]);
    assert.deepEqual(w.steps, ['forget']);
    assert.deepEqual(w.recorded, [{ q: w.DB, event: { type: 'auth.logout', userId: UID } }]);
  });

  it('logoutAll ends every session and answers how many', async () => {
    const w = world();
    assert.equal(await w.service.logoutAll(UID), 3);
    assert.deepEqual(w.repoCalls, [['revokeAllSessions', w.DB, UID, 'logout_all']]);
    assert.deepEqual(w.steps, ['forget']);
    assert.deepEqual(w.recorded, [
      { q: w.DB, event: { type: 'auth.logout_all', userId: UID, revoked: 3 } },
    ]);
  });

  it('setRole grants and revokes in the log commit, with who did it, then forgets', async () => {
    for (const action of ['grant', 'revoke'] as const) {
      const w = world();
      assert.deepEqual(await w.service.setRole(action, 'a@example.test', 'operator', 'op:x'), {
        user_id: UID,
      });
      assert.deepEqual(w.repoCalls, [
        [action === 'grant' ? 'grantRole' : 'revokeRole', 'a@example.test', 'operator', w.TX],
      ]);
      const type = action === 'grant' ? 'auth.role_granted' : 'auth.role_revoked';
      assert.deepEqual(w.recorded, [
        { q: w.TX, event: { type, userId: UID, role: 'operator', by: 'op:x' } },
      ]);
      const entry = w.committed[0]!.entries[0] as { type: string; subject: string };
      assert.equal(entry.type, type);
      assert.equal(entry.subject, userLogSubject(UID));
      assert.deepEqual(w.steps, ['commit', 'forget']);
    }
  });

  it('setRole on an unknown email: USER_NOT_FOUND, nothing recorded', async () => {
    const w = world();
    w.setRoleAnswer(null);
    await assert.rejects(w.service.setRole('grant', 'x@example.test', 'operator', 'op'), {
      code: 'USER_NOT_FOUND',
    });
    assert.deepEqual(w.recorded, []);
  });
});

describe('auth service: schedules', () => {
  /** A clock whose timers run only when the test says so. */
  function manualClock() {
    let now = T0;
    let timers: { at: number; fn: () => void; id: number }[] = [];
    let next = 1;
    const clock: Clock = {
      now: () => now,
      setTimeout(fn, ms) {
        const id = next++;
        timers.push({ at: now + ms, fn, id });
        return id;
      },
      clearTimeout(h) {
        timers = timers.filter((t) => t.id !== h);
      },
    };
    async function advance(ms: number) {
      now += ms;
      for (;;) {
        const due = timers.filter((t) => t.at <= now);
        if (due.length === 0) break;
        timers = timers.filter((t) => t.at > now);
        for (const t of due) t.fn();
        // Let the checks' promises settle.
        for (let i = 0; i < 20; i++) await Promise.resolve();
      }
    }
    return { clock, advance };
  }

  const T0 = 1_000_000;

  /** A service on a manual clock whose enclave rotates keys. */
  function scheduled() {
    const { clock, advance } = manualClock();
    const w = world({
      clock,
      handlers: {
        'auth.prepare_rotation': () => ({ sealed: 'blob-2', generation: 2, kid: 'kid-2' }),
        'auth.activate': () => ({ keys: [] }),
        'auth.init': () => ({ keys: [], sealed: null, generation: 2 }),
      },
    });
    return { w, advance };
  }

  it('the JWKS is re-read every 30 s; the key rollover is due from the stored keyring’s time', async () => {
    const { w, advance } = scheduled();
    // Stored long ago: the rollover is due at the first check, at once.
    w.setLatest({ generation: 1, sealed: 'blob-1' }, T0 - 100_000);
    w.service.start();
    await advance(0);
    const count = (m: string) => w.calls.filter((c) => c.method === m).length;
    assert.equal(count('auth.prepare_rotation'), 1);
    // A re-read is auth.init with the newest stored keyring (another member may have rotated),
    // or auth.jwks when none is stored.
    const reads = () => count('auth.jwks') + count('auth.init');
    const before = reads();
    await advance(29_999);
    assert.equal(reads(), before);
    await advance(1);
    assert.equal(reads(), before + 1, 'at 30 s');
    await w.service.stop();
    const after = w.calls.length;
    await advance(120_000);
    assert.equal(w.calls.length, after, 'stop() ends both schedules');
    assert.deepEqual(w.errors, []);
  });

  it('a failed run is logged under its job’s name', async () => {
    const { clock, advance } = manualClock();
    const fail = () => {
      throw new EnclaveCallError('ENCLAVE_UNAVAILABLE');
    };
    const w = world({ clock, handlers: { 'auth.jwks': fail, 'auth.prepare_rotation': fail } });
    w.setLatest({ generation: 1, sealed: 'blob-1' }, T0 - 100_000);
    w.service.start();
    await advance(0);
    await advance(30_000);
    await w.service.stop();
    const jobs = new Set(w.errors.map((e) => (e as [{ job: string; code: string }])[0].job));
    assert.deepEqual([...jobs].sort(), ['auth key rotation', 'jwks refresh']);
  });

  it('with a lease, the rollover runs only on the instance that holds "auth key rotation"', async () => {
    for (const held of [false, true]) {
      const { clock, advance } = manualClock();
      const asked: string[] = [];
      const w = world({
        clock,
        lease: { acquire: async (name) => (asked.push(name), held) },
        handlers: {
          'auth.prepare_rotation': () => ({ sealed: 'blob-2', generation: 2, kid: 'kid-2' }),
          'auth.activate': () => ({ keys: [], generation: 2 }),
        },
      });
      w.setLatest(null, T0 - 100_000);
      w.service.start();
      await advance(0);
      await w.service.stop();
      assert.deepEqual(asked, ['auth key rotation']);
      const rotated = w.calls.filter((c) => c.method === 'auth.prepare_rotation').length;
      assert.equal(rotated, held ? 1 : 0, `lease held: ${held}`);
    }
  });

  it('without a stored keyring the rollover counts from start()', async () => {
    const { w, advance } = scheduled();
    w.service.start();
    await advance(0);
    await advance(9_999);
    assert.equal(w.calls.filter((c) => c.method === 'auth.prepare_rotation').length, 0);
    await advance(1);
    assert.equal(w.calls.filter((c) => c.method === 'auth.prepare_rotation').length, 1);
    await w.service.stop();
  });
});
