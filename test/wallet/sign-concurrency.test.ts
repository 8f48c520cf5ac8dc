/**
 * wallet.sign in an in-process enclave: signatures of one wallet are not queued behind each
 * other (their shares open concurrently), so what must stay atomic is checked where the
 * signature is made (src/enclave/methods/wallet.ts, SpendLedger in custody.ts): a record
 * superseded while a share was opening is refused, and concurrent signatures against one daily
 * allowance sign exactly once.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { encryptWalletShare } from '../../src/client/wallet/encrypt-share.js';
import { newReplyKeyPair, openSealedShare } from '../../src/client/wallet/open-share.js';
import { walletCreate, walletSetPolicy, walletSign } from '../../src/enclave/methods/wallet.js';
import { rememberRecord } from '../../src/enclave/wallet/state-mac.js';
import type { WalletRecord } from '../../src/protocol/rpc/wallet-methods.js';
import type { WalletAction } from '../../src/protocol/wallet/binds.js';
import { testEnclave } from '../helpers/enclave-state.js';
import { ok } from '../mutation-killers/rpc.js';

async function setup() {
  const t = testEnclave();
  const g = await ok(t, 'keyring.generate', { policy: 'signer' });
  await ok(t, 'wallet.init', { sealed: null });
  // Envelopes are dated by the enclave's clock; move it well past the enclave's start.
  t.clock.now += 3600;
  const reply = newReplyKeyPair();
  const created = await walletCreate(t.state, {
    user_id: 'user-1',
    wallet_id: randomUUID(),
    reply_pub: reply.replyPub,
  });
  const device = openSealedShare(created.shares.device, reply.privateKey).share;
  const key = g.public.credential_keys.find((k) => k.key_id === g.public.current_key_id)!;
  const body = async (
    record: WalletRecord,
    action: WalletAction,
    fields: Record<string, unknown>,
  ): Promise<Record<string, unknown>> => ({
    ...fields,
    share: await encryptWalletShare(
      {
        walletId: record.wallet_id,
        kind: 'device',
        share: Uint8Array.from(device),
        action,
        body: fields,
      },
      key.public_key,
      { keyId: key.key_id, issuedAt: t.clock.now },
    ),
  });
  return { t, record: created.record, body };
}

const tx = (value: string, nonce: number) => ({
  type: 'eth_transaction',
  transaction: {
    chainId: 1,
    nonce,
    to: '0x000000000000000000000000000000000000dEaD',
    value,
    gas: 21000,
    maxFeePerGas: '2',
    maxPriorityFeePerGas: '1',
  },
});

describe('wallet.sign, concurrent signatures of one wallet', () => {
  it('a record superseded while the share opens is refused as stale', async () => {
    const { t, record, body } = await setup();
    const address = record.accounts[0]!.address;
    const b = await body(record, 'sign', { address, request: tx('1', 0) });
    const signing = walletSign(t.state, { record, body: b, spend: null });
    // The wallet's next record (say, a stricter policy) is issued while the share opens.
    rememberRecord(t.state.wallets, { ...record, version: record.version + 1 });
    await assert.rejects(signing, { code: 'WALLET_STATE_STALE' });
  });

  it('five signatures in flight against one daily allowance: exactly those that fit sign', async () => {
    const { t, record, body } = await setup();
    const address = record.accounts[0]!.address;
    const policy = await walletSetPolicy(t.state, {
      record,
      body: await body(record, 'policy', {
        rules: [{ type: 'daily_limit_wei', value: '1000' }],
      }),
    });
    const next = policy.record;
    const bodies = await Promise.all(
      [0, 1, 2, 3, 4].map((n) => body(next, 'sign', { address, request: tx('400', n) })),
    );
    const outs = await Promise.all(
      bodies.map((b) => walletSign(t.state, { record: next, body: b, spend: null })),
    );
    assert.deepEqual(outs.map((o) => o.verdict).sort(), [
      'allowed',
      'allowed',
      'denied',
      'denied',
      'denied',
    ]);
    const spends = outs.flatMap((o) => (o.verdict === 'allowed' ? [o.spend.spent_wei] : []));
    assert.deepEqual(spends.sort(), ['400', '800']);
  });
});
