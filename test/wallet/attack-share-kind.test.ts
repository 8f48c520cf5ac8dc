/**
 * Attack review (issue 14): the share kind in a wallet_share envelope is written by whoever
 * seals the envelope. A holder of the recovery share alone (a thief of the paper backup, or a
 * host that got it) must not pass it off as the device share: otherwise a reshare (device only)
 * hands it fresh shares at once, skipping the recovery time-lock, and a cancel (device only)
 * lets it silence the owner's objection. The enclave must check the share's x coordinate against
 * the kind it claims.
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

describe('a recovery share presented as the device share', { concurrency: false }, () => {
  let ts: TestService;
  let alice: User;
  let walletId: string;
  let shares: Opened;

  before(async () => {
    ts = await startTestService('pglite', {
      AUTH_DISABLED_FOR_DEVELOPMENT: 'false',
      AUTH_REGISTER_MAX_PER_IP: '100000',
      AUTH_LOGIN_MAX_PER_IP: '100000',
    });
    alice = await newUser(ts);
    const kp = reply();
    const res = await api(ts, alice)('POST', '/wallets', { reply_pub: kp.replyPub });
    assert.equal(res.statusCode, 201, res.body);
    shares = openBoth(res.json(), kp.privateKey);
    walletId = shares.walletId;
  });
  after(async () => {
    await ts?.stop();
  });

  it('cannot set a policy, cancel a recovery or reshare (skipping the time-lock)', async () => {
    const as = api(ts, alice);
    // The thief starts a recovery with the recovery share, as it may.
    const start = await withShare(ts, walletId, 'recovery', shares.recovery, 'recovery', {
      reply_pub: reply().replyPub,
    });
    const started = await as('POST', `/wallets/${walletId}/recovery`, start);
    assert.equal(started.statusCode, 200, started.body);

    const policy = await withShare(ts, walletId, 'device', shares.recovery, 'policy', {
      rules: [],
    });
    assertError(
      await as('PUT', `/wallets/${walletId}/policy`, policy),
      400,
      'WALLET_SHARE_WRONG_KIND',
    );

    const cancel = await withShare(ts, walletId, 'device', shares.recovery, 'recovery_cancel', {});
    assertError(
      await as('DELETE', `/wallets/${walletId}/recovery`, cancel),
      400,
      'WALLET_SHARE_WRONG_KIND',
    );

    const thief = reply();
    const reshare = await withShare(ts, walletId, 'device', shares.recovery, 'reshare', {
      reply_pub: thief.replyPub,
    });
    assertError(
      await as('POST', `/wallets/${walletId}/reshare`, reshare),
      400,
      'WALLET_SHARE_WRONG_KIND',
    );

    // Nothing changed: the recovery still runs, generation 1, and the owner's device share works.
    const view = (await as('GET', `/wallets/${walletId}`)).json();
    assert.equal(view.generation, 1);
    assert.notEqual(view.recovery, null);
    const ownCancel = await withShare(ts, walletId, 'device', shares.device, 'recovery_cancel', {});
    const cancelled = await as('DELETE', `/wallets/${walletId}/recovery`, ownCancel);
    assert.equal(cancelled.statusCode, 200, cancelled.body);

    // And the device share cannot pose as the recovery share either.
    const fake = await withShare(ts, walletId, 'recovery', shares.device, 'recovery', {
      reply_pub: reply().replyPub,
    });
    assertError(
      await as('POST', `/wallets/${walletId}/recovery`, fake),
      400,
      'WALLET_SHARE_WRONG_KIND',
    );
  });
});
