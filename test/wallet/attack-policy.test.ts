/**
 * Attack review (issue 14): what the policy reads must be what the enclave signs. EIP-712's
 * domain.chainId is free JSON; the policy read only a safe integer or a canonical decimal/0x
 * string and let anything else through `allowed_chain_ids`, while the signer (micro-eth-signer)
 * also reads "0X0a", "+10", " 10", "0b1010", "0o12" as chain 10.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { evaluatePolicy } from '../../src/enclave/wallet/policy.js';
import { signTypedData } from '../../src/enclave/wallet/sign-ethereum.js';
import { PolicyRulesSchema, SignRequestSchema } from '../../src/protocol/wallet/requests.js';

const key = new Uint8Array(32).fill(7);
const typedData = (chainId: unknown) => ({
  types: {
    EIP712Domain: [{ name: 'chainId', type: 'uint256' }],
    Permit: [{ name: 'amount', type: 'uint256' }],
  },
  primaryType: 'Permit',
  domain: { chainId },
  message: { amount: 1 },
});

describe('allowed_chain_ids against EIP-712 domain.chainId spellings', () => {
  const onlyMainnet = PolicyRulesSchema.parse([{ type: 'allowed_chain_ids', values: [1] }]);
  const chain10 = signTypedData(key, typedData(10)).signature;

  it('refuses every spelling of another chain that the signer accepts', () => {
    for (const spelling of ['0X0a', '+10', ' 10', '10 ', '0b1010', '0o12']) {
      // The signer reads it as chain 10: the very signature of chain 10.
      assert.equal(signTypedData(key, typedData(spelling)).signature, chain10, spelling);
      const request = SignRequestSchema.parse({
        type: 'eth_typed_data',
        typed_data: typedData(spelling),
      });
      const verdict = evaluatePolicy(onlyMainnet, request, { spentTodayWei: 0n });
      assert.equal(verdict.allowed, false, `chainId ${JSON.stringify(spelling)} passed`);
    }
  });

  it('still allows the allowed chain in its canonical spellings', () => {
    for (const spelling of [1, '1', '0x1', '0x01']) {
      const request = SignRequestSchema.parse({
        type: 'eth_typed_data',
        typed_data: typedData(spelling),
      });
      assert.equal(evaluatePolicy(onlyMainnet, request, { spentTodayWei: 0n }).allowed, true);
    }
  });
});
