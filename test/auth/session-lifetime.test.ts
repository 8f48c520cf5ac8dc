/**
 * A login session has an absolute end, AUTH_SESSION_MAX_AGE_SECONDS after sign-in
 * (docs/protocol/auth.md, "Session lifetime"; SECURITY.md, "Sessions: attack review"). The
 * sign-in time is in the session id, which the refresh token's MAC and the access token's
 * signature cover, so neither a refresh nor a step-up, nor a host that edits its rows or sets
 * the clock back, reaches past it. On in-process enclaves with a settable clock.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { readyAuthKeyring } from '../../src/enclave/auth/auth-state.js';
import { signJwt } from '../../src/enclave/auth/jwt.js';
import { newSessionId, sessionEnd } from '../../src/enclave/auth/session-id.js';
import { makeRefreshToken } from '../../src/enclave/auth/tokens.js';
import { parseEnclaveConfig } from '../../src/enclave/config.js';
import { testEnclave, type TestEnclave } from '../helpers/enclave-state.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { account, claimsOf } from '../mutation-killers/auth-account.js';
import { code, ok, rpc } from '../mutation-killers/rpc.js';
import type { MethodResult } from '../../src/protocol/rpc/methods.js';

const MAX_AGE = 3600;

async function signedIn(env: Record<string, string> = {}) {
  const t = testEnclave({ env: { AUTH_SESSION_MAX_AGE_SECONDS: String(MAX_AGE), ...env } });
  await ok(t, 'keyring.generate', { policy: 'signer' });
  await ok(t, 'auth.init', { sealed: null });
  const { email, binding, login } = await account(t);
  return { t, email, binding, login, signedInAt: t.clock.now };
}

const refresh = (t: TestEnclave, token: string, user: string, session: string) =>
  code(t, 'auth.refresh', { refresh_token: token, user_id: user, session_id: session, roles: [] });

describe('absolute session lifetime', () => {
  it('a session refreshed every 10 minutes ends MAX_AGE after sign-in; no token reaches past it', async () => {
    const { t, login, signedInAt } = await signedIn();
    const end = signedInAt + MAX_AGE;
    assert.ok(login.access_expires_at <= end && login.refresh_expires_at <= end);
    let token = login.refresh_token;
    for (let at = signedInAt + 600; at < end; at += 600) {
      t.clock.now = at;
      const r = await ok(t, 'auth.refresh', {
        refresh_token: token,
        user_id: login.user_id,
        session_id: login.session_id,
        roles: [],
      });
      assert.ok(r.refresh_expires_at <= end, `refresh token past the end at ${at - signedInAt}`);
      assert.ok(r.access_expires_at <= end, `access token past the end at ${at - signedInAt}`);
      assert.equal(claimsOf(r.access_token).exp, r.access_expires_at);
      token = r.refresh_token;
    }
    t.clock.now = end;
    assert.equal(await refresh(t, token, login.user_id, login.session_id), 'AUTH_REFRESH_INVALID');
  });

  it('the end is read from the session id: a host cannot swap in a later id, and a clock set back revives nothing', async () => {
    const { t, login, signedInAt } = await signedIn();
    t.clock.now = signedInAt + MAX_AGE - 60;
    const last = await ok(t, 'auth.refresh', {
      refresh_token: login.refresh_token,
      user_id: login.user_id,
      session_id: login.session_id,
      roles: [],
    });
    t.clock.now = signedInAt + MAX_AGE;
    // A session id minted now (a "new" session) under the same token: the MAC covers the id.
    const later = newSessionId(t.clock.now);
    assert.equal(
      await refresh(t, last.refresh_token, login.user_id, later),
      'AUTH_REFRESH_INVALID',
    );
    assert.equal(
      await refresh(t, last.refresh_token, login.user_id, login.session_id),
      'AUTH_REFRESH_INVALID',
    );
    // The host sets the enclave's clock back into the session's life: still over.
    t.clock.now = signedInAt + MAX_AGE - 30;
    assert.equal(
      await refresh(t, last.refresh_token, login.user_id, login.session_id),
      'AUTH_REFRESH_INVALID',
    );
  });

  it('a step-up near the end issues tokens that stop at the end, and none after it', async () => {
    const { t, email, binding, login, signedInAt } = await signedIn();
    const end = signedInAt + MAX_AGE;
    const stepUp = async (accessToken: string) => {
      const start = await ok(t, 'auth.otp_start', { email, purpose: 'step_up' });
      return rpc(t, 'auth.step_up_email', {
        access_token: accessToken,
        roles: [],
        email,
        binding,
        code: /is (\d{6})\n/.exec(start.dev_mail!.text)![1]!,
      });
    };
    t.clock.now = end - 300;
    const r = await ok(t, 'auth.refresh', {
      refresh_token: login.refresh_token,
      user_id: login.user_id,
      session_id: login.session_id,
      roles: [],
    });
    const a = await stepUp(r.access_token);
    assert.ok(a.ok, JSON.stringify(a));
    const up = a.result as MethodResult<'auth.step_up_email'>;
    assert.equal(up.session_id, login.session_id);
    assert.ok(up.access_expires_at <= end && up.refresh_expires_at <= end);
    assert.ok((claimsOf(up.access_token).exp as number) <= end);
    t.clock.now = end;
    assert.equal(
      await refresh(t, up.refresh_token, login.user_id, login.session_id),
      'AUTH_REFRESH_INVALID',
    );
    // An access token of a session without a known start (a version 4 id, from before) is not
    // stepped up into a pair of its own.
    t.clock.now = end - 200;
    const { sid: _sid, ...claims } = claimsOf(up.access_token);
    const legacy = signJwt(readyAuthKeyring(t.state).signingKey(t.clock.now), {
      ...claims,
      sid: randomUUID(),
    } as Parameters<typeof signJwt>[1]);
    const refused = await stepUp(legacy);
    assert.equal(refused.ok ? 'ok' : refused.error.code, 'AUTH_TOKEN_INVALID');
  });

  it('a refresh token of a session made before sessions had an end (a version 4 id) is refused', async () => {
    const { t } = await signedIn();
    const keyring = readyAuthKeyring(t.state);
    const user = randomUUID();
    const legacy = randomUUID();
    const token = makeRefreshToken(keyring.refreshKey, user, legacy, t.clock.now + 3600);
    assert.equal(await refresh(t, token, user, legacy), 'AUTH_REFRESH_INVALID');
  });

  it('session ids are UUID v7 holding the sign-in second; the setting defaults to 30 days, at least 300 s', () => {
    const at = 1_800_000_123;
    const sid = newSessionId(at);
    assert.match(sid, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(sessionEnd(sid, 10), at + 10);
    assert.notEqual(newSessionId(at), sid);
    assert.equal(sessionEnd(randomUUID(), 10), 0);
    const base = { ENCLAVE_SOCKET_PATH: '/tmp/x.sock', SIMULATED_PLATFORM_DIR: '/tmp' };
    assert.equal(parseEnclaveConfig(base).AUTH_SESSION_MAX_AGE_SECONDS, 30 * 86400);
    assert.throws(() => parseEnclaveConfig({ ...base, AUTH_SESSION_MAX_AGE_SECONDS: '299' }));
  });
});

describe('absolute session lifetime through the service', () => {
  let ts: TestService;
  before(async () => {
    ts = await startTestService('pglite', {
      AUTH_DISABLED_FOR_DEVELOPMENT: 'false',
      AUTH_SESSION_MAX_AGE_SECONDS: '600',
    });
  });
  after(async () => {
    await ts?.stop();
  });
  const post = (url: string, payload: Record<string, unknown>) =>
    ts.service.app.inject({ method: 'POST', url, payload });

  it('the spawned enclave gets the setting: no token of the pair, nor of a refresh, outlives it', async () => {
    const email = 'lifetime@example.com';
    const password = 'lifetime-password-01';
    assert.equal((await post('/auth/register', { email, password })).statusCode, 201);
    const login = (await post('/auth/login', { email, password })).json();
    // The access token's lifetime (900 s by default) is cut to the session's 600.
    assert.ok(login.expires_in <= 600 && login.refresh_expires_in <= 600, JSON.stringify(login));
    const c = claimsOf(login.access_token) as { exp: number; iat: number; sid: string };
    assert.ok(c.exp - c.iat <= 600);
    assert.equal(c.sid[14], '7');
    const r = await post('/auth/refresh', { refresh_token: login.refresh_token });
    assert.equal(r.statusCode, 200, r.body);
    assert.ok(r.json().refresh_expires_in <= login.refresh_expires_in);
    assert.ok((claimsOf(r.json().access_token).exp as number) <= c.iat + 600);
  });
});
