/**
 * The SDK's wallet functions against the real service (fetch routed into the app): create
 * (shares opened and checked by the SDK), sign on both chains, policy, reshare with the
 * accounts checked, delete, and export with no server at all.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { recoverMessageAddress } from 'viem';
import {
  createWallet,
  deleteWallet,
  exportMnemonic,
  getWallet,
  reshare,
  setPolicy,
  signWithEthereumMessage,
  signWithEthereumTransaction,
  signWithSolanaMessage,
  WalletApiError,
  type WalletClientOptions,
} from '../../src/client/index.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { independentWallet, newUser, sdkOptions } from './service-helpers.js';

describe('wallet SDK over HTTP (pglite)', { concurrency: false }, () => {
  let ts: TestService;
  let opts: WalletClientOptions;

  before(async () => {
    ts = await startTestService('pglite', { AUTH_DISABLED_FOR_DEVELOPMENT: 'false' });
    opts = await sdkOptions(ts, await newUser(ts));
  });
  after(async () => {
    await ts?.stop();
  });

  it('create, sign, policy, reshare, delete, export', async () => {
    const w = await createWallet(opts, 'sdk');
    assert.equal(w.generation, 1);
    const eth = w.accounts[0]!.address;
    const sol = w.accounts[1]!.address;
    assert.equal(independentWallet(w.device.share, w.recovery.share).eth(0).address, eth);

    const { signature } = (await signWithEthereumMessage(
      opts,
      w.walletId,
      w.device,
      eth,
      'hi',
    )) as {
      signature: `0x${string}`;
    };
    assert.equal(await recoverMessageAddress({ message: 'hi', signature }), eth);
    const solSig = await signWithSolanaMessage(
      opts,
      w.walletId,
      w.recovery,
      sol,
      new Uint8Array([1, 2, 3]),
    );
    assert.ok('signature' in solSig);

    await setPolicy(opts, w.walletId, w.device, [{ type: 'max_value_wei', value: '10' }]);
    await assert.rejects(
      signWithEthereumTransaction(opts, w.walletId, w.device, eth, {
        chainId: 1,
        nonce: 0,
        to: '0x00000000000000000000000000000000000000bb',
        value: '11',
        gas: 21000,
        gasPrice: '1',
      }),
      (e: unknown) => e instanceof WalletApiError && e.status === 403 && e.code === 'POLICY_DENIED',
    );

    const view = await getWallet(opts, w.walletId);
    const next = await reshare(opts, w.walletId, w.device, {
      generation: 2,
      accounts: view.accounts,
    });
    assert.equal(next.generation, 2);
    await assert.rejects(
      signWithEthereumMessage(opts, w.walletId, w.device, eth, 'old'),
      (e: unknown) => e instanceof WalletApiError && e.code === 'WALLET_SHARE_INVALID',
    );

    await deleteWallet(opts, w.walletId, next.device);
    const mnemonic = await exportMnemonic(next.device, next.recovery, {
      expectedAccounts: view.accounts,
    });
    assert.equal(mnemonic, independentWallet(next.device.share, next.recovery.share).mnemonic);
  });
});
