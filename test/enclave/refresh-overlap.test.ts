/**
 * `auth.refresh` signs on the thread pool and the dispatcher starts a frame's next calls while
 * it does (issue 17, `overlapping` in the method table). What must not change: every token is
 * valid and its answer opens as before, errors come back in their call's slot, results keep
 * their ids, and what a refresh reads from the enclave state (the signing key) is what was
 * there at its turn in the frame, not after later calls ran.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { after, before, describe, it } from 'node:test';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { PARTIAL_RESULTS, dispatchFrame } from '../../src/enclave/dispatcher.js';
import { readyAuthKeyring } from '../../src/enclave/auth/auth-state.js';
import { parseEnclaveConfig } from '../../src/enclave/config.js';
import { signJwt, signJwtAsync } from '../../src/enclave/auth/jwt.js';
import { newSessionId } from '../../src/enclave/auth/session-id.js';
import { makeRefreshToken, openResponse, refreshTokenHash } from '../../src/enclave/auth/tokens.js';
import { HANDLERS } from '../../src/enclave/methods/index.js';
import type { Result } from '../../src/protocol/rpc/frame.js';
import { testEnclave } from '../helpers/enclave-state.js';

async function readyAuth(env: Record<string, string> = {}) {
  const t = testEnclave({ env });
  await HANDLERS['keyring.generate'](t.state, { policy: 'signer' });
  await HANDLERS['auth.init'](t.state, { sealed: null });
  return t;
}

function refreshCall(t: Awaited<ReturnType<typeof readyAuth>>, id: number, valid = true) {
  const keyring = readyAuthKeyring(t.state);
  const user = randomUUID();
  // A session signed in now (its id carries its start: session-id.ts).
  const session = newSessionId(t.clock.now);
  const token = makeRefreshToken(keyring.refreshKey, user, session, t.clock.now + 3600);
  return {
    id,
    method: 'auth.refresh',
    params: {
      // Another user's subject under a valid token: its MAC does not match.
      refresh_token: token,
      user_id: valid ? user : randomUUID(),
      session_id: session,
      roles: [],
    },
  };
}

const kidOf = (jwt: string) =>
  (JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString()) as { kid: string }).kid;

describe('auth.refresh on the thread pool', () => {
  it('signJwtAsync makes the same token as signJwt but for the signature, and it verifies', async () => {
    const t = await readyAuth();
    const key = readyAuthKeyring(t.state).signingKey(t.clock.now);
    const claims = {
      iss: 'i',
      aud: 'a',
      sub: randomUUID(),
      sid: randomUUID(),
      exp: t.clock.now + 60,
      iat: t.clock.now,
      jti: randomUUID(),
      roles: [],
    };
    const a = await signJwtAsync(key, claims);
    const s = signJwt(key, claims);
    assert.equal(a.split('.').slice(0, 2).join('.'), s.split('.').slice(0, 2).join('.'));
    const jwks = createLocalJWKSet({ keys: (await HANDLERS['auth.jwks'](t.state, {})).keys });
    const v = await jwtVerify(a, jwks, {
      issuer: 'i',
      audience: 'a',
      currentDate: new Date(t.clock.now * 1000),
    });
    assert.equal(v.payload.jti, claims.jti);
  });

  it('a signing failure rejects (it is not swallowed)', async () => {
    const t = await readyAuth();
    const key = readyAuthKeyring(t.state).signingKey(t.clock.now);
    const { createSecretKey } = await import('node:crypto');
    const broken = { ...key, privateKey: createSecretKey(Buffer.alloc(32)) };
    await assert.rejects(signJwtAsync(broken, {} as never));
  });

  it('a long mixed frame: every result in its slot, valid tokens, errors where they belong', async () => {
    const t = await readyAuth();
    const n = 3 * PARTIAL_RESULTS + 5;
    const calls = Array.from({ length: n }, (_, i) =>
      i % 7 === 3
        ? { id: 1000 + i, method: 'enclave.status', params: {} }
        : refreshCall(t, 1000 + i, i % 5 !== 1),
    );
    const ahead: Result[][] = [];
    const frame = await dispatchFrame(t.state, { calls }, undefined, (r) => ahead.push(r));
    assert.ok('results' in frame);
    const all = [...ahead.flat(), ...frame.results];
    assert.equal(all.length, n);
    assert.ok(ahead.length >= 2, 'results are sent ahead in groups');
    for (const g of ahead) assert.equal(g.length, PARTIAL_RESULTS);
    const jwks = createLocalJWKSet({ keys: (await HANDLERS['auth.jwks'](t.state, {})).keys });
    const byId = new Map(all.map((r) => [r.id, r]));
    assert.equal(byId.size, n);
    for (const [i, call] of calls.entries()) {
      const r = byId.get(call.id)!;
      if (call.method === 'enclave.status') {
        assert.equal(r.ok, true);
        continue;
      }
      if (i % 5 === 1) {
        assert.equal(r.ok, false);
        assert.equal(!r.ok && r.error.code, 'AUTH_REFRESH_INVALID');
        continue;
      }
      assert.equal(r.ok, true, JSON.stringify(r));
      const out = (r as { result: Record<string, string> }).result;
      const v = await jwtVerify(out.access_token!, jwks, {
        issuer: t.state.auth.config.AUTH_ISSUER,
        audience: t.state.auth.config.AUTH_AUDIENCE,
        currentDate: new Date(t.clock.now * 1000),
      });
      const p = (call as ReturnType<typeof refreshCall>).params;
      assert.equal(v.payload.sub, p.user_id);
      assert.equal(v.payload.sid, p.session_id);
      // The sealed answer opens for the token it answered, with this very pair in it.
      const opened = openResponse(
        readyAuthKeyring(t.state).responseKey,
        refreshTokenHash(p.refresh_token),
        out.sealed_response!,
      );
      assert.equal(opened.access_token, out.access_token);
      assert.equal(opened.refresh_token, out.refresh_token);
      assert.equal(out.refresh_hash, refreshTokenHash(out.refresh_token!));
    }
  });

  it('a refresh signs with the key of its turn: a key activated later in the frame does not leak back', async () => {
    const t = await readyAuth({ AUTH_KEY_PREPUBLISH_SECONDS: '0' });
    const before = readyAuthKeyring(t.state).signingKey(t.clock.now).kid;
    t.clock.now += 1;
    const next = await HANDLERS['auth.prepare_rotation'](t.state, {});
    assert.notEqual(next.kid, before);
    const calls = [
      refreshCall(t, 1),
      refreshCall(t, 2),
      {
        id: 3,
        method: 'auth.activate',
        params: { sealed: next.sealed, generation: next.generation },
      },
      refreshCall(t, 4),
    ];
    const frame = await dispatchFrame(t.state, { calls });
    assert.ok('results' in frame);
    const kids = frame.results.map((r) =>
      r.ok && r.id !== 3 ? kidOf((r.result as { access_token: string }).access_token) : null,
    );
    assert.deepEqual(kids, [before, before, null, next.kid]);
    assert.deepEqual(
      frame.results.map((r) => r.id),
      [1, 2, 3, 4],
    );
  });
  it('Argon2id hashes that fill the thread pool do not hold up a refresh (nor its frame)', async () => {
    // The @node-rs/argon2 addon hashes on libuv's thread pool too. With as many hashes running
    // as the pool has threads (AUTH_ARGON2_CONCURRENCY may be set that high), a signature
    // queued behind them would wait for one to finish, and with it the rest of its frame and
    // the later frames of its connection: what `detached` promises not to let a hash do.
    // libuv's pool as this process has it (UV_THREADPOOL_SIZE, default 4), as the enclave parses it.
    const { UV_THREADPOOL_SIZE: poolSize } = parseEnclaveConfig({
      UV_THREADPOOL_SIZE: process.env.UV_THREADPOOL_SIZE,
    });
    const t = await readyAuth({ AUTH_ARGON2_CONCURRENCY: String(poolSize) });
    let hashed = 0;
    const hashes = Array.from({ length: poolSize }, (_, i) =>
      t.state.auth.hasher.hash(`password number ${i}`).then(() => {
        hashed++;
      }),
    );
    assert.equal(t.state.auth.hasher.queueStats.running, poolSize);
    const frame = await dispatchFrame(t.state, { calls: [refreshCall(t, 1)] });
    assert.equal(hashed, 0, 'the refresh was answered before any hash finished');
    assert.ok('results' in frame);
    assert.equal(frame.results[0]!.ok, true, JSON.stringify(frame.results[0]));
    await Promise.all(hashes);
  });
});

/**
 * node:crypto's asynchronous `sign` (the one signJwtAsync calls) wrapped to count signatures in
 * flight: the dispatcher must start a frame's next refresh while earlier ones sign (that is
 * what `overlapping` is for), and hold at most 2 × PARTIAL_RESULTS of them outstanding. The
 * wrapper reaches the ESM binding through syncBuiltinESMExports; the synchronous form is
 * passed through untouched.
 */
describe('the dispatcher overlaps refresh signatures, within its bound', () => {
  const crypto = createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto');
  const original = crypto.sign;
  const seen = { inFlight: 0, most: 0, started: 0, order: [] as string[] };
  before(() => {
    (crypto as { sign: unknown }).sign = (...args: unknown[]) => {
      const cb = args[3] as ((err: Error | null, sig: Buffer) => void) | undefined;
      if (typeof cb !== 'function') return (original as (...a: unknown[]) => Buffer)(...args);
      const n = ++seen.started;
      seen.order.push(`start ${n}`);
      seen.most = Math.max(seen.most, ++seen.inFlight);
      return (original as (...a: unknown[]) => void)(
        args[0],
        args[1],
        args[2],
        (err: Error | null, sig: Buffer) => {
          seen.inFlight--;
          seen.order.push(`end ${n}`);
          cb(err, sig);
        },
      );
    };
    syncBuiltinESMExports();
  });
  after(() => {
    (crypto as { sign: unknown }).sign = original;
    syncBuiltinESMExports();
  });
  const reset = () => Object.assign(seen, { inFlight: 0, most: 0, started: 0, order: [] });

  it('the second refresh of a frame starts signing before the first signature is back', async () => {
    const t = await readyAuth();
    reset();
    const frame = await dispatchFrame(t.state, { calls: [refreshCall(t, 1), refreshCall(t, 2)] });
    assert.ok('results' in frame && frame.results.every((r) => r.ok));
    assert.deepEqual(seen.order.slice(0, 2), ['start 1', 'start 2']);
  });

  it('a call that is not overlapping is over before the next call starts', async () => {
    // attestation.get awaits the platform's evidence; the refresh after it must not start first.
    const t = await readyAuth();
    reset();
    const platform = t.state.platform as { evidence: (d: Uint8Array) => Promise<Uint8Array> };
    const evidence = platform.evidence.bind(platform);
    platform.evidence = async (d) => {
      await new Promise<void>((r) => setImmediate(r));
      const quote = await evidence(d);
      seen.order.push('evidence');
      return quote;
    };
    const nonce = 'n'.repeat(16);
    const calls = [{ id: 1, method: 'attestation.get', params: { nonce } }, refreshCall(t, 2)];
    const frame = await dispatchFrame(t.state, { calls });
    assert.ok('results' in frame && frame.results.every((r) => r.ok), JSON.stringify(frame));
    assert.deepEqual(seen.order, ['evidence', 'start 1', 'end 1']);
  });

  it('a long frame holds at most 2 × PARTIAL_RESULTS signatures outstanding, none lost', async () => {
    const t = await readyAuth();
    reset();
    const n = 6 * PARTIAL_RESULTS + 3;
    const calls = Array.from({ length: n }, (_, i) => refreshCall(t, i + 1));
    const ahead: Result[][] = [];
    const frame = await dispatchFrame(t.state, { calls }, undefined, (r) => ahead.push(r));
    assert.ok('results' in frame);
    assert.equal(seen.started, n);
    assert.equal(seen.inFlight, 0);
    assert.ok(seen.most > PARTIAL_RESULTS, `overlapping across groups (${seen.most})`);
    assert.ok(seen.most <= 2 * PARTIAL_RESULTS, `at most ${2 * PARTIAL_RESULTS}: ${seen.most}`);
    const ids = [...ahead.flat(), ...frame.results].map((r) => r.id).sort((a, b) => a - b);
    assert.deepEqual(
      ids,
      calls.map((c) => c.id),
    );
  });
});
