/**
 * src/enclave/methods/wallet.ts for the mutation run (docs/mutation-testing.md): the wallet
 * methods the in-process tests did not reach (the keyring's unseal, adding accounts, the
 * recovery time-lock, a deleted wallet) and the parts of the answers a client relies on (the
 * split signature, the record's version and fields). Through the real dispatcher on an
 * in-process enclave, as the host's RPC client calls them.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { verifyWalletResponse } from '../../src/client/wallet/shares.js';
import { newReplyKeyPair } from '../../src/client/wallet/open-share.js';
import { signRecord } from '../../src/enclave/wallet/state-mac.js';
import { testEnclave } from '../helpers/enclave-state.js';
import { ethTransfer, walletInEnclave } from '../helpers/wallet-enclave.js';
import { code, ok } from './rpc.js';

const setup = walletInEnclave;

describe('wallet.init', () => {
  it('creates the wallet keyring once; a restarted enclave unseals the stored one', async () => {
    const t = testEnclave();
    const g = await ok(t, 'keyring.generate', { policy: 'signer' });
    const createParams = () => ({
      user_id: 'u',
      wallet_id: randomUUID(),
      reply_pub: newReplyKeyPair().replyPub,
    });
    assert.equal(await code(t, 'wallet.create', createParams()), 'WALLET_NOT_READY');
    const first = await ok(t, 'wallet.init', { sealed: null });
    assert.equal(first.generation, 1);
    assert.equal(typeof first.sealed, 'string');
    // Again, with or without a blob: the loaded keyring stays, nothing new to store.
    assert.deepEqual(await ok(t, 'wallet.init', { sealed: null }), { sealed: null, generation: 1 });
    assert.deepEqual(await ok(t, 'wallet.init', { sealed: first.sealed }), {
      sealed: null,
      generation: 1,
    });
    const created = await ok(t, 'wallet.create', createParams());
    // The same platform folder, a new process: the stored blob is unsealed, not replaced, so
    // the records the first process MACed still check.
    const t2 = testEnclave({ dir: t.dir });
    await ok(t2, 'keyring.unseal', { sealed: g.sealed });
    assert.deepEqual(await ok(t2, 'wallet.init', { sealed: first.sealed }), {
      sealed: null,
      generation: 1,
    });
    const add = await ok(t2, 'wallet.add_account', {
      record: created.record,
      body: { chain: 'ethereum', index: 1 },
    });
    assert.equal(add.record.version, 2);
  });
});

describe('wallet.create', () => {
  it('answers a split the client can check against the attested result key', async () => {
    const { g, reply, created, record } = await setup();
    assert.equal(record.version, 1);
    assert.equal(record.generation, 1);
    assert.equal(record.user_id, 'user-1');
    assert.deepEqual(record.rules, []);
    assert.equal(record.recovery, null);
    const checked = await verifyWalletResponse(
      { ...created, wallet_id: record.wallet_id, accounts: record.accounts },
      reply.privateKey,
      { generation: 1, resultsKey: g.public.signing_keys.results },
    );
    assert.deepEqual(checked.accounts, record.accounts);
  });
});

describe('wallet.add_account', () => {
  it('an Ethereum account from the xpub (no share), a Solana one with a share, each once', async () => {
    const { t, record, body } = await setup();
    const eth = await ok(t, 'wallet.add_account', {
      record,
      body: { chain: 'ethereum', index: 1 },
    });
    assert.equal(eth.record.version, record.version + 1);
    assert.deepEqual(eth.record.accounts, [...record.accounts, eth.account]);
    assert.equal(eth.account.chain, 'ethereum');
    assert.equal(eth.account.index, 1);
    assert.ok(!record.accounts.some((a) => a.address === eth.account.address));
    // An account the record lists already comes back as it is, with the same record.
    const again = await ok(t, 'wallet.add_account', {
      record: eth.record,
      body: { chain: 'ethereum', index: 1 },
    });
    assert.deepEqual(again, {
      record: eth.record,
      account: eth.account,
      accounts_signature: eth.accounts_signature,
    });
    const existing = record.accounts[0]!;
    const same = await ok(t, 'wallet.add_account', {
      record: eth.record,
      body: { chain: existing.chain, index: existing.index },
    });
    assert.deepEqual(same.account, existing);
    // Solana accounts are hardened: no share, no account; a share for another index is refused.
    const sol = await ok(t, 'wallet.add_account', {
      record: eth.record,
      body: await body(eth.record, 'account', { chain: 'solana', index: 1 }),
    });
    assert.equal(sol.record.version, eth.record.version + 1);
    assert.equal(sol.account.chain, 'solana');
    assert.equal(sol.account.index, 1);
    assert.deepEqual(sol.record.accounts, [...eth.record.accounts, sol.account]);
  });

  it('refuses a share with an Ethereum account, and a body it does not know', async () => {
    const { t, record, body } = await setup();
    assert.equal(
      await code(t, 'wallet.add_account', {
        record,
        body: await body(record, 'account', { chain: 'ethereum', index: 2 }),
      }),
      'WALLET_REQUEST_INVALID',
    );
    for (const b of [
      { chain: 'bitcoin', index: 0 },
      { chain: 'ethereum', index: -1 },
      { chain: 'ethereum', index: 2, extra: 1 },
    ])
      assert.equal(
        await code(t, 'wallet.add_account', { record, body: b }),
        'WALLET_REQUEST_INVALID',
      );
    assert.equal(
      await code(t, 'wallet.add_account', { record, body: { chain: 'solana', index: 2 } }),
      'WALLET_SHARE_INVALID',
    );
  });
});

const tx = (nonce: number) => ethTransfer('1', nonce);

describe('wallet.sign', () => {
  it('finds an Ethereum account whatever the address case; refuses an unknown address', async () => {
    const { t, record, body } = await setup();
    const eth = record.accounts.find((a) => a.chain === 'ethereum')!;
    for (const address of [
      eth.address.toUpperCase().replace('0X', '0x'),
      eth.address.toLowerCase(),
    ]) {
      const out = await ok(t, 'wallet.sign', {
        record,
        body: await body(record, 'sign', { address, request: tx(0) }),
        spend: null,
      });
      assert.equal(out.verdict, 'allowed');
      assert.equal(out.address, eth.address);
    }
    const unknown = '0x000000000000000000000000000000000000bEEF';
    assert.equal(
      await code(t, 'wallet.sign', {
        record,
        body: await body(record, 'sign', { address: unknown, request: tx(1) }),
        spend: null,
      }),
      'WALLET_ADDRESS_UNKNOWN',
    );
    // A Solana address is compared as it is (base58 is case-sensitive).
    const sol = record.accounts.find((a) => a.chain === 'solana')!;
    assert.equal(
      await code(t, 'wallet.sign', {
        record,
        body: await body(record, 'sign', {
          address: sol.address.toLowerCase(),
          request: { type: 'sol_message', message: 'aGk=' },
        }),
        spend: null,
      }),
      sol.address === sol.address.toLowerCase() ? 'ok' : 'WALLET_ADDRESS_UNKNOWN',
    );
    const signed = await ok(t, 'wallet.sign', {
      record,
      body: await body(record, 'sign', {
        address: sol.address,
        request: { type: 'sol_message', message: 'aGk=' },
      }),
      spend: null,
    });
    assert.equal(signed.verdict, 'allowed');
  });

  it('the day allowance counts from the enclave clock, and the counter names today', async () => {
    const { t, record, body } = await setup();
    const address = record.accounts.find((a) => a.chain === 'ethereum')!.address;
    const out = await ok(t, 'wallet.sign', {
      record,
      body: await body(record, 'sign', { address, request: tx(0) }),
      spend: null,
    });
    assert.ok(out.verdict === 'allowed');
    assert.equal(out.spend.wallet_id, record.wallet_id);
    assert.equal(out.spend.day, new Date(t.clock.now * 1000).toISOString().slice(0, 10));
    assert.equal(out.spend.spent_wei, '1');
    assert.match(out.request_digest, /^[0-9a-f]{64}$/);
  });
});

describe('recovery', () => {
  it('start sets the time-lock; a second start, a cancel without one, and an early completion are refused', async () => {
    const { t, record, body } = await setup();
    const delay = t.state.config.WALLET_RECOVERY_DELAY_SECONDS;
    const reply = () => ({ reply_pub: newReplyKeyPair().replyPub });
    assert.equal(
      await code(t, 'wallet.recovery_cancel', {
        record,
        body: await body(record, 'recovery_cancel', {}),
      }),
      'WALLET_RECOVERY_NOT_STARTED',
    );
    assert.equal(
      await code(t, 'wallet.resplit', {
        record,
        mode: 'recovery_complete',
        body: await body(record, 'recovery_complete', reply(), 'recovery'),
      }),
      'WALLET_RECOVERY_NOT_STARTED',
    );
    const started = await ok(t, 'wallet.recovery_start', {
      record,
      body: await body(record, 'recovery', reply(), 'recovery'),
    });
    const now = t.clock.now;
    assert.deepEqual(started.record.recovery, { started_at: now, unlock_at: now + delay });
    assert.equal(started.record.version, record.version + 1);
    assert.equal(
      await code(t, 'wallet.recovery_start', {
        record: started.record,
        body: await body(started.record, 'recovery', reply(), 'recovery'),
      }),
      'WALLET_RECOVERY_IN_PROGRESS',
    );
    // One second before the lock opens: refused, and the envelope is not spent.
    t.clock.now = now + delay - 1;
    const complete = await body(started.record, 'recovery_complete', reply(), 'recovery');
    assert.equal(
      await code(t, 'wallet.resplit', {
        record: started.record,
        mode: 'recovery_complete',
        body: complete,
      }),
      'WALLET_RECOVERY_LOCKED',
    );
    t.clock.now = now + delay;
    const done = await ok(t, 'wallet.resplit', {
      record: started.record,
      mode: 'recovery_complete',
      body: complete,
    });
    assert.equal(done.record.generation, 2);
    assert.equal(done.record.recovery, null);
    assert.equal(done.record.version, started.record.version + 1);
  });

  it('a reply key must be exactly one base64 X25519 key, nothing before or after it', async () => {
    const { t, record, body } = await setup();
    const good = newReplyKeyPair().replyPub;
    for (const reply_pub of [`A${good}`, `${good}A`, good.slice(0, 40)])
      assert.equal(
        await code(t, 'wallet.recovery_start', {
          record,
          body: await body(record, 'recovery', { reply_pub }, 'recovery'),
        }),
        'WALLET_REQUEST_INVALID',
        reply_pub,
      );
    assert.equal(
      await code(t, 'wallet.recovery_start', {
        record,
        body: await body(record, 'recovery', { reply_pub: good }, 'recovery'),
      }),
      'ok',
    );
  });

  it('cancel ends a started recovery', async () => {
    const { t, record, body } = await setup();
    const started = await ok(t, 'wallet.recovery_start', {
      record,
      body: await body(record, 'recovery', { reply_pub: newReplyKeyPair().replyPub }, 'recovery'),
    });
    const cancelled = await ok(t, 'wallet.recovery_cancel', {
      record: started.record,
      body: await body(started.record, 'recovery_cancel', {}),
    });
    assert.equal(cancelled.record.recovery, null);
    assert.equal(cancelled.record.version, started.record.version + 1);
    assert.equal(cancelled.record.generation, record.generation);
  });

  it('a reshare signs its split, keeps the accounts and ends a recovery', async () => {
    const { t, g, record, body, shares } = await setup();
    const started = await ok(t, 'wallet.recovery_start', {
      record,
      body: await body(record, 'recovery', { reply_pub: newReplyKeyPair().replyPub }, 'recovery'),
    });
    const reply = newReplyKeyPair();
    const out = await ok(t, 'wallet.resplit', {
      record: started.record,
      mode: 'reshare',
      body: await body(started.record, 'reshare', { reply_pub: reply.replyPub }),
    });
    assert.equal(out.record.recovery, null);
    assert.equal(out.record.generation, 2);
    assert.deepEqual(out.record.accounts, record.accounts);
    assert.notDeepEqual(out.record.server_share, record.server_share);
    await verifyWalletResponse(
      {
        wallet_id: out.record.wallet_id,
        accounts: out.record.accounts,
        shares: out.shares,
        generation: out.record.generation,
        split_signature: out.split_signature,
      },
      reply.privateKey,
      {
        generation: 2,
        accounts: record.accounts,
        resultsKey: g.public.signing_keys.results,
        authorizedBy: shares.device,
      },
    );
  });
});

describe('wallet.set_policy and wallet.delete', () => {
  it('stores the rules as sent and refuses a body with anything else', async () => {
    const { t, record, body } = await setup();
    const rules = [{ type: 'daily_limit_wei', value: '1000' }];
    const out = await ok(t, 'wallet.set_policy', {
      record,
      body: await body(record, 'policy', { rules }),
    });
    assert.deepEqual(out.record.rules, rules);
    assert.equal(out.record.version, record.version + 1);
    assert.equal(
      await code(t, 'wallet.set_policy', {
        record: out.record,
        body: await body(out.record, 'policy', { rules, extra: true }),
      }),
      'WALLET_REQUEST_INVALID',
    );
  });

  it('a deleted wallet answers WALLET_DELETED, and its older records are stale', async () => {
    const { t, record, body } = await setup();
    const del = await ok(t, 'wallet.delete', { record, body: await body(record, 'delete', {}) });
    assert.deepEqual(del, { wallet_id: record.wallet_id, generation: record.generation });
    assert.equal(
      await code(t, 'wallet.add_account', { record, body: { chain: 'ethereum', index: 5 } }),
      'WALLET_STATE_STALE',
    );
    // A record without its server share (MACed by this enclave) does nothing.
    const { mac: _m, ...rest } = record;
    const macKey = t.state.keyrings.wallet.active!.macKey;
    const purged = signRecord(macKey, { ...rest, wallet_id: randomUUID(), server_share: null });
    assert.equal(
      await code(t, 'wallet.add_account', {
        record: purged,
        body: { chain: 'ethereum', index: 5 },
      }),
      'WALLET_DELETED',
    );
    assert.equal(
      await code(t, 'wallet.delete', { record, body: await body(record, 'delete', {}) }),
      'WALLET_STATE_STALE',
    );
  });

  it('delete takes a body with the share only', async () => {
    const { t, record, body } = await setup();
    assert.equal(
      await code(t, 'wallet.delete', { record, body: await body(record, 'delete', { extra: 1 }) }),
      'WALLET_REQUEST_INVALID',
    );
  });

  it('signing refuses a record whose stored rules do not parse (one the enclave never issues)', async () => {
    const { t, record, body } = await setup();
    const { mac: _m, ...rest } = record;
    const macKey = t.state.keyrings.wallet.active!.macKey;
    // A raw quantity above 2^256: a valid stored rule, no valid policy rule.
    const bad = signRecord(macKey, {
      ...rest,
      rules: [{ type: 'max_value_wei', value: '9'.repeat(78) }],
    });
    const address = record.accounts.find((a) => a.chain === 'ethereum')!.address;
    assert.equal(
      await code(t, 'wallet.sign', {
        record: bad,
        body: await body(bad, 'sign', { address, request: tx(0) }),
        spend: null,
      }),
      'WALLET_STATE_INVALID',
    );
  });

  it("each wallet's queue is dropped once its last operation settles", async () => {
    const { t, record, body } = await setup();
    const policy = ok(t, 'wallet.set_policy', {
      record,
      body: await body(record, 'policy', { rules: [] }),
    });
    assert.equal(t.state.wallets.queues.size, 1);
    await policy;
    await new Promise((r) => setImmediate(r));
    assert.equal(t.state.wallets.queues.size, 0);
  });
});
