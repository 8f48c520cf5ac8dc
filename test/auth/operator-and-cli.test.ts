/**
 * Operator role and the command line: `npm run operator -- grant <email>` (setOperator) gives the
 * role, which reaches the token at the next login; operator routes answer 403 without it and 401
 * without a token. `cloister auth verify` checks a token against a JWKS file with jose and
 * refuses a tampered one; the issuer it expects by default is the service's, its --url.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair } from 'jose';
import { ecThumbprint } from '../../src/protocol/auth.js';
import { signTestToken } from '../helpers/test-jwt.js';
import { cliSetOperator } from './operator-helper.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { cliCommand, runCli } from '../cli/run.js';

describe('operator role and CLI', () => {
  let ts: TestService;
  const password = 'operator-password-0123';
  const login = async (email: string) =>
    (
      await ts.service.app.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { email, password },
      })
    ).json();
  const get = (url: string, token?: string) =>
    ts.service.app.inject({
      method: 'GET',
      url,
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });

  before(async () => {
    ts = await startTestService('pglite');
    for (const email of ['op@example.com', 'user@example.com'])
      await ts.service.app.inject({
        method: 'POST',
        url: '/auth/register',
        payload: { email, password },
      });
  });
  after(async () => {
    await ts?.stop();
  });

  it('operator routes need the operator role claim', async () => {
    assert.equal((await get('/operator/metrics')).json().error.code, 'AUTH_REQUIRED');
    const plain = await login('user@example.com');
    assert.equal((await get('/operator/metrics', plain.access_token)).statusCode, 403);
    assert.equal(await cliSetOperator(ts, 'grant', 'OP@example.com'), true);
    assert.equal(await cliSetOperator(ts, 'grant', 'no@example.com'), false);
    const op = await login('op@example.com');
    const metrics = await get('/operator/metrics', op.access_token);
    assert.equal(metrics.statusCode, 200, metrics.body);
    assert.ok(metrics.json().users >= 2);
    assert.ok(metrics.json().argon2_verifies >= 2);
    assert.equal((await get('/operator/sessions', op.access_token)).statusCode, 200);
    const rotated = await ts.service.app.inject({
      method: 'POST',
      url: '/operator/auth/rotate-keys',
      headers: { authorization: `Bearer ${op.access_token}` },
    });
    assert.equal(rotated.statusCode, 200, rotated.body);
  });

  it('cloister auth verify accepts a genuine token and refuses a tampered one', async () => {
    const { access_token: token } = await login('user@example.com');
    const jwks = (await get('/.well-known/jwks.json')).body;
    const file = join(mkdtempSync(join(tmpdir(), 'cloister-jwks-')), 'jwks.json');
    writeFileSync(file, jwks);
    const run = (t: string) =>
      spawnSync(
        process.execPath,
        [...cliCommand(), 'auth', 'verify', t, '--jwks', file, '--json'],
        { encoding: 'utf8' },
      );
    const ok = run(token);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(JSON.parse(ok.stdout).sub, /^[0-9a-f-]{36}$/);
    const [h, p, s] = token.split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString());
    const bad = `${h}.${Buffer.from(JSON.stringify({ ...claims, roles: ['operator'] })).toString('base64url')}.${s}`;
    const refused = run(bad);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /token refused/);
  });

  it('cloister auth verify --expect-measurement refuses a token under a key the host slipped into its JWKS', async () => {
    await ts.service.app.listen({ host: '127.0.0.1', port: 0 });
    const url = `http://127.0.0.1:${(ts.service.app.server.address() as { port: number }).port}`;
    // The test service's issuer is not its listening URL: named, as a verifier behind a proxy would.
    const { issuer } = (await get('/.well-known/openid-configuration')).json() as {
      issuer: string;
    };
    const trust = ['--url', url, '--issuer', issuer, '--expect-measurement', ts.measurement];
    trust.push('--trust-simulated-key', ts.vendorKey);
    // The host's own key, well formed (kid = its thumbprint), served beside the enclave's.
    const kp = await generateKeyPair('ES256');
    const { x, y } = await exportJWK(kp.publicKey);
    const kid = ecThumbprint(x!, y!);
    const served = JSON.parse((await get('/.well-known/jwks.json')).body) as { keys: unknown[] };
    const hostKey = { kty: 'EC', crv: 'P-256', x, y, kid, use: 'sig', alg: 'ES256' };
    const file = join(mkdtempSync(join(tmpdir(), 'cloister-jwks-')), 'jwks.json');
    writeFileSync(file, JSON.stringify({ keys: [...served.keys, hostKey] }));
    const forged = await signTestToken(kp.privateKey, {
      issuer: 'http://127.0.0.1:3000',
      audience: 'cloister',
      kid,
      roles: ['operator'],
    });
    // Asynchronously: the service answering the CLI's attestation request runs in this process.
    const run = (t: string, extra: string[]) =>
      runCli(['auth', 'verify', t, '--jwks', file, '--json', ...extra], { ...process.env });
    // Without attestation the JWKS alone decides, and the CLI says so.
    const alone = await run(forged, []);
    assert.equal(alone.code, 0, alone.stderr);
    assert.match(alone.stderr, /checked against no attestation/);
    // Attested: the enclave lists its own kids only.
    const attested = await run(forged, trust);
    assert.equal(attested.code, 1, attested.stdout);
    assert.match(attested.stderr, /token refused: .*attestation/);
    // A genuine token under a JWKS of the attested keys only verifies.
    writeFileSync(file, JSON.stringify(served));
    const { access_token: genuine } = await login('user@example.com');
    const ok = await run(genuine, trust);
    assert.equal(ok.code, 0, ok.stderr);
    assert.doesNotMatch(ok.stderr, /no attestation/);
  });
});

describe('cloister auth verify: the expected issuer', () => {
  // The service's AUTH_ISSUER defaults to its own base URL: a token of the service at --url (or
  // CLOISTER_URL) names that URL, not the CLI's default one (docs/reference/cli.md).
  it('defaults to --url / CLOISTER_URL, and a refusal names the claim', async () => {
    const kp = await generateKeyPair('ES256');
    const { x, y } = await exportJWK(kp.publicKey);
    const kid = ecThumbprint(x!, y!);
    const file = join(mkdtempSync(join(tmpdir(), 'cloister-jwks-')), 'jwks.json');
    writeFileSync(
      file,
      JSON.stringify({ keys: [{ kty: 'EC', crv: 'P-256', x, y, kid, use: 'sig', alg: 'ES256' }] }),
    );
    const url = 'http://127.0.0.1:3917';
    const token = await signTestToken(kp.privateKey, { issuer: url, audience: 'cloister', kid });
    const env = { ...process.env };
    delete env.CLOISTER_URL;
    const byFlag = await runCli(['auth', 'verify', token, '--jwks', file, '--url', url], env);
    assert.equal(byFlag.code, 0, byFlag.stderr);
    assert.match(byFlag.stdout, /token valid/);
    const byEnv = await runCli(['auth', 'verify', token, '--jwks', file], {
      ...env,
      CLOISTER_URL: url,
    });
    assert.equal(byEnv.code, 0, byEnv.stderr);
    // Another service's token is refused, saying which claim.
    const other = await runCli(['auth', 'verify', token, '--jwks', file], env);
    assert.equal(other.code, 1, other.stdout);
    assert.match(other.stderr, /token refused: ERR_JWT_CLAIM_VALIDATION_FAILED \(.*"iss"/);
    const pinned = ['--url', 'http://127.0.0.1:1', '--issuer', url];
    assert.equal((await runCli(['auth', 'verify', token, '--jwks', file, ...pinned], env)).code, 0);
  });
});
