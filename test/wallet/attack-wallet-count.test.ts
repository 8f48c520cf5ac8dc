/**
 * An account holder (or the thief of an access token alone, no share needed) created wallets
 * without bound: each one is a row, enclave work (a BIP-39 seed, a split, two sealed shares) and
 * an entry in the public log, at the global per-address rate. `GET /wallets` shows 1000 at most,
 * so past that they were not even visible to the owner. A user now holds at most
 * WALLET_MAX_PER_USER (1000) wallets that are not deleted; the next creation is refused before
 * the enclave is called, and checked again under a lock on the user in the insert's transaction.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { WALLET_MAX_PER_USER } from '../../src/host/services/wallet-service.js';
import { assertError } from '../helpers/security-util.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { api, newUser, reply } from './service-helpers.js';

describe('wallets per user (pglite)', () => {
  let ts: TestService;
  before(async () => {
    ts = await startTestService('pglite', { AUTH_DISABLED_FOR_DEVELOPMENT: 'false' });
  });
  after(async () => {
    await ts?.stop();
  });

  it('the creation past the limit is refused and logs nothing; another user still creates', async () => {
    const alice = await newUser(ts);
    const create = (user = alice) =>
      api(ts, user)('POST', '/wallets', { reply_pub: reply().replyPub });
    const first = await create();
    assert.equal(first.statusCode, 201, first.body);
    // The rest of the allowance as copies of that row (only their number matters here).
    await ts.service.db.query(
      `INSERT INTO wallets (id, user_id, label, generation, version, server_share, ethereum_xpub,
         accounts, policy_rules, state_mac)
       SELECT gen_random_uuid(), user_id, label, generation, version, server_share, ethereum_xpub,
         accounts, policy_rules, state_mac
         FROM wallets, generate_series(2, $2) WHERE id = $1`,
      [first.json().wallet_id, WALLET_MAX_PER_USER],
    );
    const logged = async () =>
      (await ts.service.db.query(`SELECT 1 FROM merkle_logs WHERE event_type = 'wallet.created'`))
        .rows.length;
    const before = await logged();
    assertError(await create(), 400, 'WALLET_REQUEST_INVALID');
    assert.equal(await logged(), before);
    const { rows } = await ts.service.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM wallets WHERE user_id = $1',
      [alice.id],
    );
    assert.equal(rows[0]!.n, WALLET_MAX_PER_USER);
    assert.equal((await create(await newUser(ts))).statusCode, 201);
  });
});
