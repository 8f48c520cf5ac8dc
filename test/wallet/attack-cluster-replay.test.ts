/**
 * A hostile host with two cluster members (one wallet keyring and one credential keyring,
 * separate memories). The owner loosens the policy, then tightens it, within the envelope
 * freshness window; both go to member A. The host replays the loosening envelope to member B
 * with the newest record: B has never seen that envelope (each enclave's replay cache is its
 * own), and without the record's `authorized_at` it issued a NEWER record with the loose rules,
 * which member A then accepted too: a downgrade that outlives the routing, unlike the
 * per-member rollback (SECURITY.md "Known limits").
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { encryptWalletShare } from '../../src/client/wallet/encrypt-share.js';
import { newReplyKeyPair, openSealedShare } from '../../src/client/wallet/open-share.js';
import { HANDLERS } from '../../src/enclave/methods/index.js';
import { walletCreate, walletSetPolicy } from '../../src/enclave/methods/wallet.js';
import type { WalletRecord } from '../../src/protocol/rpc/wallet-methods.js';
import { testEnclave } from '../helpers/enclave-state.js';
import { ok } from '../mutation-killers/rpc.js';

const BOOT = 1_799_990_000;

describe('a set_policy envelope replayed to another cluster member', () => {
  it('does not give a newer record with the rules it replaced', async () => {
    const a = testEnclave({ bootAt: BOOT });
    const g = await ok(a, 'keyring.generate', { policy: 'signer' });
    const w = await ok(a, 'wallet.init', { sealed: null });
    const b = testEnclave({ dir: a.dir, bootAt: BOOT });
    await HANDLERS['keyring.unseal'](b.state, { sealed: g.sealed });
    await ok(b, 'wallet.init', { sealed: w.sealed });
    a.clock.now = b.clock.now = BOOT + 3600;

    // The owner's wallet, made by member A; its device share, and the members' envelope key.
    const key = g.public.credential_keys.find((k) => k.key_id === g.public.current_key_id)!;
    const reply = newReplyKeyPair();
    const walletId = randomUUID();
    const created = await walletCreate(a.state, {
      user_id: 'u',
      wallet_id: walletId,
      reply_pub: reply.replyPub,
    });
    const device = openSealedShare(created.shares.device, reply.privateKey).share;
    const policy = async (record: WalletRecord, rules: unknown[]) => {
      const fields = { rules };
      return {
        ...fields,
        share: await encryptWalletShare(
          {
            walletId: record.wallet_id,
            kind: 'device',
            share: Uint8Array.from(device),
            action: 'policy',
            body: fields,
          },
          key.public_key,
          { keyId: key.key_id, issuedAt: a.clock.now },
        ),
      };
    };
    const loose = await policy(created.record, []);
    const v2 = (await walletSetPolicy(a.state, { record: created.record, body: loose })).record;
    a.clock.now += 5;
    const strict = [{ type: 'max_value_wei', value: '0' }];
    const v3 = (await walletSetPolicy(a.state, { record: v2, body: await policy(v2, strict) }))
      .record;
    assert.deepEqual(v3.rules, strict);

    assert.equal(v3.authorized_at, a.clock.now);
    b.clock.now = a.clock.now;
    await assert.rejects(walletSetPolicy(b.state, { record: v3, body: loose }), {
      code: 'ENVELOPE_REPLAYED',
    });
    // A later change by the owner still goes through, on either member.
    b.clock.now += 1;
    a.clock.now = b.clock.now;
    const v4 = (await walletSetPolicy(b.state, { record: v3, body: await policy(v3, []) })).record;
    assert.deepEqual(v4.rules, []);
  });
});
