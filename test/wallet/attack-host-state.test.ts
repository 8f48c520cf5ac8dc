/**
 * Attack review (issue 14): a host that controls the database and sends requests concurrently.
 * Within one enclave lifetime it cannot exceed the daily limit by racing two signatures, open a
 * recovery early by editing the stored unlock time, or give a wallet another wallet's row
 * (server share, generation, accounts, MAC). Each attack is tried for real through the service.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { assertError } from '../helpers/security-util.js';
import { startTestService, type TestService } from '../helpers/service.js';
import {
  api,
  newUser,
  openBoth,
  reply,
  withShare,
  type Opened,
  type User,
} from './service-helpers.js';

const TO = '0x00000000000000000000000000000000000000bb';
const tx = (value: string, nonce: number) => ({
  type: 'eth_transaction',
  transaction: {
    chainId: 1,
    nonce,
    to: TO,
    value,
    gas: 21000,
    // No fee: the daily limit counts value + gas × maxFeePerGas.
    maxFeePerGas: '0',
    maxPriorityFeePerGas: '0',
  },
});

describe('host attacks on the wallet state', { concurrency: false }, () => {
  let ts: TestService;
  let alice: User;
  let a: Opened;
  let b: Opened;
  let ethA: string;

  const create = async () => {
    const kp = reply();
    const res = await api(ts, alice)('POST', '/wallets', { reply_pub: kp.replyPub });
    assert.equal(res.statusCode, 201, res.body);
    return { opened: openBoth(res.json(), kp.privateKey), eth: res.json().accounts[0].address };
  };

  before(async () => {
    ts = await startTestService('pglite', {
      AUTH_DISABLED_FOR_DEVELOPMENT: 'false',
      AUTH_REGISTER_MAX_PER_IP: '100000',
      AUTH_LOGIN_MAX_PER_IP: '100000',
    });
    alice = await newUser(ts);
    const first = await create();
    a = first.opened;
    ethA = first.eth;
    b = (await create()).opened;
  });
  after(async () => {
    await ts?.stop();
  });

  it('two signatures raced against a daily limit: exactly one is signed', async () => {
    const as = api(ts, alice);
    const policy = await withShare(ts, a.walletId, 'device', a.device, 'policy', {
      rules: [{ type: 'daily_limit_wei', value: '1000' }],
    });
    assert.equal((await as('PUT', `/wallets/${a.walletId}/policy`, policy)).statusCode, 200);
    const bodies = await Promise.all(
      [0, 1, 2].map((n) =>
        withShare(ts, a.walletId, 'device', a.device, 'sign', {
          address: ethA,
          request: tx('600', n),
        }),
      ),
    );
    const results = await Promise.all(
      bodies.map((body) => as('POST', `/wallets/${a.walletId}/sign`, body)),
    );
    const codes = results.map((r) => r.statusCode).sort();
    assert.deepEqual(codes, [200, 403, 403], results.map((r) => r.body).join('\n'));
  });

  it('an edited recovery unlock time does not open the recovery early', async () => {
    const as = api(ts, alice);
    const kp = reply();
    const start = await withShare(ts, a.walletId, 'recovery', a.recovery, 'recovery', {
      reply_pub: kp.replyPub,
    });
    assert.equal((await as('POST', `/wallets/${a.walletId}/recovery`, start)).statusCode, 200);
    const { rows } = await ts.service.db.query<{ u: string }>(
      `SELECT recovery_unlock_at::text AS u FROM wallets WHERE id = $1`,
      [a.walletId],
    );
    await ts.service.db.query(
      `UPDATE wallets SET recovery_unlock_at = recovery_started_at WHERE id = $1`,
      [a.walletId],
    );
    const complete = await withShare(ts, a.walletId, 'recovery', a.recovery, 'recovery_complete', {
      reply_pub: kp.replyPub,
    });
    assertError(
      await as('POST', `/wallets/${a.walletId}/recovery/complete`, complete),
      409,
      'WALLET_STATE_INVALID',
    );
    // Restored, the lock holds (two days by default).
    await ts.service.db.query(`UPDATE wallets SET recovery_unlock_at = $2 WHERE id = $1`, [
      a.walletId,
      rows[0]!.u,
    ]);
    const again = await withShare(ts, a.walletId, 'recovery', a.recovery, 'recovery_complete', {
      reply_pub: kp.replyPub,
    });
    assertError(
      await as('POST', `/wallets/${a.walletId}/recovery/complete`, again),
      409,
      'WALLET_RECOVERY_LOCKED',
    );
    assert.equal((await as('GET', `/wallets/${a.walletId}`)).json().generation, 1);
  });

  it('another wallet’s row (server share, generation, accounts, MAC) under this wallet id is refused', async () => {
    const as = api(ts, alice);
    const cols =
      'generation, version, server_share, ethereum_xpub, accounts, policy_rules, recovery_started_at, recovery_unlock_at, state_mac';
    await ts.service.db.query(
      `UPDATE wallets AS t SET (${cols}) = (SELECT ${cols} FROM wallets WHERE id = $2) WHERE t.id = $1`,
      [a.walletId, b.walletId],
    );
    const addressB = (await as('GET', `/wallets/${b.walletId}`)).json().accounts[0].address;
    // B's device share with A's id: the MAC binds the row to B's id.
    const body = await withShare(ts, a.walletId, 'device', b.device, 'sign', {
      address: addressB,
      request: { type: 'eth_personal_sign', message: 'moved' },
    });
    assertError(await as('POST', `/wallets/${a.walletId}/sign`, body), 409, 'WALLET_STATE_INVALID');
  });
});
