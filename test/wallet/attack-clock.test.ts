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
import { describe, it } from 'node:test';
import { newReplyKeyPair } from '../../src/client/wallet/open-share.js';
import { ethTransfer, walletInEnclave } from '../helpers/wallet-enclave.js';
import {
  walletRecoveryStart,
  walletResplit,
  walletSetPolicy,
  walletSign,
} from '../../src/enclave/methods/wallet.js';

const DAY = 86_400;

const setup = () => walletInEnclave();

const tx = ethTransfer;

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
