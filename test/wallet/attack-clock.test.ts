/**
 * Attack review (wallet custody): a TEE's clock is the host's. Within one enclave process the
 * host sets it back between requests, while the envelopes it relays stay fresh (their age is
 * counted on the clock that never goes back, `state.monotonicNow`). Two wallet rules read the
 * clock: the daily limit (which UTC day a signature counts against) and the recovery time-lock
 * (`started_at`, `unlock_at`). Set back, the clock gave a new day with nothing spent (a fresh
 * daily allowance per day in the past), and a recovery started "a delay ago" that unlocked at
 * once. Both now read `state.monotonicNow`. Moving the clock forward is not refused (no enclave
 * can tell), see SECURITY.md "Wallet custody: attack review".
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { encryptWalletShare } from '../../src/client/wallet/encrypt-share.js';
import { newReplyKeyPair, openSealedShare } from '../../src/client/wallet/open-share.js';
import {
  walletCreate,
  walletRecoveryStart,
  walletResplit,
  walletSetPolicy,
  walletSign,
} from '../../src/enclave/methods/wallet.js';
import type { WalletRecord } from '../../src/protocol/rpc/wallet-methods.js';
import type { WalletAction } from '../../src/protocol/wallet/binds.js';
import type { ClientShareKind } from '../../src/protocol/wallet/constants.js';
import { testEnclave } from '../helpers/enclave-state.js';
import { ok } from '../mutation-killers/rpc.js';

const DAY = 86_400;

async function setup() {
  const t = testEnclave();
  const g = await ok(t, 'keyring.generate', { policy: 'signer' });
  await ok(t, 'wallet.init', { sealed: null });
  t.clock.now += 3600;
  const reply = newReplyKeyPair();
  const created = await walletCreate(t.state, {
    user_id: 'user-1',
    wallet_id: randomUUID(),
    reply_pub: reply.replyPub,
  });
  const shares = {
    device: openSealedShare(created.shares.device, reply.privateKey).share,
    recovery: openSealedShare(created.shares.recovery, reply.privateKey).share,
  };
  const key = g.public.credential_keys.find((k) => k.key_id === g.public.current_key_id)!;
  /** An envelope dated by the honest time (the clock that never goes back). */
  const body = async (
    record: WalletRecord,
    action: WalletAction,
    fields: Record<string, unknown>,
    kind: ClientShareKind = 'device',
  ): Promise<Record<string, unknown>> => ({
    ...fields,
    share: await encryptWalletShare(
      {
        walletId: record.wallet_id,
        kind,
        share: Uint8Array.from(shares[kind]),
        action,
        body: fields,
      },
      key.public_key,
      { keyId: key.key_id, issuedAt: t.state.monotonicNow() },
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

describe('the enclave clock set back by the host', () => {
  it('gives no fresh daily allowance (a day in the past)', async () => {
    const { t, record, body } = await setup();
    const next = (
      await walletSetPolicy(t.state, {
        record,
        body: await body(record, 'policy', {
          rules: [{ type: 'daily_limit_wei', value: '1000' }],
        }),
      })
    ).record;
    const address = record.accounts[0]!.address;
    const first = await walletSign(t.state, {
      record: next,
      body: await body(next, 'sign', { address, request: tx('1000', 0) }),
      spend: null,
    });
    assert.equal(first.verdict, 'allowed');
    // The host moves the clock back a day, a week: each is a day this enclave never signed on.
    for (const back of [DAY, 7 * DAY]) {
      const honest = t.state.monotonicNow();
      const b = await body(next, 'sign', { address, request: tx('1000', 1) });
      t.clock.now = honest - back;
      const out = await walletSign(t.state, { record: next, body: b, spend: first.spend ?? null });
      assert.equal(out.verdict, 'denied', `clock ${back} s back`);
      t.clock.now = honest;
    }
  });

  it('does not shorten the recovery time-lock', async () => {
    const { t, record, body } = await setup();
    const delay = t.state.config.WALLET_RECOVERY_DELAY_SECONDS;
    const honest = t.state.monotonicNow();
    const b = await body(record, 'recovery', { reply_pub: newReplyKeyPair().replyPub }, 'recovery');
    // Started "a delay ago": unlocked as soon as the clock is put right.
    t.clock.now = honest - delay;
    const started = (await walletRecoveryStart(t.state, { record, body: b })).record;
    assert.ok(started.recovery!.unlock_at >= honest + delay);
    t.clock.now = honest;
    const complete = await body(
      started,
      'recovery_complete',
      { reply_pub: newReplyKeyPair().replyPub },
      'recovery',
    );
    await assert.rejects(
      walletResplit(t.state, { record: started, body: complete, mode: 'recovery_complete' }),
      { code: 'WALLET_RECOVERY_LOCKED' },
    );
  });
});
