/**
 * wallet.sign in an in-process enclave, with signatures of one wallet in flight together and
 * racing the wallet's other operations (src/enclave/methods/wallet.ts runs them one at a time
 * per wallet): concurrent signatures against one daily allowance sign exactly those that fit, a
 * replaced record is refused before its envelope is spent, one envelope signs once, replayed or
 * missing counters cannot lower the allowance, and no signature is counted after a newer record
 * (policy change, reshare, deletion) was issued.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newReplyKeyPair } from '../../src/client/wallet/open-share.js';
import {
  walletDelete,
  walletResplit,
  walletSetPolicy,
  walletSign,
} from '../../src/enclave/methods/wallet.js';
import { utcDay } from '../../src/enclave/wallet/state-mac.js';
import type { SpendCounter, WalletRecord } from '../../src/protocol/rpc/wallet-methods.js';
import type { TestEnclave } from '../helpers/enclave-state.js';
import { ethTransfer, walletInEnclave } from '../helpers/wallet-enclave.js';
import { rpc } from '../mutation-killers/rpc.js';

const setup = () => walletInEnclave();

/** A wallet whose policy (its record `next`) is a daily limit of `wei`. */
async function withDailyLimit(wei: string) {
  const { t, record, body } = await setup();
  const policy = await walletSetPolicy(t.state, {
    record,
    body: await body(record, 'policy', { rules: [{ type: 'daily_limit_wei', value: wei }] }),
  });
  return { t, body, address: record.accounts[0]!.address, next: policy.record };
}

const tx = ethTransfer;

describe('wallet.sign, concurrent signatures of one wallet', () => {
  it('five signatures in flight against one daily allowance: exactly those that fit sign', async () => {
    const { t, body, address, next } = await withDailyLimit('1000');
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

  it('a record already replaced is refused before its envelope is spent: the same envelope then meets the new, stricter rules', async () => {
    const { t, record, body } = await setup();
    const address = record.accounts[0]!.address;
    const stricter = await walletSetPolicy(t.state, {
      record,
      body: await body(record, 'policy', { rules: [{ type: 'max_value_wei', value: '100' }] }),
    });
    const b = await body(record, 'sign', { address, request: tx('400', 0) });
    await assert.rejects(walletSign(t.state, { record, body: b, spend: null }), {
      code: 'WALLET_STATE_STALE',
    });
    const out = await walletSign(t.state, { record: stricter.record, body: b, spend: null });
    assert.equal(out.verdict, 'denied');
    assert.deepEqual(out.verdict === 'denied' && out.rule, { index: 0, type: 'max_value_wei' });
  });

  it('one envelope sent twice at once signs once and is counted once', async () => {
    const { t, record, body } = await setup();
    const address = record.accounts[0]!.address;
    const b = await body(record, 'sign', { address, request: tx('400', 0) });
    const outs = await Promise.allSettled([
      walletSign(t.state, { record, body: b, spend: null }),
      walletSign(t.state, { record, body: b, spend: null }),
    ]);
    const allowed = outs.filter((o) => o.status === 'fulfilled' && o.value.verdict === 'allowed');
    const replayed = outs.filter(
      (o) =>
        o.status === 'rejected' && (o.reason as { code?: string }).code === 'ENVELOPE_REPLAYED',
    );
    assert.equal(allowed.length, 1);
    assert.equal(replayed.length, 1);
    assert.deepEqual([...t.state.wallets.spent.values()], [400n]);
  });

  it("replayed, missing or another day's counters in concurrent signatures cannot lower the allowance", async () => {
    const { t, body, address, next } = await withDailyLimit('1000');
    const signOne = async (value: string, nonce: number, spend: SpendCounter | null) => {
      const out = await walletSign(t.state, {
        record: next,
        body: await body(next, 'sign', { address, request: tx(value, nonce) }),
        spend,
      });
      return out;
    };
    // Yesterday: a genuine counter of 100.
    const yesterday = await signOne('100', 0, null);
    assert.equal(yesterday.verdict, 'allowed');
    t.clock.now += 86_400;
    const today = utcDay(t.clock.now);
    const first = await signOne('400', 1, null);
    const second = await signOne('400', 2, first.verdict === 'allowed' ? first.spend : null);
    assert.ok(first.verdict === 'allowed' && second.verdict === 'allowed');
    assert.equal(second.spend.spent_wei, '800');
    assert.equal(second.spend.day, today);
    // Three in flight, each handing the enclave a counter lower than today's 800.
    const outs = await Promise.all([
      signOne('200', 3, first.spend),
      signOne('200', 4, null),
      signOne('200', 5, yesterday.verdict === 'allowed' ? yesterday.spend : null),
    ]);
    assert.deepEqual(outs.map((o) => o.verdict).sort(), ['allowed', 'denied', 'denied']);
    const spends = outs.flatMap((o) => (o.verdict === 'allowed' ? [o.spend] : []));
    assert.deepEqual(
      spends.map((c) => [c.day, c.spent_wei]),
      [[today, '1000']],
    );
  });
});

describe("wallet.sign, today's spend near the top of uint256", () => {
  it('a counter past 78 digits never breaks the result: it saturates at 2^256 − 1', async () => {
    // No policy: a transaction of value 2^256 − 1 signs (invalid on chain, valid to sign). The
    // sum of a few used to outgrow the counter's schema after the enclave remembered it, so
    // every later signature of the wallet that day was INTERNAL.
    const { t, record, body } = await setup();
    const address = record.accounts[0]!.address;
    const max = ((1n << 256n) - 1n).toString();
    let spend: SpendCounter | null = null;
    for (let n = 0; n < 10; n++) {
      const b = await body(record, 'sign', { address, request: tx(max, n) });
      const a = await rpc(t, 'wallet.sign', { record, body: b, spend });
      assert.ok(a.ok, `signature ${n}: ${JSON.stringify(a)}`);
      spend = (a.result as { spend: SpendCounter }).spend;
    }
    assert.equal(spend!.spent_wei, max);
  });
});

describe('wallet.sign racing the queued operations (real interleavings)', () => {
  it('signatures racing a policy change, a reshare or a deletion: none is counted after the newer record was issued', async () => {
    type Body = Awaited<ReturnType<typeof setup>>['body'];
    const ops: Record<string, (t: TestEnclave, r: WalletRecord, body: Body) => Promise<unknown>> = {
      policy: async (t, record, body) =>
        walletSetPolicy(t.state, {
          record,
          body: await body(record, 'policy', { rules: [{ type: 'max_value_wei', value: '0' }] }),
        }),
      reshare: async (t, record, body) =>
        walletResplit(t.state, {
          record,
          mode: 'reshare',
          body: await body(record, 'reshare', { reply_pub: newReplyKeyPair().replyPub }),
        }),
      delete: async (t, record, body) =>
        walletDelete(t.state, { record, body: await body(record, 'delete', {}) }),
    };
    for (const [name, op] of Object.entries(ops)) {
      const { t, record, body } = await setup();
      const address = record.accounts[0]!.address;
      // What the enclave remembers, in order: a newer record issued, a spend counted.
      const events: string[] = [];
      const { versions, spent } = t.state.wallets;
      const setVersion = versions.set.bind(versions);
      versions.set = (k: string, v: number) => (events.push('record'), setVersion(k, v));
      const setSpent = spent.set.bind(spent);
      spent.set = (k: string, v: bigint) => (events.push('spend'), setSpent(k, v));
      const bodies = await Promise.all(
        Array.from({ length: 24 }, (_, n) =>
          body(record, 'sign', { address, request: tx('1', n) }),
        ),
      );
      // Everything here advances by microtasks: one signature starts per turn, from the
      // operation's start on, so the signatures sweep over the moment it issues its record.
      const operation = op(t, record, body);
      const signing: Promise<unknown>[] = [];
      for (const b of bodies) {
        const p = walletSign(t.state, { record, body: b, spend: null });
        p.catch(() => {}); // settled below
        signing.push(p);
        await Promise.resolve();
      }
      await operation;
      const signs = await Promise.allSettled(signing);
      const issuedAt = events.indexOf('record');
      assert.ok(issuedAt >= 0, name);
      assert.ok(
        events.slice(issuedAt).every((e) => e !== 'spend'),
        `${name}: a spend counted after the newer record: ${events.join(', ')}`,
      );
      assert.equal(signs.filter((s) => s.status === 'fulfilled').length, issuedAt, name);
      const refused = signs.flatMap((s, i) => (s.status === 'rejected' ? [{ s, i }] : []));
      for (const { s } of refused)
        assert.equal((s.reason as { code?: string }).code, 'WALLET_STATE_STALE', name);
    }
  });
});
