/**
 * The host's own check of a correctly signed token's claims (src/host/auth/verifier.ts): a
 * token signed by the enclave's real key but for another issuer or audience, and a token past
 * its `exp`, are refused 401 AUTH_TOKEN_INVALID by the HOST (not only by the SDK, and not
 * because a signature is broken). The issuer and audience cases use the real enclave key: the
 * service restarts on the same data (same sealed JWT keyring) with another AUTH_ISSUER or
 * AUTH_AUDIENCE, and the token minted before is presented to it. The expiry case signs with a
 * key the host is told to trust, so `exp` can lie in the past; the same key with a valid `exp`
 * is accepted (positive control), so only `exp` decides.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AuthKeyring } from '../../src/enclave/auth/auth-keyring.js';
import { signJwt } from '../../src/enclave/auth/jwt.js';
import { startTestService, type TestService } from '../helpers/service.js';

const ENV = {
  AUTH_DISABLED_FOR_DEVELOPMENT: 'false',
  AUTH_ISSUER: 'https://issuer-a.test',
  AUTH_AUDIENCE: 'audience-a',
};
const creds = { email: 'claims@example.com', password: 'host-claim-checks-pw' };

async function login(ts: TestService): Promise<string> {
  const res = await ts.service.app.inject({ method: 'POST', url: '/auth/login', payload: creds });
  assert.equal(res.statusCode, 200, res.body);
  return res.json().access_token;
}

/** A protected route: 404 SESSION_NOT_FOUND once authenticated, 401 otherwise. */
const probe = (ts: TestService, token: string) =>
  ts.service.app.inject({
    method: 'GET',
    url: `/enclave/sessions/${crypto.randomUUID()}`,
    headers: { authorization: `Bearer ${token}` },
  });

function assertAccepted(res: Awaited<ReturnType<typeof probe>>, what: string): void {
  assert.equal(res.json().error?.code, 'SESSION_NOT_FOUND', `${what}: ${res.body}`);
}
function assertRefused(res: Awaited<ReturnType<typeof probe>>, what: string): void {
  assert.equal(res.statusCode, 401, `${what}: ${res.body}`);
  assert.equal(res.json().error.code, 'AUTH_TOKEN_INVALID', what);
}

describe("the host checks a genuinely signed token's iss, aud and exp", () => {
  let ts: TestService;
  let tokenA: string;
  before(async () => {
    ts = await startTestService('pglite', ENV);
    await ts.service.app.inject({ method: 'POST', url: '/auth/register', payload: creds });
    tokenA = await login(ts);
    assertAccepted(await probe(ts, tokenA), 'issuer A, audience A (positive control)');
  });
  after(async () => ts?.stop());

  it('refuses a token the real key signed for another issuer', async () => {
    ts = await ts.restart({ ...ENV, AUTH_ISSUER: 'https://issuer-b.test' });
    // Same sealed keyring: a token this instance mints is accepted (positive control) ...
    assertAccepted(await probe(ts, await login(ts)), 'issuer B token on issuer B host');
    // ... and the one minted for issuer A, by the same key, is not.
    assertRefused(await probe(ts, tokenA), 'issuer A token on issuer B host');
  });

  it('refuses a token the real key signed for another audience', async () => {
    ts = await ts.restart({ ...ENV, AUTH_AUDIENCE: 'audience-b' });
    assertAccepted(await probe(ts, await login(ts)), 'audience B token on audience B host');
    assertRefused(await probe(ts, tokenA), 'audience A token on audience B host');
  });

  it('refuses a correctly signed token past its exp', async () => {
    ts = await ts.restart(ENV);
    const genuine = await login(ts);
    const claims = JSON.parse(Buffer.from(genuine.split('.')[1]!, 'base64url').toString());
    const now = Math.floor(Date.now() / 1000);
    const ring = AuthKeyring.generate(now - 3600);
    const key = ring.signingKey(now);
    const real = ts.service.authVerifier.jwks();
    // Set before each request: the host re-reads the enclave's JWKS every 30 s.
    const trust = () =>
      ts.service.authVerifier.setJwks({ keys: [...real.keys, ...ring.jwks(now, 3600)] });
    try {
      trust();
      const fresh = signJwt(key, { ...claims, iat: now - 10, exp: now + 600 });
      assertAccepted(await probe(ts, fresh), 'trusted key, valid exp (positive control)');
      trust();
      const expired = signJwt(key, { ...claims, iat: now - 1200, exp: now - 300 });
      assertRefused(await probe(ts, expired), 'trusted key, exp 5 minutes ago');
    } finally {
      ts.service.authVerifier.setJwks(real);
    }
  });
});
