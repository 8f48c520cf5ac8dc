/**
 * A holder of either client share under a daily limit drained the account through the fee: a
 * zero-value transaction counted 0 against `daily_limit_wei` whatever its `gas` × `maxFeePerGas`
 * (or `gasPrice`), and everything above the base fee is paid to whoever builds the block, which
 * anyone can be. The daily allowance now counts a transaction's value plus the largest fee it
 * allows, and so does the spend counter.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { walletSetPolicy, walletSign } from '../../src/enclave/methods/wallet.js';
import { walletInEnclave } from '../helpers/wallet-enclave.js';

const ETHER = 10n ** 18n;
const tip = (fees: Record<string, string>) => ({
  type: 'eth_transaction',
  transaction: {
    chainId: 1,
    nonce: 0,
    to: '0x' + '22'.repeat(20),
    value: '0',
    gas: 21000,
    ...fees,
  },
});

describe('a daily limit against the fee of a zero-value transaction', () => {
  it('counts gas × maxFeePerGas (or gasPrice) with the value', async () => {
    const { t, record, body } = await walletInEnclave();
    const address = record.accounts[0]!.address;
    const limited = (
      await walletSetPolicy(t.state, {
        record,
        body: await body(record, 'policy', {
          rules: [{ type: 'daily_limit_wei', value: ETHER.toString() }],
        }),
      })
    ).record;
    // 10 ether of fee at most, nothing sent: past a 1-ether day, in either fee model.
    const perGas = ((10n * ETHER) / 21000n).toString();
    const models: Record<string, string>[] = [
      { maxFeePerGas: perGas, maxPriorityFeePerGas: perGas },
      { gasPrice: perGas },
    ];
    for (const fees of models) {
      const out = await walletSign(t.state, {
        record: limited,
        body: await body(limited, 'sign', { address, request: tip(fees) }, 'recovery'),
        spend: null,
      });
      assert.equal(out.verdict, 'denied', JSON.stringify(fees));
    }
    // A fee that fits is signed and counted: 21000 × 1000 wei.
    const fits = await walletSign(t.state, {
      record: limited,
      body: await body(limited, 'sign', {
        address,
        request: tip({ maxFeePerGas: '1000', maxPriorityFeePerGas: '1' }),
      }),
      spend: null,
    });
    assert.ok(fits.verdict === 'allowed');
    assert.equal(fits.spend.spent_wei, '21000000');
  });
});
