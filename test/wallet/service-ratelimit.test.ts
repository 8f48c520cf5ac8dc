/**
 * Signing is rate limited per user (WALLET_SIGN_MAX_PER_MINUTE): a user over the limit gets 429
 * RATE_LIMITED (after authentication, keyed by the token's subject), another user is unaffected.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { assertError } from '../helpers/security-util.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { api, newUser, openBoth, reply, withShare, type User } from './service-helpers.js';

describe('wallet signing rate limit (pglite)', () => {
  let ts: TestService;
  before(async () => {
    ts = await startTestService('pglite', {
      AUTH_DISABLED_FOR_DEVELOPMENT: 'false',
      WALLET_SIGN_MAX_PER_MINUTE: '2',
    });
  });
  after(async () => {
    await ts?.stop();
  });

  async function walletOf(user: User) {
    const kp = reply();
    const res = await api(ts, user)('POST', '/wallets', { reply_pub: kp.replyPub });
    assert.equal(res.statusCode, 201, res.body);
    return { shares: openBoth(res.json(), kp.privateKey), eth: res.json().accounts[0].address };
  }
  const sign = async (user: User, w: Awaited<ReturnType<typeof walletOf>>) => {
    const body = await withShare(ts, w.shares.walletId, 'device', w.shares.device, 'sign', {
      address: w.eth,
      request: { type: 'eth_personal_sign', message: 'x' },
    });
    return api(ts, user)('POST', `/wallets/${w.shares.walletId}/sign`, body);
  };

  it('the third signature in a minute is refused for that user only', async () => {
    const alice = await newUser(ts);
    const bob = await newUser(ts);
    const wa = await walletOf(alice);
    const wb = await walletOf(bob);
    assert.equal((await sign(alice, wa)).statusCode, 200);
    assert.equal((await sign(alice, wa)).statusCode, 200);
    assertError(await sign(alice, wa), 429, 'RATE_LIMITED');
    assert.equal((await sign(bob, wb)).statusCode, 200);
  });
});
