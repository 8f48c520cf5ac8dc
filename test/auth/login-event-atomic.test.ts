/**
 * A login's audit event (`auth.login_succeeded`) commits with its session, for every login
 * method: if the event cannot be written, no session is stored (SECURITY.md: never half-write).
 * Before, SIWE, email-code and passkey logins stored the session first and wrote the event after
 * it, so a failure in between left a session that no event records (the password login was
 * already fixed this way). The failure is injected by the test's database handle, which refuses
 * the INSERT of that one event.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { createSiweMessage } from 'viem/siwe';
import type { Queryable } from '../../src/host/db/database.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { SoftAuthenticator } from '../helpers/webauthn.js';

const DOMAIN = 'cloister.test';
const RP = 'localhost';
const ORIGIN = 'http://localhost:3000';

describe('a login whose audit event fails stores no session', () => {
  let ts: TestService;
  let failEvent = false;
  const device = new SoftAuthenticator(RP, ORIGIN);
  const creds = { email: 'atomic@example.com', password: 'a long enough password' };
  const call = (method: 'GET' | 'POST', url: string, tok?: string, payload?: object) =>
    ts.service.app.inject({
      method,
      url,
      ...(payload ? { payload: payload as Record<string, unknown> } : {}),
      headers: tok ? { authorization: `Bearer ${tok}` } : {},
    });
  const sessions = async (): Promise<number> => {
    const { rows } = await ts.service.db.query<{ n: string }>(
      'SELECT count(*) AS n FROM auth_sessions',
    );
    return Number(rows[0]!.n);
  };
  /** Runs `login` with the event's INSERT refused: it must fail and leave no session behind. */
  const refusedWithoutSession = async (
    login: () => Promise<{ statusCode: number; body: string }>,
  ) => {
    const before = await sessions();
    failEvent = true;
    try {
      const r = await login();
      assert.notEqual(r.statusCode, 200, r.body);
    } finally {
      failEvent = false;
    }
    assert.equal(await sessions(), before, 'a session without its login event');
  };
  const siwe = async (account: ReturnType<typeof privateKeyToAccount>) => {
    const nonce = (await call('GET', '/auth/siwe/nonce')).json().nonce as string;
    const message = createSiweMessage({
      domain: DOMAIN,
      address: account.address,
      statement: 'Sign in to Cloister',
      uri: `https://${DOMAIN}/login`,
      version: '1',
      chainId: 1,
      nonce,
      issuedAt: new Date(),
    });
    return call('POST', '/auth/siwe/login', undefined, {
      message,
      signature: await account.signMessage({ message }),
    });
  };

  before(async () => {
    ts = await startTestService('pglite', {
      AUTH_LOGIN_MAX_PER_IP: '100000',
      AUTH_LOGIN_FAILURES_BEFORE_BACKOFF: '1000',
      AUTH_ISSUER: 'https://cloister.test',
      AUTH_AUDIENCE: 'cloister-test',
      AUTH_SIWE_CHAIN_IDS: '1',
      AUTH_RP_ID: RP,
      AUTH_ORIGINS: ORIGIN,
    });
    // Refuses the INSERT of a login_succeeded event while `failEvent` is set, on the handle and
    // in every transaction opened from it.
    const failing = (q: Queryable) => {
      const query = q.query.bind(q);
      q.query = ((sql: string, params?: unknown[], ...rest: unknown[]) => {
        if (failEvent && /ops_logs/.test(sql) && JSON.stringify(params).includes('login_succeeded'))
          return Promise.reject(new Error('injected: the audit event was not written'));
        return (query as (...a: unknown[]) => unknown)(sql, params, ...rest);
      }) as typeof q.query;
      return q;
    };
    const db = failing(ts.service.db) as Queryable & {
      transaction(fn: (tx: Queryable) => Promise<unknown>): Promise<unknown>;
    };
    const transaction = db.transaction.bind(db);
    db.transaction = (fn) => transaction((tx) => fn(failing(tx)));
  });
  after(async () => {
    failEvent = false;
    await ts?.stop();
  });

  it('a password (session, refresh token and event are one statement)', async () => {
    const mine = { email: 'atomic-password@example.com', password: 'another long password' };
    assert.equal((await call('POST', '/auth/register', undefined, mine)).statusCode, 201);
    await refusedWithoutSession(() => call('POST', '/auth/login', undefined, mine));
    const ok = await call('POST', '/auth/login', undefined, mine);
    assert.equal(ok.statusCode, 200, ok.body);
  });

  it('SIWE, an existing account', async () => {
    const alice = privateKeyToAccount(generatePrivateKey());
    assert.equal((await siwe(alice)).statusCode, 200);
    await refusedWithoutSession(() => siwe(alice));
    assert.equal((await siwe(alice)).statusCode, 200);
  });

  it('SIWE, a first login (account, link and session)', async () => {
    const bob = privateKeyToAccount(generatePrivateKey());
    await refusedWithoutSession(() => siwe(bob));
    const again = await siwe(bob);
    assert.equal(again.statusCode, 200, again.body);
    assert.equal(again.json().created, true);
  });

  it('a passkey', async () => {
    assert.equal((await call('POST', '/auth/register', undefined, creds)).statusCode, 201);
    const token = (await call('POST', '/auth/login', undefined, creds)).json().access_token;
    const o = await call('POST', '/auth/passkeys/register/options', token, {
      user_name: creds.email,
    });
    assert.equal(o.statusCode, 200, o.body);
    const v = await call('POST', '/auth/passkeys/register/verify', token, {
      response: device.create(o.json().options),
    });
    assert.equal(v.statusCode, 201, v.body);
    const login = async () =>
      call('POST', '/auth/passkeys/login/verify', undefined, {
        response: device.get(
          (await call('POST', '/auth/passkeys/login/options')).json().options as Record<
            string,
            unknown
          >,
        ),
      });
    await refusedWithoutSession(() => login());
    const ok = await login();
    assert.equal(ok.statusCode, 200, ok.body);
  });
});
