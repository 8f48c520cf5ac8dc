/**
 * Accounts and tokens end to end against the real service (real enclave process, PGlite):
 * register, login, refresh rotation, the grace window, reuse → every session revoked and
 * logged, logout(-all), JWKS and OpenID metadata, attested JWT keys, Argon2id call parity for
 * unknown email vs wrong password, and no password anywhere in the database or the logs.
 * Tokens are checked with jose (the SDK's verifier), never with the enclave's signer.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { calculateJwkThumbprint, decodeProtectedHeader } from 'jose';
import {
  CryptoHelper,
  encryptPassword,
  jwksIsAttested,
  verifyAccessToken,
} from '../../src/client/index.js';
import { computeReportData } from '../../src/protocol/attestation/report-data.js';
import { bytesToHex } from '../../src/protocol/encoding.js';
import { dumpPublicSchema, findNeedles, secretNeedles } from '../helpers/security-util.js';
import { engines, startTestService, type TestService } from '../helpers/service.js';

const ISSUER = 'https://cloister.test';
const AUDIENCE = 'cloister-test';
const policy = { issuer: ISSUER, audience: AUDIENCE };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const engine of engines())
  describe(`authentication (${engine})`, () => {
    let ts: TestService;
    const passwords: string[] = [];
    /** The log lines of every run of the service (a restart starts a new array). */
    const runs: string[][] = [];
    const pw = (tag: string) => {
      const p = `PASSWORD-PLAINTEXT-${tag}-${Math.random().toString(36).slice(2, 10)}`;
      passwords.push(p);
      return p;
    };
    const post = (url: string, payload?: unknown, token?: string) =>
      ts.service.app.inject({
        method: 'POST',
        url,
        ...(payload !== undefined ? { payload: payload as Record<string, unknown> } : {}),
        headers: token ? { authorization: `Bearer ${token}` } : {},
      });
    const jwks = async () =>
      (await ts.service.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json();
    const stats = () => ts.service.enclave.call('auth.stats', {});

    before(async () => {
      ts = await startTestService(engine, {
        AUTH_ISSUER: ISSUER,
        AUTH_AUDIENCE: AUDIENCE,
        AUTH_KEY_PREPUBLISH_SECONDS: '0',
        AUTH_REFRESH_GRACE_SECONDS: '1',
        AUTH_LOGIN_MAX_PER_IP: '100000',
        AUTH_REGISTER_MAX_PER_IP: '100000',
        AUTH_LOGIN_FAILURES_BEFORE_BACKOFF: '1000',
      });
      runs.push(ts.logs);
    });
    after(async () => {
      await ts?.stop();
    });

    it('registers, logs in, and the token verifies with jose from the JWKS alone', async () => {
      const password = pw('a');
      const reg = await post('/auth/register', { email: 'Alice@Example.com', password });
      assert.equal(reg.statusCode, 201, reg.body);
      const login = await post('/auth/login', { email: 'alice@example.com', password });
      assert.equal(login.statusCode, 200, login.body);
      const body = login.json();
      assert.equal(body.token_type, 'Bearer');
      assert.ok(body.expires_in > 890 && body.expires_in <= 900);
      assert.match(body.refresh_token, /^rt1\./);
      const keys = await jwks();
      const claims = await verifyAccessToken(body.access_token, keys, policy);
      assert.equal(claims.sub, reg.json().user_id);
      assert.deepEqual(claims.roles, []);
      assert.ok(claims.exp - claims.iat === 900 && claims.jti && claims.sid);
      const kid = decodeProtectedHeader(body.access_token).kid;
      const key = keys.keys.find((k: { kid: string }) => k.kid === kid);
      assert.equal(
        await calculateJwkThumbprint({ kty: 'EC', crv: 'P-256', x: key.x, y: key.y }),
        kid,
      );
    });

    it('publishes OpenID metadata pointing at the JWKS', async () => {
      const res = await ts.service.app.inject({
        method: 'GET',
        url: '/.well-known/openid-configuration',
      });
      assert.equal(res.statusCode, 200);
      assert.equal(res.json().issuer, ISSUER);
      assert.equal(res.json().jwks_uri, `${ISSUER}/.well-known/jwks.json`);
    });

    it('binds the JWKS thumbprints into the attestation evidence', async () => {
      const nonce = CryptoHelper.newNonce();
      const res = await ts.service.app.inject({
        method: 'GET',
        url: `/attestation/quote?nonce=${nonce}`,
      });
      const att = res.json();
      await CryptoHelper.requireValidAttestation(att, ts.measurement, {
        nonce,
        trustedSimulatedVendorKeys: [ts.vendorKey],
      });
      assert.equal(bytesToHex(computeReportData(att)), att.report_data);
      assert.ok(jwksIsAttested(await jwks(), att.signing_keys.jwt));
      assert.equal(jwksIsAttested(await jwks(), []), false);
    });

    it('refuses short passwords, taken emails and bad bodies', async () => {
      const short = await post('/auth/register', {
        email: 'bob@example.com',
        password: 'elevenchars',
      });
      assert.equal(short.statusCode, 400);
      assert.equal(short.json().error.code, 'AUTH_PASSWORD_TOO_SHORT');
      const taken = await post('/auth/register', { email: 'alice@example.com', password: pw('t') });
      assert.equal(taken.json().error.code, 'AUTH_EMAIL_TAKEN');
      const both = await post('/auth/login', { email: 'alice@example.com' });
      assert.equal(both.json().error.code, 'VALIDATION_FAILED');
    });

    it('unknown email and wrong password: same error, exactly one Argon2id verify each', async () => {
      const s0 = await stats();
      const wrong = await post('/auth/login', {
        email: 'alice@example.com',
        password: pw('wrong'),
      });
      const s1 = await stats();
      const unknown = await post('/auth/login', { email: 'nobody@example.com', password: pw('u') });
      const s2 = await stats();
      assert.equal(wrong.statusCode, 401);
      assert.equal(unknown.statusCode, 401);
      assert.deepEqual(wrong.json(), unknown.json());
      assert.equal(wrong.json().error.code, 'AUTH_INVALID_CREDENTIALS');
      assert.equal(s1.argon2_verifies - s0.argon2_verifies, 1);
      assert.equal(s2.argon2_verifies - s1.argon2_verifies, 1);
      assert.equal(s2.argon2_hashes, s0.argon2_hashes);
    });

    it('accepts the password inside a credential envelope, once, and only for its account', async () => {
      const password = pw('env');
      const att = (
        await ts.service.app.inject({ method: 'GET', url: '/attestation/quote' })
      ).json();
      const env = (action: 'register' | 'login', email: string) =>
        encryptPassword({ action, email, password }, att.enclave_pubkey, { keyId: att.key_id });
      const reg = await post('/auth/register', {
        email: 'carol@example.com',
        envelope: env('register', 'carol@example.com'),
      });
      assert.equal(reg.statusCode, 201, reg.body);
      const envelope = env('login', 'carol@example.com');
      assert.equal(
        (await post('/auth/login', { email: 'carol@example.com', envelope })).statusCode,
        200,
      );
      const again = await post('/auth/login', { email: 'carol@example.com', envelope });
      assert.equal(again.json().error.code, 'ENVELOPE_REPLAYED');
      const other = await post('/auth/login', {
        email: 'alice@example.com',
        envelope: env('login', 'carol@example.com'),
      });
      assert.equal(other.json().error.code, 'AUTH_ENVELOPE_MISMATCH');
      const purpose = await post('/auth/login', {
        email: 'carol@example.com',
        envelope: env('register', 'carol@example.com'),
      });
      assert.equal(purpose.json().error.code, 'AUTH_ENVELOPE_MISMATCH');
      // An auth envelope is not an exchange credential.
      const submit = await ts.service.app.inject({
        method: 'POST',
        url: '/enclave/submit_key',
        payload: {
          ...env('login', 'carol@example.com'),
          metadata: { exchange: 'binance', label: 'x', ttl: 3600 },
        },
      });
      assert.equal(submit.statusCode, 400);
    });

    it('rotates refresh tokens, replays within the grace window, revokes all on reuse', async () => {
      const password = pw('d');
      await post('/auth/register', { email: 'dave@example.com', password });
      const a = (await post('/auth/login', { email: 'dave@example.com', password })).json();
      const other = (await post('/auth/login', { email: 'dave@example.com', password })).json();

      const r1 = await post('/auth/refresh', { refresh_token: a.refresh_token });
      assert.equal(r1.statusCode, 200, r1.body);
      const p1 = r1.json();
      assert.notEqual(p1.refresh_token, a.refresh_token);
      await verifyAccessToken(p1.access_token, await jwks(), policy);
      // A retry of the same token at once (lost response, two tabs): the same pair.
      const retry = await post('/auth/refresh', { refresh_token: a.refresh_token });
      assert.equal(retry.statusCode, 200, retry.body);
      assert.equal(retry.json().access_token, p1.access_token);
      assert.equal(retry.json().refresh_token, p1.refresh_token);

      await sleep(2200);
      const reuse = await post('/auth/refresh', { refresh_token: a.refresh_token });
      assert.equal(reuse.statusCode, 401);
      assert.equal(reuse.json().error.code, 'AUTH_REFRESH_REUSED');
      // Every session of the user is gone: refresh tokens and access tokens alike.
      for (const t of [p1.refresh_token, other.refresh_token]) {
        const r = await post('/auth/refresh', { refresh_token: t });
        assert.equal(r.json().error.code, 'AUTH_REFRESH_INVALID');
      }
      const out = await post('/auth/logout', undefined, other.access_token);
      assert.equal(out.json().error.code, 'AUTH_TOKEN_INVALID');
      const { rows } = await ts.service.db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM merkle_logs WHERE entry::text LIKE '%auth.refresh_reused%'",
      );
      assert.equal(rows[0]!.n, 1);
    });

    it('logout ends one session, logout-all every session', async () => {
      const password = pw('e');
      await post('/auth/register', { email: 'erin@example.com', password });
      const s1 = (await post('/auth/login', { email: 'erin@example.com', password })).json();
      const s2 = (await post('/auth/login', { email: 'erin@example.com', password })).json();
      const s3 = (await post('/auth/login', { email: 'erin@example.com', password })).json();
      assert.equal((await post('/auth/logout', undefined, s1.access_token)).statusCode, 200);
      assert.equal(
        (await post('/auth/refresh', { refresh_token: s1.refresh_token })).statusCode,
        401,
      );
      assert.equal(
        (await post('/auth/refresh', { refresh_token: s2.refresh_token })).statusCode,
        200,
      );
      const all = await post('/auth/logout-all', undefined, s3.access_token);
      assert.equal(all.json().revoked, 2);
      assert.equal((await post('/auth/logout', undefined, s3.access_token)).statusCode, 401);
      assert.equal((await post('/auth/logout', undefined)).json().error.code, 'AUTH_REQUIRED');
    });

    it('rehashes on login when the Argon2id parameters were raised', async () => {
      const password = pw('f');
      await post('/auth/register', { email: 'frank@example.com', password });
      const before = await ts.service.db.query<{ sealed: string }>(
        "SELECT p.sealed FROM user_passwords p JOIN users u ON u.id = p.user_id WHERE u.email = 'frank@example.com'",
      );
      ts = await ts.restart({
        AUTH_ISSUER: ISSUER,
        AUTH_AUDIENCE: AUDIENCE,
        AUTH_KEY_PREPUBLISH_SECONDS: '0',
        AUTH_ARGON2_TIME_COST: '3',
        AUTH_LOGIN_MAX_PER_IP: '100000',
      });
      runs.push(ts.logs);
      const s0 = await stats();
      assert.equal(
        (await post('/auth/login', { email: 'frank@example.com', password })).statusCode,
        200,
      );
      const s1 = await stats();
      assert.equal(s1.argon2_hashes - s0.argon2_hashes, 1);
      const afterRows = await ts.service.db.query<{ sealed: string }>(
        "SELECT p.sealed FROM user_passwords p JOIN users u ON u.id = p.user_id WHERE u.email = 'frank@example.com'",
      );
      assert.notEqual(afterRows.rows[0]!.sealed, before.rows[0]!.sealed);
      assert.equal(
        (await post('/auth/login', { email: 'frank@example.com', password })).statusCode,
        200,
      );
      assert.equal((await stats()).argon2_hashes, s1.argon2_hashes);
    });

    it('no password appears in any table or log line', async () => {
      const needles = passwords.flatMap((p, i) => secretNeedles(`password ${i}`, p));
      const dump = (await dumpPublicSchema(ts.service.db))
        .flatMap((d) => d.rows.map((r) => `${d.table}: ${r}`))
        .join('\n');
      assert.ok(dump.includes('alice@example.com')); // positive control
      assert.deepEqual(findNeedles(dump, needles), []);
      const logs = runs.flat().join('\n');
      assert.ok(logs.includes('/auth/login')); // positive control: requests were logged
      assert.deepEqual(findNeedles(logs, needles), []);
    });
  });
