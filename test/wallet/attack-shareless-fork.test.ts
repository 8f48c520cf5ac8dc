/**
 * A hostile host with two cluster members (one wallet keyring, separate memories) forks a newer
 * record from a stale one WITHOUT any share: `wallet.add_account` for an Ethereum account needs
 * none (the xpub derives it), yet it issues the next version. The owner tightens the policy on
 * member A; the host takes the record from before (loose rules) to member B, adds two Ethereum
 * accounts there and so holds a record whose version is above A's newest. Member A accepted it:
 * the loose rules were back on every member, and a recovery-share holder signed past the
 * owner's new limit there. `authorized_at` only stopped a replayed envelope, and this needs none.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HANDLERS } from '../../src/enclave/methods/index.js';
import { walletAddAccount, walletSetPolicy, walletSign } from '../../src/enclave/methods/wallet.js';
import { testEnclave } from '../helpers/enclave-state.js';
import { ethTransfer, walletInEnclave } from '../helpers/wallet-enclave.js';
import { ok } from '../mutation-killers/rpc.js';

describe('a shareless account addition on another cluster member', () => {
  it('does not give a record that the member which saw the later change accepts', async () => {
    const { t: a, g, init, record: v1, body } = await walletInEnclave();
    const b = testEnclave({ dir: a.dir });
    await HANDLERS['keyring.unseal'](b.state, { sealed: g.sealed });
    await ok(b, 'wallet.init', { sealed: init.sealed });
    b.clock.now = a.clock.now;

    const loose = (
      await walletSetPolicy(a.state, { record: v1, body: await body(v1, 'policy', { rules: [] }) })
    ).record;
    a.clock.now += 5;
    const strict = [{ type: 'max_value_wei', value: '100' }];
    const v3 = (
      await walletSetPolicy(a.state, {
        record: loose,
        body: await body(loose, 'policy', { rules: strict }),
      })
    ).record;
    assert.equal(v3.version, 3);

    // Member B never saw version 3: the host forks from version 2, with no share at all.
    const f3 = (
      await walletAddAccount(b.state, { record: loose, body: { chain: 'ethereum', index: 5 } })
    ).record;
    const f4 = (
      await walletAddAccount(b.state, { record: f3, body: { chain: 'ethereum', index: 6 } })
    ).record;
    assert.equal(f4.version, 4);
    assert.deepEqual(f4.rules, []);

    // Member A issued version 3 with the strict rules: the fork is older than that, whatever
    // its version number says.
    await assert.rejects(
      walletAddAccount(a.state, { record: f4, body: { chain: 'ethereum', index: 7 } }),
      { code: 'WALLET_STATE_STALE' },
    );
    const address = v1.accounts[0]!.address;
    const sign = await body(f4, 'sign', { address, request: ethTransfer('400', 0) }, 'recovery');
    await assert.rejects(walletSign(a.state, { record: f4, body: sign, spend: null }), {
      code: 'WALLET_STATE_STALE',
    });
    // The genuine record still works on A: the same request is refused by the owner's rule.
    const denied = await walletSign(a.state, {
      record: v3,
      body: await body(v3, 'sign', { address, request: ethTransfer('400', 0) }, 'recovery'),
      spend: null,
    });
    assert.equal(denied.verdict, 'denied');
  });
});
