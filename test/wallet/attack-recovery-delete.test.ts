/**
 * The holder of a stolen recovery share (and an access token) deleted the wallet at once: delete
 * took either client share, so the server share was purged with no time-lock and nothing the
 * owner could cancel. An owner whose recovery share was the one taken (not copied) is left with
 * the device share alone, which then combines with nothing: the wallet is lost. The recovery
 * time-lock exists so that the owner can object to whatever the recovery share alone would do.
 * Delete now takes the device share (a user without it recovers first, then deletes).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { walletDelete, walletSign } from '../../src/enclave/methods/wallet.js';
import { ethTransfer, walletInEnclave } from '../helpers/wallet-enclave.js';

describe('wallet.delete with the recovery share', () => {
  it('is refused, and the owner still signs; the device share deletes', async () => {
    const { t, record, body } = await walletInEnclave();
    const stolen = await body(record, 'delete', {}, 'recovery');
    await assert.rejects(walletDelete(t.state, { record, body: stolen }), {
      code: 'WALLET_SHARE_WRONG_KIND',
    });
    const address = record.accounts[0]!.address;
    const signed = await walletSign(t.state, {
      record,
      body: await body(record, 'sign', { address, request: ethTransfer('1', 0) }),
      spend: null,
    });
    assert.equal(signed.verdict, 'allowed');
    const deleted = await walletDelete(t.state, {
      record,
      body: await body(record, 'delete', {}, 'device'),
    });
    assert.equal(deleted.wallet_id, record.wallet_id);
  });
});
