/**
 * Sign-In with Ethereum end to end against the real service (real enclave process, PGlite or
 * PostgreSQL). Messages are built and signed with viem, an Ethereum library independent of the
 * enclave's (micro-eth-signer + our parser). A first login creates the account and logs the
 * link; a second login reaches the same account; a reused nonce, a wrong domain or URI, a chain
 * outside the allow-list, an expired message, a foreign signature and a nonce the enclave did
 * not make are refused; a host that rewrites the address → account link is refused by the
 * enclave.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { createSiweMessage } from 'viem/siwe';
import { verifyAccessToken } from '../../src/client/index.js';
import { engines, startTestService, type TestService } from '../helpers/service.js';

const ISSUER = 'https://cloister.test';
const AUDIENCE = 'cloister-test';
const DOMAIN = 'cloister.test';

for (const engine of engines())
  describe(`Sign-In with Ethereum (${engine})`, () => {
    let ts: TestService;
    const alice = privateKeyToAccount(generatePrivateKey());
    const mallory = privateKeyToAccount(generatePrivateKey());

    const nonce = async (): Promise<string> => {
      const r = await ts.service.app.inject({ method: 'GET', url: '/auth/siwe/nonce' });
      assert.equal(r.statusCode, 200, r.body);
      assert.equal(r.headers['cache-control'], 'no-store');
      return r.json().nonce;
    };
    const message = (
      address: `0x${string}`,
      n: string,
      over: Partial<Parameters<typeof createSiweMessage>[0]> = {},
    ) =>
      createSiweMessage({
        domain: DOMAIN,
        address,
        statement: 'Sign in to Cloister',
        uri: `https://${DOMAIN}/login`,
        version: '1',
        chainId: 1,
        nonce: n,
        issuedAt: new Date(),
        ...over,
      });
    const login = (msg: string, signature: string) =>
      ts.service.app.inject({
        method: 'POST',
        url: '/auth/siwe/login',
        payload: { message: msg, signature },
      });

    before(async () => {
      ts = await startTestService(engine, {
        AUTH_ISSUER: ISSUER,
        AUTH_AUDIENCE: AUDIENCE,
        AUTH_SIWE_CHAIN_IDS: '1,10',
        AUTH_LOGIN_MAX_PER_IP: '100000',
        AUTH_LOGIN_FAILURES_BEFORE_BACKOFF: '1000',
      });
    });
    after(async () => {
      await ts?.stop();
    });

    let aliceId = '';
    it('a first login creates the account, linked and logged; the token verifies', async () => {
      const msg = message(alice.address, await nonce());
      const r = await login(msg, await alice.signMessage({ message: msg }));
      assert.equal(r.statusCode, 200, r.body);
      const body = r.json();
      assert.equal(body.created, true);
      const keys = (
        await ts.service.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })
      ).json();
      const claims = await verifyAccessToken(body.access_token, keys, {
        issuer: ISSUER,
        audience: AUDIENCE,
      });
      assert.equal(claims.sub, body.user_id);
      aliceId = body.user_id;
      const rows = await ts.service.db.query<{ identifier: string }>(
        "SELECT identifier FROM auth_methods WHERE kind = 'siwe' AND user_id = $1",
        [aliceId],
      );
      assert.deepEqual(
        rows.rows.map((x) => x.identifier),
        [alice.address.toLowerCase()],
      );
      const ops = await ts.service.db.query<{ event_type: string; details: { kind?: string } }>(
        "SELECT event_type, details FROM ops_logs WHERE event_type LIKE 'auth.%'",
      );
      assert.ok(ops.rows.some((x) => x.event_type === 'auth.method_linked'));
      assert.ok(ops.rows.some((x) => x.event_type === 'auth.login_succeeded'));
      // The refresh token works for an account without a password.
      const refreshed = await ts.service.app.inject({
        method: 'POST',
        url: '/auth/refresh',
        payload: { refresh_token: body.refresh_token },
      });
      assert.equal(refreshed.statusCode, 200, refreshed.body);
    });

    it('a second login reaches the same account; a reused nonce is refused', async () => {
      const msg = message(alice.address, await nonce());
      const sig = await alice.signMessage({ message: msg });
      const r = await login(msg, sig);
      assert.equal(r.statusCode, 200, r.body);
      assert.equal(r.json().user_id, aliceId);
      assert.equal(r.json().created, false);
      const again = await login(msg, sig);
      assert.equal(again.statusCode, 401);
      assert.equal(again.json().error.code, 'AUTH_SIWE_NONCE_INVALID');
    });

    it('refuses a nonce the enclave did not make', async () => {
      const msg = message(alice.address, 'abcdef0123456789abcdef01');
      const r = await login(msg, await alice.signMessage({ message: msg }));
      assert.equal(r.json().error.code, 'AUTH_SIWE_NONCE_INVALID');
    });

    it('refuses another domain, another URI host and a chain outside the allow-list', async () => {
      for (const over of [
        { domain: 'evil.example' },
        { uri: 'https://evil.example/login' },
        { chainId: 5 },
      ]) {
        const msg = message(alice.address, await nonce(), over);
        const r = await login(msg, await alice.signMessage({ message: msg }));
        assert.equal(r.statusCode, 400, JSON.stringify(over));
        assert.equal(r.json().error.code, 'AUTH_SIWE_INVALID');
      }
      const ok = message(alice.address, await nonce(), { chainId: 10 });
      assert.equal((await login(ok, await alice.signMessage({ message: ok }))).statusCode, 200);
    });

    it('refuses an expired message and one not yet valid', async () => {
      const past = new Date(Date.now() - 3_600_000);
      const expired = message(alice.address, await nonce(), {
        issuedAt: past,
        expirationTime: new Date(Date.now() - 1000),
      });
      const r = await login(expired, await alice.signMessage({ message: expired }));
      assert.equal(r.statusCode, 401);
      assert.equal(r.json().error.code, 'AUTH_SIWE_EXPIRED');
      const early = message(alice.address, await nonce(), {
        notBefore: new Date(Date.now() + 3_600_000),
      });
      const e = await login(early, await alice.signMessage({ message: early }));
      assert.equal(e.json().error.code, 'AUTH_SIWE_EXPIRED');
    });

    it("refuses another address's signature", async () => {
      const msg = message(alice.address, await nonce());
      const r = await login(msg, await mallory.signMessage({ message: msg }));
      assert.equal(r.statusCode, 401);
      assert.equal(r.json().error.code, 'AUTH_SIWE_SIGNATURE_INVALID');
      const bad = await login(msg, `0x${'00'.repeat(65)}`);
      assert.equal(bad.statusCode, 401);
    });

    it('links an address to a password account (proof checked in the enclave), once', async () => {
      const bob = privateKeyToAccount(generatePrivateKey());
      const tokenOf = async (email: string) => {
        const creds = { email, password: 'a long enough password' };
        await ts.service.app.inject({ method: 'POST', url: '/auth/register', payload: creds });
        const r = await ts.service.app.inject({
          method: 'POST',
          url: '/auth/login',
          payload: creds,
        });
        return r.json() as { access_token: string; user_id: string };
      };
      const owner = await tokenOf('bob@example.com');
      const link = async (token: string) => {
        const msg = message(bob.address, await nonce());
        return ts.service.app.inject({
          method: 'POST',
          url: '/auth/methods/link',
          headers: { authorization: `Bearer ${token}` },
          payload: { siwe: { message: msg, signature: await bob.signMessage({ message: msg }) } },
        });
      };
      const r = await link(owner.access_token);
      assert.equal(r.statusCode, 201, r.body);
      const msg = message(bob.address, await nonce());
      const viaSiwe = await login(msg, await bob.signMessage({ message: msg }));
      assert.equal(viaSiwe.statusCode, 200, viaSiwe.body);
      assert.equal(viaSiwe.json().user_id, owner.user_id);
      assert.equal(viaSiwe.json().created, false);
      const other = await tokenOf('eve@example.com');
      const taken = await link(other.access_token);
      assert.equal(taken.statusCode, 409);
      assert.equal(taken.json().error.code, 'AUTH_METHOD_TAKEN');
    });

    it('a host that relinks an address to another account is refused by the enclave', async () => {
      // Mallory gets an account of her own, then the (compromised) host points her address at
      // Alice's account, keeping Mallory's binding: the enclave's MAC names Mallory's account.
      const m1 = message(mallory.address, await nonce());
      const own = await login(m1, await mallory.signMessage({ message: m1 }));
      assert.equal(own.statusCode, 200, own.body);
      await ts.service.db.query('UPDATE auth_methods SET user_id = $1 WHERE identifier = $2', [
        aliceId,
        mallory.address.toLowerCase(),
      ]);
      const m2 = message(mallory.address, await nonce());
      const r = await login(m2, await mallory.signMessage({ message: m2 }));
      assert.notEqual(r.statusCode, 200);
      assert.equal(r.json().error.code, 'INTERNAL');
    });
  });
