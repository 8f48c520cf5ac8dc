/**
 * Survivors of the mutation run in the enclave's auth, keyring and log methods that were real
 * holes (docs/mutation-testing.md): wrong passwords, forged refresh tokens, password envelopes
 * used for another action or account or replayed, the auth keyring's unseal and two-step
 * rotation, the credential keyring's unseal, and appends before the log is started. Through
 * the real dispatcher on in-process enclaves, as the host's RPC client calls them.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { CryptoHelper, encryptPassword } from '../../src/client/index.js';
import { testEnclave, type TestEnclave } from '../helpers/enclave-state.js';
import { ok, code } from './rpc.js';

const PASSWORD = 'correct horse battery staple';

async function authReady(dir?: string) {
  const t = testEnclave(dir ? { dir } : {});
  const g = await ok(t, 'keyring.generate', { policy: 'signer' });
  const init = await ok(t, 'auth.init', { sealed: null });
  return {
    t,
    pub: g.public.credential_keys[0]!.public_key,
    keyId: g.public.current_key_id,
    sealedKeyring: g.sealed,
    sealedAuth: init.sealed!,
  };
}

async function account(t: TestEnclave, roles: string[] = []) {
  const email = `${randomUUID()}@example.test`;
  const reg = await ok(t, 'auth.register', { email, secret: { password: PASSWORD } });
  const user = { user_id: reg.user_id, password_sealed: reg.password_sealed, roles };
  return { email, user };
}

const claimsOf = (jwt: string) =>
  JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;

describe('auth.login', () => {
  it('refuses a wrong password and an unknown account, with the same code', async () => {
    const { t } = await authReady();
    const { email, user } = await account(t);
    assert.equal(
      await code(t, 'auth.login', { email, secret: { password: `${PASSWORD}!` }, user }),
      'AUTH_INVALID_CREDENTIALS',
    );
    assert.equal(
      await code(t, 'auth.login', { email, secret: { password: PASSWORD }, user: null }),
      'AUTH_INVALID_CREDENTIALS',
    );
    assert.equal(
      await code(t, 'auth.login', { email, secret: { password: PASSWORD }, user }),
      'ok',
    );
  });

  it('issues a token with the configured claims, lifetime and roles', async () => {
    const t = testEnclave({ env: { AUTH_ISSUER: 'https://iss.test', AUTH_AUDIENCE: 'aud.test' } });
    await ok(t, 'keyring.generate', { policy: 'signer' });
    await ok(t, 'auth.init', { sealed: null });
    const { email, user } = await account(t, ['operator', 'operator']);
    const login = await ok(t, 'auth.login', { email, secret: { password: PASSWORD }, user });
    const now = t.clock.now;
    assert.equal(login.access_expires_at, now + 900);
    assert.equal(login.refresh_expires_at, now + 30 * 86400);
    const c = claimsOf(login.access_token);
    assert.equal(c.iss, 'https://iss.test');
    assert.equal(c.aud, 'aud.test');
    assert.equal(c.sub, user.user_id);
    assert.equal(c.sid, login.session_id);
    assert.equal(c.exp, now + 900);
    assert.deepEqual(c.roles, ['operator']);
  });

  it('a login envelope: only for login, only for its email, only once', async () => {
    const { t, pub, keyId } = await authReady();
    const { email, user } = await account(t);
    const env = (action: 'login' | 'register', forEmail = email) =>
      encryptPassword({ action, email: forEmail, password: PASSWORD }, pub, {
        keyId,
        issuedAt: t.clock.now,
      });
    const login = (envelope: unknown) =>
      code(t, 'auth.login', { email, secret: { envelope }, user });
    assert.equal(await login(env('register')), 'AUTH_ENVELOPE_MISMATCH');
    assert.equal(await login(env('login', 'someone.else@example.test')), 'AUTH_ENVELOPE_MISMATCH');
    const good = env('login');
    assert.equal(await login(good), 'ok');
    assert.equal(await login(good), 'ENVELOPE_REPLAYED');
  });

  it('a password envelope stays spent for its whole freshness window', async () => {
    const { t, pub, keyId } = await authReady();
    const email = `${randomUUID()}@example.test`;
    const { ENVELOPE_MAX_AGE_SECONDS: age, ENVELOPE_MAX_FUTURE_SECONDS: future } = t.state.config;
    // Issued as far ahead as allowed, it is fresh until now + future + age.
    const envelope = encryptPassword({ action: 'register', email, password: PASSWORD }, pub, {
      keyId,
      issuedAt: t.clock.now + future,
    });
    assert.equal(await code(t, 'auth.register', { email, secret: { envelope } }), 'ok');
    t.clock.now += future + age;
    assert.equal(
      await code(t, 'auth.register', { email, secret: { envelope } }),
      'ENVELOPE_REPLAYED',
    );
  });

  it('a stale envelope stays spent; one that did not open may be sent again', async () => {
    const { t, pub, keyId } = await authReady();
    const email = `${randomUUID()}@example.test`;
    const stale = encryptPassword({ action: 'register', email, password: PASSWORD }, pub, {
      keyId,
      issuedAt: t.clock.now - 1000,
    });
    t.clock.now += 1000;
    assert.equal(
      await code(t, 'auth.register', { email, secret: { envelope: stale } }),
      'ENVELOPE_STALE',
    );
    assert.equal(
      await code(t, 'auth.register', { email, secret: { envelope: stale } }),
      'ENVELOPE_REPLAYED',
    );
    // A tampered envelope is refused as invalid and does not use up its sender key.
    const fresh = encryptPassword({ action: 'register', email, password: PASSWORD }, pub, {
      keyId,
      issuedAt: t.clock.now,
    }) as unknown as Record<string, string>;
    const flip = (b64: string) => {
      const bytes = Buffer.from(b64, 'base64');
      bytes[0]! ^= 1;
      return bytes.toString('base64');
    };
    const field = 'ciphertext' in fresh ? 'ciphertext' : 'tag';
    const tampered = { ...fresh, [field]: flip(fresh[field]!) };
    assert.equal(
      await code(t, 'auth.register', { email, secret: { envelope: tampered } }),
      'ENVELOPE_INVALID',
    );
    assert.equal(await code(t, 'auth.register', { email, secret: { envelope: fresh } }), 'ok');
  });

  it('refuses to register before the auth keyring is loaded', async () => {
    const t = testEnclave();
    await ok(t, 'keyring.generate', { policy: 'signer' });
    assert.equal(
      await code(t, 'auth.register', { email: 'a@example.test', secret: { password: PASSWORD } }),
      'AUTH_NOT_READY',
    );
  });
});

describe('auth.refresh', () => {
  it('rotates only a token issued for that user and session', async () => {
    const { t } = await authReady();
    const a = await account(t);
    const b = await account(t);
    const la = await ok(t, 'auth.login', {
      email: a.email,
      secret: { password: PASSWORD },
      user: a.user,
    });
    const lb = await ok(t, 'auth.login', {
      email: b.email,
      secret: { password: PASSWORD },
      user: b.user,
    });
    const refresh = (token: string, user_id: string, session_id: string) =>
      code(t, 'auth.refresh', { refresh_token: token, user_id, session_id, roles: [] });
    assert.equal(
      await refresh(la.refresh_token, b.user.user_id, lb.session_id),
      'AUTH_REFRESH_INVALID',
    );
    assert.equal(
      await refresh(la.refresh_token, a.user.user_id, lb.session_id),
      'AUTH_REFRESH_INVALID',
    );
    assert.equal(await refresh(la.refresh_token, a.user.user_id, la.session_id), 'ok');
  });

  it('a replay needs the token the sealed answer was made for, for its user and session', async () => {
    const { t } = await authReady();
    const a = await account(t);
    const la = await ok(t, 'auth.login', {
      email: a.email,
      secret: { password: PASSWORD },
      user: a.user,
    });
    const ids = { user_id: a.user.user_id, session_id: la.session_id };
    const r = await ok(t, 'auth.refresh', { ...ids, refresh_token: la.refresh_token, roles: [] });
    assert.equal(
      await code(t, 'auth.refresh_replay', {
        ...ids,
        session_id: randomUUID(),
        refresh_token: la.refresh_token,
        sealed_response: r.sealed_response,
      }),
      'AUTH_REFRESH_INVALID',
    );
    assert.equal(
      await code(t, 'auth.refresh_replay', {
        ...ids,
        refresh_token: la.refresh_token,
        sealed_response: r.sealed_response,
      }),
      'ok',
    );
  });
});

describe('auth keyring lifecycle', () => {
  it('a restarted enclave unseals the stored auth keyring: same keys; init twice changes nothing', async () => {
    const first = await authReady();
    const jwks = await ok(first.t, 'auth.jwks', {});
    const again = await ok(first.t, 'auth.init', { sealed: null });
    assert.equal(again.sealed, null, 'already loaded: nothing new to store');
    assert.deepEqual(again.keys, jwks.keys);
    const second = testEnclave({ dir: first.t.dir });
    await ok(second, 'keyring.unseal', { sealed: first.sealedKeyring });
    const unsealed = await ok(second, 'auth.init', { sealed: first.sealedAuth });
    assert.equal(unsealed.sealed, null);
    assert.deepEqual(unsealed.keys, jwks.keys);
    const third = testEnclave({ dir: first.t.dir });
    await ok(third, 'keyring.unseal', { sealed: first.sealedKeyring });
    assert.equal(await code(third, 'auth.init', { sealed: first.sealedKeyring }), 'SEAL_INVALID');
  });

  it('auth.activate takes only the blob and generation of the last prepare', async () => {
    const { t } = await authReady();
    assert.equal(
      await code(t, 'auth.activate', { generation: 2, sealed: 'bm90IHByZXBhcmVk' }),
      'GENERATION_MISMATCH',
    );
    const a = await ok(t, 'auth.prepare_rotation', {});
    const b = await ok(t, 'auth.prepare_rotation', {});
    assert.equal(
      await code(t, 'auth.activate', { generation: a.generation, sealed: a.sealed }),
      'GENERATION_MISMATCH',
    );
    assert.equal(
      await code(t, 'auth.activate', { generation: b.generation + 1, sealed: b.sealed }),
      'GENERATION_MISMATCH',
    );
    const keys = await ok(t, 'auth.activate', { generation: b.generation, sealed: b.sealed });
    assert.equal(keys.generation, b.generation);
    assert.ok(keys.keys.some((k) => k.kid === b.kid));
  });
});

describe('credential keyring and log', () => {
  it('keyring.unseal restores the same keys on a restarted enclave; a tampered blob is refused', async () => {
    const t = testEnclave();
    const g = await ok(t, 'keyring.generate', { policy: 'signer' });
    const again = testEnclave({ dir: t.dir });
    const u = await ok(again, 'keyring.unseal', { sealed: g.sealed });
    assert.deepEqual(u.public, g.public);
    assert.equal(again.state.phase, 'ready');
    // An envelope sealed to the first instance opens in the second.
    const env = await CryptoHelper.encryptCredentials(
      { exchange: 'binance', apiKey: 'k', apiSecret: 's' },
      g.public.credential_keys[0]!.public_key,
      { issuedAt: again.clock.now },
    );
    assert.equal(
      await code(again, 'credential.submit', {
        envelope: env,
        metadata: { exchange: 'binance', label: 'x', ttl: 600 },
      }),
      'ok',
    );
    const other = testEnclave({ dir: t.dir });
    const bad = Buffer.from(g.sealed, 'base64');
    bad[bad.length - 1]! ^= 1;
    assert.notEqual(await code(other, 'keyring.unseal', { sealed: bad.toString('base64') }), 'ok');
    assert.equal(other.state.phase, 'awaiting_keyring');
  });

  it('log.append before log.init is LOG_NOT_READY', async () => {
    const t = testEnclave();
    await ok(t, 'keyring.generate', { policy: 'signer' });
    assert.equal(
      await code(t, 'log.append', {
        entries: [{ v: 1, type: 'credential.expired', subject: 'abc', time: 1 }],
      }),
      'LOG_NOT_READY',
    );
  });
});
