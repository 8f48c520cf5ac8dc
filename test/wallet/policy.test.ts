/** Policy evaluation: each rule refuses what it should, names itself, and fails closed. */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { evaluatePolicy } from '../../src/enclave/wallet/policy.js';
import {
  PolicyRulesSchema,
  SignRequestSchema,
  type PolicyRule,
  type SignRequest,
} from '../../src/protocol/wallet/requests.js';

const TO = '0x8eA7a3fccC211ED48b763b4164884DDbcF3b0A98';
const tx = (fields: Record<string, unknown> = {}): SignRequest =>
  SignRequestSchema.parse({
    type: 'eth_transaction',
    transaction: {
      chainId: 1,
      nonce: 0,
      to: TO,
      value: '1000',
      gas: 21000,
      // No fee unless a test gives one: the daily limit counts value + gas × maxFeePerGas.
      maxFeePerGas: 0,
      maxPriorityFeePerGas: 0,
      ...fields,
    },
  });
const rules = (r: unknown[]): PolicyRule[] => PolicyRulesSchema.parse(r);
const none = { spentTodayWei: 0n };
const personal = SignRequestSchema.parse({ type: 'eth_personal_sign', message: 'hi' });
const typed = (chainId?: number) =>
  SignRequestSchema.parse({
    type: 'eth_typed_data',
    typed_data: {
      types: { EIP712Domain: [] },
      primaryType: 'EIP712Domain',
      domain: chainId ? { chainId } : {},
      message: {},
    },
  });
const solMsg = SignRequestSchema.parse({ type: 'sol_message', message: 'aGk=' });
const solTx = SignRequestSchema.parse({ type: 'sol_transaction', message: 'aGk=' });

describe('policy evaluation', () => {
  it('no rules: everything allowed; a transaction spends its value', () => {
    assert.deepEqual(evaluatePolicy([], tx(), none), { allowed: true, spendWei: 1000n });
    assert.deepEqual(evaluatePolicy([], personal, none), { allowed: true, spendWei: 0n });
  });

  it('max_value_wei: equal passes, one wei more refuses', () => {
    const r = rules([{ type: 'max_value_wei', value: '1000' }]);
    assert.equal(evaluatePolicy(r, tx(), none).allowed, true);
    assert.deepEqual(evaluatePolicy(r, tx({ value: '1001' }), none), {
      allowed: false,
      rule: { index: 0, type: 'max_value_wei' },
    });
  });

  it('daily_limit_wei counts what was already signed today', () => {
    const r = rules([{ type: 'daily_limit_wei', value: 5000 }]);
    assert.equal(evaluatePolicy(r, tx(), { spentTodayWei: 4000n }).allowed, true);
    assert.equal(evaluatePolicy(r, tx(), { spentTodayWei: 4001n }).allowed, false);
  });

  it('allowed_chain_ids: transactions and typed data with a chain id', () => {
    const r = rules([{ type: 'allowed_chain_ids', values: [1, '0x89'] }]);
    assert.equal(evaluatePolicy(r, tx({ chainId: 137 }), none).allowed, true);
    assert.equal(evaluatePolicy(r, tx({ chainId: 5 }), none).allowed, false);
    assert.equal(evaluatePolicy(r, typed(5), none).allowed, false);
    assert.equal(evaluatePolicy(r, typed(1), none).allowed, true);
    assert.equal(evaluatePolicy(r, typed(), none).allowed, true);
  });

  it('allowed_recipients: case-insensitive; a contract creation is refused', () => {
    const r = rules([{ type: 'allowed_recipients', values: [TO.toLowerCase()] }]);
    assert.equal(evaluatePolicy(r, tx(), none).allowed, true);
    assert.equal(evaluatePolicy(r, tx({ to: '0x' + '11'.repeat(20) }), none).allowed, false);
    assert.equal(evaluatePolicy(r, tx({ to: undefined, data: '0x6000' }), none).allowed, false);
    assert.equal(evaluatePolicy(r, personal, none).allowed, true);
  });

  it('deny_message_signing refuses personal, typed and Solana messages, not transactions', () => {
    const r = rules([{ type: 'deny_message_signing' }]);
    for (const m of [personal, typed(1), solMsg])
      assert.equal(evaluatePolicy(r, m, none).allowed, false);
    assert.equal(evaluatePolicy(r, tx(), none).allowed, true);
  });

  it('fails closed: value, chain and recipient rules refuse an (opaque) Solana transaction', () => {
    for (const rule of [
      { type: 'max_value_wei', value: 1 },
      { type: 'daily_limit_wei', value: 1 },
      { type: 'allowed_chain_ids', values: [1] },
      { type: 'allowed_recipients', values: [TO] },
    ]) {
      assert.equal(evaluatePolicy(rules([rule]), solTx, none).allowed, false, rule.type);
    }
    assert.equal(
      evaluatePolicy(rules([{ type: 'deny_message_signing' }]), solTx, none).allowed,
      true,
    );
  });

  it('returns the first refusing rule, by index', () => {
    const r = rules([
      { type: 'allowed_chain_ids', values: [1] },
      { type: 'max_value_wei', value: 1 },
      { type: 'deny_message_signing' },
    ]);
    assert.deepEqual(evaluatePolicy(r, tx(), none), {
      allowed: false,
      rule: { index: 1, type: 'max_value_wei' },
    });
  });

  it('the rule schema refuses unknown types, extra fields and bad addresses', () => {
    for (const bad of [
      [{ type: 'max_gas' }],
      [{ type: 'deny_message_signing', extra: 1 }],
      [{ type: 'allowed_recipients', values: ['0x12'] }],
      [{ type: 'max_value_wei', value: -1 }],
    ]) {
      assert.equal(PolicyRulesSchema.safeParse(bad).success, false, JSON.stringify(bad));
    }
    assert.equal(SignRequestSchema.safeParse({ type: 'btc_sign', message: 'x' }).success, false);
  });
});
