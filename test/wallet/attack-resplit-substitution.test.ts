/**
 * Attack review (wallet custody): a host answers a recovery completion (or a reshare) with a
 * split of a wallet whose key it knows. It asks the enclave itself: `wallet.create` under the
 * victim's wallet id (and user id, both host data) sealed to its own reply key, so it opens
 * both shares; then `wallet.resplit` of that wallet with its own device share, sealed to the
 * victim's `reply_pub`. The answer carries a genuine `split_signature` over the victim's wallet
 * id, the next generation and the addresses the host lists in GET /wallets/:id (where
 * `cloister wallet recover complete` takes them): the client saved shares of the host's wallet
 * as its recovered one. The split now also signs which share authorized it
 * (`authorized_by`), and the client requires the share it sent.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { encryptWalletShare } from '../../src/client/wallet/encrypt-share.js';
import { completeRecovery, reshare } from '../../src/client/wallet/http.js';
import { newReplyKeyPair, openSealedShare } from '../../src/client/wallet/open-share.js';
import { walletCreate, walletResplit } from '../../src/enclave/methods/wallet.js';
import { HANDLERS } from '../../src/enclave/methods/index.js';
import { testEnclave } from '../helpers/enclave-state.js';
import { ok } from '../mutation-killers/rpc.js';

describe('a re-split answered with the host’s own wallet', () => {
  it('is refused by completeRecovery and reshare, even with the host’s addresses', async () => {
    // The SDK dates its envelopes by the real clock: an enclave started an hour ago.
    const t = testEnclave({ bootAt: Math.floor(Date.now() / 1000) - 3600 });
    const g = await ok(t, 'keyring.generate', { policy: 'signer' });
    const w = await ok(t, 'wallet.init', { sealed: null });
    t.clock.now = Math.floor(Date.now() / 1000);
    /** Another process on the same keyrings (a cluster member), for each host wallet. */
    const member = async () => {
      const m = testEnclave({ dir: t.dir, bootAt: t.clock.now - 3600 });
      await HANDLERS['keyring.unseal'](m.state, { sealed: g.sealed });
      await ok(m, 'wallet.init', { sealed: w.sealed });
      m.clock.now = t.clock.now;
      return m;
    };
    const key = g.public.credential_keys.find((k) => k.key_id === g.public.current_key_id)!;
    const resultsKey = g.public.signing_keys.results;

    // The victim's wallet; the victim keeps its recovery and device shares.
    const walletId = randomUUID();
    const victimReply = newReplyKeyPair();
    const victim = await walletCreate(t.state, {
      user_id: 'victim',
      wallet_id: walletId,
      reply_pub: victimReply.replyPub,
    });
    const victimShares = {
      device: openSealedShare(victim.shares.device, victimReply.privateKey),
      recovery: openSealedShare(victim.shares.recovery, victimReply.privateKey),
    };

    // The host's wallets under the same ids, sealed to the host: it opens their shares.
    const hostWallet = async () => {
      const h = await member();
      const hostReply = newReplyKeyPair();
      const c = await walletCreate(h.state, {
        user_id: 'victim',
        wallet_id: walletId,
        reply_pub: hostReply.replyPub,
      });
      return {
        h,
        record: c.record,
        device: openSealedShare(c.shares.device, hostReply.privateKey),
      };
    };

    const json = (answer: unknown) =>
      new Response(JSON.stringify(answer), {
        status: 200,
        headers: { 'content-type': 'application/json' },
      });
    const answer = (r: Awaited<ReturnType<typeof walletResplit>>) =>
      json({
        wallet_id: r.record.wallet_id,
        generation: r.record.generation,
        accounts: r.record.accounts,
        shares: r.shares,
        split_signature: r.split_signature,
        log: { index: 0, tree_size: 1, root_hash: '00'.repeat(32) },
      });
    /** The host's answer to a re-split: its own wallet re-split to the client's reply key. */
    const forged = (host: Awaited<ReturnType<typeof hostWallet>>) =>
      (async (_url: string, init?: RequestInit) => {
        const { reply_pub } = JSON.parse(String(init?.body)) as { reply_pub: string };
        const fields = { reply_pub };
        const share = await encryptWalletShare(
          {
            walletId,
            kind: 'device',
            share: Uint8Array.from(host.device.share),
            action: 'reshare',
            body: fields,
          },
          key.public_key,
          { keyId: key.key_id, issuedAt: host.h.clock.now },
        );
        return answer(
          await walletResplit(host.h.state, {
            record: host.record,
            body: { ...fields, share },
            mode: 'reshare',
          }),
        );
      }) as typeof fetch;
    const opts = (f: typeof fetch) => ({
      baseUrl: 'https://cloister.test',
      accessToken: 'token',
      enclaveKey: { publicKey: key.public_key, keyId: key.key_id },
      resultsKey,
      fetch: f,
    });

    // First, the genuine re-split of the victim's wallet, relayed as is: accepted.
    const relay = (async (_url: string, init?: RequestInit) =>
      answer(
        await walletResplit(t.state, {
          record: victim.record,
          body: JSON.parse(String(init?.body)) as Record<string, unknown>,
          mode: 'reshare',
        }),
      )) as typeof fetch;
    const genuine = await reshare(
      opts(relay),
      walletId,
      { kind: 'device', share: victimShares.device.share },
      { generation: 2, accounts: victim.record.accounts },
    );
    assert.equal(genuine.generation, 2);

    // What GET /wallets/:id says: generation 1 and the host wallet's addresses.
    const a = await hostWallet();
    await assert.rejects(
      completeRecovery(
        opts(forged(a)),
        walletId,
        { kind: 'recovery', share: victimShares.recovery.share },
        { generation: 2, accounts: a.record.accounts },
      ),
      { code: 'WALLET_CREATION_MISMATCH' },
    );
    const b = await hostWallet();
    await assert.rejects(
      reshare(
        opts(forged(b)),
        walletId,
        { kind: 'device', share: victimShares.device.share },
        { generation: 2, accounts: b.record.accounts },
      ),
      { code: 'WALLET_CREATION_MISMATCH' },
    );
  });
});
