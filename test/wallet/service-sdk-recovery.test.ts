/**
 * The SDK's recovery functions against the real service (fetch routed into the app, time-lock
 * 1 s): startRecovery with the recovery share, cancelRecovery with the device share,
 * completeRecovery after the lock (same accounts, generation + 1), then the old device and
 * recovery shares are refused and the new ones sign; reshare after that does the same.
 */
import { strict as assert } from 'node:assert';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { recoverMessageAddress } from 'viem';
import {
  cancelRecovery,
  completeRecovery,
  createWallet,
  getWallet,
  reshare,
  signWithEthereumMessage,
  startRecovery,
  WalletApiError,
  type WalletClientOptions,
} from '../../src/client/index.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { independentWallet, newUser, sdkOptions } from './service-helpers.js';

const code = (c: string) => (e: unknown) => e instanceof WalletApiError && e.code === c;

/** Waits (wall clock, shared with the enclave) until unlock_at has passed. */
async function untilPast(unlockAt: number) {
  while (Math.floor(Date.now() / 1000) <= unlockAt) await sleep(100);
}

describe('wallet SDK recovery over HTTP (pglite)', { concurrency: false }, () => {
  let ts: TestService;
  let opts: WalletClientOptions;

  before(async () => {
    ts = await startTestService('pglite', {
      AUTH_DISABLED_FOR_DEVELOPMENT: 'false',
      WALLET_RECOVERY_DELAY_SECONDS: '1',
    });
    opts = await sdkOptions(ts, await newUser(ts));
  });
  after(async () => {
    await ts?.stop();
  });

  it('start, cancel, start, complete; the old shares are refused afterwards; reshare likewise', async () => {
    const w = await createWallet(opts, 'recover me');
    const eth = w.accounts[0]!.address;

    // Nothing to complete or cancel before a start; the device share cannot start one.
    await assert.rejects(
      completeRecovery(opts, w.walletId, w.recovery, { generation: 2, accounts: w.accounts }),
      code('WALLET_RECOVERY_NOT_STARTED'),
    );
    await assert.rejects(
      cancelRecovery(opts, w.walletId, w.device),
      code('WALLET_RECOVERY_NOT_STARTED'),
    );

    const started = await startRecovery(opts, w.walletId, w.recovery);
    assert.ok(started.recovery);
    assert.equal(started.recovery.unlock_at - started.recovery.started_at, 1);
    await assert.rejects(
      startRecovery(opts, w.walletId, w.recovery),
      code('WALLET_RECOVERY_IN_PROGRESS'),
    );
    // A recovery share cannot cancel: that is the owner's (device share) move.
    await assert.rejects(cancelRecovery(opts, w.walletId, w.recovery), WalletApiError);
    const cancelled = await cancelRecovery(opts, w.walletId, w.device);
    assert.equal(cancelled.recovery, null);
    assert.equal((await getWallet(opts, w.walletId)).recovery, null);
    // Cancelled means cancelled: even after the lock, complete is refused.
    await untilPast(started.recovery.unlock_at);
    await assert.rejects(
      completeRecovery(opts, w.walletId, w.recovery, { generation: 2, accounts: w.accounts }),
      code('WALLET_RECOVERY_NOT_STARTED'),
    );

    const again = await startRecovery(opts, w.walletId, w.recovery);
    assert.ok(again.recovery);
    await untilPast(again.recovery.unlock_at);
    const view = await getWallet(opts, w.walletId);
    const next = await completeRecovery(opts, w.walletId, w.recovery, {
      generation: view.generation + 1,
      accounts: view.accounts,
    });
    assert.equal(next.generation, 2);
    assert.deepEqual(next.accounts, view.accounts);
    assert.equal((await getWallet(opts, w.walletId)).recovery, null);
    assert.equal((await getWallet(opts, w.walletId)).generation, 2);
    // Same secret, independently: the new shares reconstruct the same address.
    assert.equal(independentWallet(next.device.share, next.recovery.share).eth(0).address, eth);

    // The old device share (the one a thief might hold) and the old recovery share are refused.
    await assert.rejects(
      signWithEthereumMessage(opts, w.walletId, w.device, eth, 'old device'),
      code('WALLET_SHARE_INVALID'),
    );
    await assert.rejects(
      signWithEthereumMessage(opts, w.walletId, w.recovery, eth, 'old recovery'),
      code('WALLET_SHARE_INVALID'),
    );
    await assert.rejects(startRecovery(opts, w.walletId, w.recovery), code('WALLET_SHARE_INVALID'));
    const { signature } = (await signWithEthereumMessage(
      opts,
      w.walletId,
      next.device,
      eth,
      'new device',
    )) as { signature: `0x${string}` };
    assert.equal(await recoverMessageAddress({ message: 'new device', signature }), eth);

    // Reshare by the owner ends a recovery in progress, and the generation-2 shares then die too.
    await startRecovery(opts, w.walletId, next.recovery);
    const third = await reshare(opts, w.walletId, next.device, {
      generation: 3,
      accounts: view.accounts,
    });
    assert.equal(third.generation, 3);
    assert.equal((await getWallet(opts, w.walletId)).recovery, null);
    await assert.rejects(
      startRecovery(opts, w.walletId, next.recovery),
      code('WALLET_SHARE_INVALID'),
    );
    await assert.rejects(
      signWithEthereumMessage(opts, w.walletId, next.device, eth, 'gen 2'),
      code('WALLET_SHARE_INVALID'),
    );
    const ok = await signWithEthereumMessage(opts, w.walletId, third.recovery, eth, 'gen 3');
    assert.ok('signature' in ok);
  });
});
