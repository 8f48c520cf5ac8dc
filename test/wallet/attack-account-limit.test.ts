/**
 * POST /wallets/:id/accounts with `chain: "ethereum"` needs no share (the enclave derives from
 * the xpub), so anyone with the owner's access token can add accounts. The record schema holds
 * at most WALLET_MAX_ACCOUNTS; an enclave that issued (and remembered) a record one account
 * over it would fail its own result schema after remembering the new version: the host could
 * never store it, and the stored record would be WALLET_STATE_STALE until a restart. The limit
 * is refused before anything is issued.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { newReplyKeyPair } from '../../src/client/wallet/open-share.js';
import { walletAddAccount, walletCreate } from '../../src/enclave/methods/wallet.js';
import { WALLET_MAX_ACCOUNTS } from '../../src/protocol/wallet/constants.js';
import { testEnclave } from '../helpers/enclave-state.js';
import { code, ok } from '../mutation-killers/rpc.js';

describe('adding accounts past the record limit', () => {
  it('is refused before a record is issued; the stored record keeps working', async () => {
    const t = testEnclave();
    await ok(t, 'keyring.generate', { policy: 'signer' });
    await ok(t, 'wallet.init', { sealed: null });
    let { record } = await walletCreate(t.state, {
      user_id: 'u',
      wallet_id: randomUUID(),
      reply_pub: newReplyKeyPair().replyPub,
    });
    // Up to the limit (Ethereum 0 and Solana 0 exist): the method itself, for speed.
    for (let i = 1; record.accounts.length < WALLET_MAX_ACCOUNTS; i++)
      ({ record } = await walletAddAccount(t.state, {
        record,
        body: { chain: 'ethereum', index: i },
      }));
    const over = { record, body: { chain: 'ethereum', index: WALLET_MAX_ACCOUNTS + 5 } };
    assert.equal(await code(t, 'wallet.add_account', over), 'WALLET_REQUEST_INVALID');
    // Nothing was issued: the record the host still has is current.
    const again = { record, body: { chain: 'ethereum', index: 1 } };
    assert.equal(await code(t, 'wallet.add_account', again), 'ok');
  });
});
