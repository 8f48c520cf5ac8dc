/**
 * Security rules of the enclave that a mutation run found unguarded (issue 12, item 22): each
 * test here fails when its rule is removed. Everything goes through the real dispatcher
 * (`dispatchFrame`) on an in-process enclave with a settable clock, so the tests hold the RPC
 * contract, not internal function names.
 *
 * - `auth.refresh_replay` hands back the sealed pair only within AUTH_REFRESH_GRACE_SECONDS,
 *   counted by the enclave's own clock, whatever the host asks.
 * - The dispatcher's result allow-list: a field a handler returns that the result schema does
 *   not name never leaves the enclave (strict schemas make it an INTERNAL error).
 * - Every RPC result schema is strict, all the way down.
 * - A second `log.init` in one enclave process is refused unless it presents exactly the
 *   checkpoint the enclave holds: an older genuine one is a rollback.
 * - Envelope freshness: "issued before boot" and "too old" each refuse on their own.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { z } from 'zod';
import { encryptPassword } from '../../src/client/index.js';
import { CryptoHelper } from '../../src/client/index.js';
import { dispatchFrame } from '../../src/enclave/dispatcher.js';
import { sessionLogSubject, type LogEntry } from '../../src/protocol/log/entry.js';
import { METHODS, type MethodName } from '../../src/protocol/rpc/methods.js';
import { testEnclave, type TestEnclave } from '../helpers/enclave-state.js';
import { rpc, ok, type Answer } from './rpc.js';

async function refused(t: TestEnclave, method: string, params: unknown): Promise<string> {
  const a = await rpc(t, method, params);
  assert.equal(a.ok, false, `${method} was not refused: ${JSON.stringify(a)}`);
  return (a as { error: { code: string } }).error.code;
}

async function readyEnclave(env?: Record<string, string>) {
  const t = testEnclave(env ? { env } : {});
  const g = await ok(t, 'keyring.generate', { policy: 'signer' });
  return { t, pub: g.public.credential_keys[0]!.public_key, keyId: g.public.current_key_id };
}

/** An enclave process on a keyring an earlier one drew (a restart): the start rule applies. */
async function restartedEnclave() {
  const first = testEnclave();
  const g = await ok(first, 'keyring.generate', { policy: 'signer' });
  const t = testEnclave({ dir: first.dir });
  const u = await ok(t, 'keyring.unseal', { sealed: g.sealed });
  return { t, pub: u.public.credential_keys[0]!.public_key, keyId: u.public.current_key_id };
}

describe('auth.refresh_replay: the grace window is the enclave’s', () => {
  /** A logged-in session and one refresh: the token it rotated and the sealed retry answer. */
  async function refreshed(env?: Record<string, string>) {
    const { t } = await readyEnclave(env);
    await ok(t, 'auth.init', { sealed: null });
    const email = 'grace@example.test';
    const password = 'correct horse battery staple';
    const reg = await ok(t, 'auth.register', { email, secret: { password } });
    const login = await ok(t, 'auth.login', {
      email,
      secret: { password },
      user: { user_id: reg.user_id, password_sealed: reg.password_sealed, roles: [] },
    });
    const ids = { user_id: login.user_id, session_id: login.session_id };
    const refresh = await ok(t, 'auth.refresh', {
      ...ids,
      refresh_token: login.refresh_token,
      roles: [],
    });
    const replay = {
      ...ids,
      refresh_token: login.refresh_token,
      sealed_response: refresh.sealed_response,
    };
    return { t, refresh, replay };
  }

  it('hands back the same pair up to the window’s end, and refuses one second later', async () => {
    const { t, refresh, replay } = await refreshed();
    t.clock.now += 5; // AUTH_REFRESH_GRACE_SECONDS default
    const again = await ok(t, 'auth.refresh_replay', replay);
    assert.equal(again.access_token, refresh.access_token);
    assert.equal(again.refresh_token, refresh.refresh_token);
    const schema = METHODS['auth.refresh_replay'].result;
    assert.equal(schema.safeParse({ ...again, extra: 1 }).success, false, 'strict result');
    t.clock.now += 1;
    assert.equal(await refused(t, 'auth.refresh_replay', replay), 'AUTH_REFRESH_REUSED');
  });

  it('refuses a replay an hour later, though the refresh token itself is still valid', async () => {
    const { t, replay } = await refreshed({ AUTH_REFRESH_GRACE_SECONDS: '0' });
    assert.equal((await rpc(t, 'auth.refresh_replay', replay)).ok, true, 'same second: in window');
    t.clock.now += 3600;
    assert.equal(await refused(t, 'auth.refresh_replay', replay), 'AUTH_REFRESH_REUSED');
    // The token is not what stopped it: a fresh rotation of it still verifies (and is reuse
    // detection's business, on the host).
    assert.equal(
      (
        await rpc(t, 'auth.refresh', {
          user_id: replay.user_id,
          session_id: replay.session_id,
          refresh_token: replay.refresh_token,
          roles: [],
        })
      ).ok,
      true,
    );
  });
});

describe('dispatcher result allow-list', () => {
  const canary = 'canary-5a7c1e0d';

  it('a field the result schema does not name never leaves the enclave', async () => {
    const { t } = await readyEnclave();
    const nonce = { nonce: 'abcdefghijklmnop' };
    assert.equal(
      (await rpc(t, 'attestation.get', nonce)).ok,
      true,
      'the unaltered enclave answers',
    );
    // The keyring's public view (its only outward view) grows a field, as if a private key were
    // added to it by mistake: attestation.get spreads that view into its answer.
    const slot = t.state.keyrings.credential;
    const real = slot.active!;
    const altered = new Proxy(real, {
      get(target, prop) {
        if (prop === 'publicKeys')
          return () => {
            const v = target.publicKeys();
            return { ...v, signing_keys: { ...v.signing_keys, seed: canary } };
          };
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
      },
    });
    // An own getter shadows the slot's: the enclave now reads the altered keyring.
    Object.defineProperty(slot, 'active', { get: () => altered, configurable: true });
    const frame = await dispatchFrame(t.state, {
      calls: [{ id: 1, method: 'attestation.get', params: nonce }],
    });
    assert.ok(!JSON.stringify(frame).includes(canary), 'the extra field crossed the boundary');
    // Strict: the mismatch is an error, not a silently trimmed answer.
    assert.deepEqual(
      (frame as { results: Answer[] }).results.map((r) => (r.ok ? 'ok' : r.error.code)),
      ['INTERNAL'],
    );
  });

  it('a value of the wrong type never leaves either', async () => {
    const t = testEnclave();
    // The platform's name becomes an object carrying data: enclave.status copies it out.
    (t.state as { platform: unknown }).platform = Object.create(t.state.platform, {
      name: { value: { leaked: canary } },
    });
    const frame = await dispatchFrame(t.state, {
      calls: [{ id: 1, method: 'enclave.status', params: {} }],
    });
    assert.ok(!JSON.stringify(frame).includes(canary), 'an unchecked value crossed the boundary');
    assert.equal(await refused(t, 'enclave.status', {}), 'INTERNAL');
  });
});

/**
 * Values that leave the enclave as opaque public data, each with why no secret can ride in them:
 * the WebAuthn options @simplewebauthn/server builds, which the browser needs verbatim.
 */
const OPAQUE_PUBLIC: Record<string, string> = {
  'auth.passkey_register_options.options{}':
    'creation options: a fresh challenge, the RP, the user handle and the accepted algorithms',
  'auth.passkey_login_options.options{}':
    'request options: a fresh challenge, the RP id and the allowed credential ids',
  'auth.passkey_step_up_options.options{}':
    'request options: a fresh challenge, the RP id and the account’s own credential ids',
};

/** Paths of every object schema inside `schema` that would accept (or strip) unknown keys. */
function lenientObjects(schema: z.ZodType, path: string, seen: { objects: number }): string[] {
  const def = (schema as unknown as { _zod: { def: Record<string, unknown> & { type: string } } })
    ._zod.def;
  const inner = (s: unknown, p = path) => lenientObjects(s as z.ZodType, p, seen);
  switch (def.type) {
    case 'object': {
      seen.objects++;
      const catchall = def.catchall as { _zod: { def: { type: string } } } | undefined;
      const own = catchall?._zod.def.type === 'never' ? [] : [path];
      const shape = def.shape as Record<string, unknown>;
      return [...own, ...Object.entries(shape).flatMap(([k, v]) => inner(v, `${path}.${k}`))];
    }
    case 'array':
      return inner(def.element, `${path}[]`);
    case 'nullable':
    case 'optional':
    case 'default':
    case 'readonly':
      return inner(def.innerType);
    case 'pipe':
      return inner(def.in);
    case 'union':
      return (def.options as unknown[]).flatMap((o, i) => inner(o, `${path}|${i}`));
    case 'record':
      return inner(def.valueType, `${path}{}`);
    case 'string':
    case 'number':
    case 'int':
    case 'boolean':
    case 'literal':
    case 'enum':
    case 'null':
    case 'bigint':
    case 'custom':
    case 'template_literal':
      return [];
    default:
      if (path in OPAQUE_PUBLIC) return [];
      return [`${path} (unexpected schema type ${def.type})`];
  }
}

describe('RPC result schemas', () => {
  it('every method’s result schema is strict at every level', () => {
    const seen = { objects: 0 };
    const lenient = Object.entries(METHODS).flatMap(([name, spec]) =>
      lenientObjects(spec.result as z.ZodType, name, seen),
    );
    assert.deepEqual(lenient, []);
    assert.ok(seen.objects >= Object.keys(METHODS).length, 'the walk saw the result objects');
  });

  it('each result schema refuses an unknown top-level key on a valid answer', async () => {
    // Valid answers from a real enclave, one per method that needs no secret input.
    const t = testEnclave();
    const answers: Partial<Record<MethodName, unknown>> = {
      'keyring.generate': await ok(t, 'keyring.generate', { policy: 'signer' }),
      'enclave.status': await ok(t, 'enclave.status', {}),
      'keyring.prepare_rotation': await ok(t, 'keyring.prepare_rotation', {}),
      'attestation.get': await ok(t, 'attestation.get', { nonce: 'abcdefghijklmnop' }),
      'log.init': await ok(t, 'log.init', { checkpoint: null, frontier: [] }),
      'auth.init': await ok(t, 'auth.init', { sealed: null }),
      'auth.jwks': await ok(t, 'auth.jwks', {}),
      'auth.stats': await ok(t, 'auth.stats', {}),
    };
    for (const [method, answer] of Object.entries(answers)) {
      const schema = METHODS[method as MethodName].result;
      assert.equal(schema.safeParse(answer).success, true, `${method}: valid answer`);
      assert.equal(
        schema.safeParse({ ...(answer as object), extra: 1 }).success,
        false,
        `${method}: an unknown key must be refused`,
      );
    }
  });
});

describe('log.init: one state per enclave process', () => {
  const entry = (): LogEntry => ({
    v: 1,
    type: 'credential.expired',
    subject: sessionLogSubject(crypto.randomUUID()),
    time: 1_800_000_000,
  });

  it('refuses a second init with an older (genuine) checkpoint, accepts the current one', async () => {
    const { t } = await readyEnclave();
    const first = await ok(t, 'log.init', { checkpoint: null, frontier: [] });
    const appended = await ok(t, 'log.append', { entries: [entry(), entry()] });
    // The older checkpoint is genuine (this enclave signed it) and its frontier is right.
    assert.equal(
      await refused(t, 'log.init', { checkpoint: first.checkpoint, frontier: [] }),
      'LOG_STATE_INVALID',
    );
    const current = await ok(t, 'log.init', { checkpoint: appended.checkpoint, frontier: [] });
    assert.equal(current.size, 2);
    assert.equal(current.checkpoint, appended.checkpoint);
    // The refused init changed nothing: the next append extends the current tree.
    assert.equal((await ok(t, 'log.append', { entries: [entry()] })).first_index, 2);
  });

  it('refuses a second fresh start (checkpoint null) once the log holds entries', async () => {
    const { t } = await readyEnclave();
    await ok(t, 'log.init', { checkpoint: null, frontier: [] });
    await ok(t, 'log.append', { entries: [entry()] });
    assert.equal(
      await refused(t, 'log.init', { checkpoint: null, frontier: [] }),
      'LOG_STATE_INVALID',
    );
  });
});

describe('envelope freshness: each rule refuses on its own', () => {
  const creds = { exchange: 'binance' as const, apiKey: 'k', apiSecret: 's' };
  const metadata = { exchange: 'binance', label: 'main', ttl: 600 };

  it('issued before envelope_not_before but young: refused by the start rule alone', async () => {
    const { t, pub } = await restartedEnclave();
    // envelope_not_before = boot + max future skew + 1 (envelope-freshness.ts)
    const notBefore = t.state.bootTime + t.state.config.ENVELOPE_MAX_FUTURE_SECONDS + 1;
    t.clock.now = notBefore + 10; // an envelope from 1 s before not_before is 11 s old
    const at = (issuedAt: number) => CryptoHelper.encryptCredentials(creds, pub, { issuedAt });
    const young = await at(notBefore - 1);
    assert.ok(t.clock.now - (notBefore - 1) < t.state.config.ENVELOPE_MAX_AGE_SECONDS);
    assert.equal(
      await refused(t, 'credential.submit', { envelope: young, metadata }),
      'ENVELOPE_BEFORE_START',
    );
    await ok(t, 'credential.submit', { envelope: await at(notBefore), metadata });
  });

  it('a key this process drew itself is exempt from the start rule (no earlier process held it)', async () => {
    const { t, pub } = await readyEnclave();
    const notBefore = t.state.bootTime + t.state.config.ENVELOPE_MAX_FUTURE_SECONDS + 1;
    t.clock.now = notBefore + 10;
    const young = await CryptoHelper.encryptCredentials(creds, pub, { issuedAt: notBefore - 1 });
    await ok(t, 'credential.submit', { envelope: young, metadata });
  });

  it('issued after boot but too old: refused by the age rule alone', async () => {
    const { t, pub } = await readyEnclave();
    const maxAge = t.state.config.ENVELOPE_MAX_AGE_SECONDS;
    t.clock.now += maxAge + 100;
    const at = (issuedAt: number) => CryptoHelper.encryptCredentials(creds, pub, { issuedAt });
    const old = await at(t.clock.now - maxAge - 1);
    assert.ok(t.clock.now - maxAge - 1 > t.state.bootTime);
    assert.equal(
      await refused(t, 'credential.submit', { envelope: old, metadata }),
      'ENVELOPE_STALE',
    );
    await ok(t, 'credential.submit', { envelope: await at(t.clock.now - maxAge), metadata });
  });

  it('a password envelope from before envelope_not_before is refused by the same rule', async () => {
    const { t, pub, keyId } = await restartedEnclave();
    await ok(t, 'auth.init', { sealed: null });
    const notBefore = t.state.bootTime + t.state.config.ENVELOPE_MAX_FUTURE_SECONDS + 1;
    t.clock.now = notBefore + 10;
    const email = 'boot@example.test';
    const envelope = (issuedAt: number) =>
      encryptPassword(
        { action: 'register', email, password: 'correct horse battery staple' },
        pub,
        {
          keyId,
          issuedAt,
        },
      );
    assert.equal(
      await refused(t, 'auth.register', {
        email,
        secret: { envelope: envelope(notBefore - 1) },
      }),
      'ENVELOPE_BEFORE_START',
    );
    await ok(t, 'auth.register', { email, secret: { envelope: envelope(notBefore) } });
  });
});
