/**
 * The enclave's binding of host-stored wallet state (src/enclave/wallet/state-mac.ts) and the
 * wallet keyring purpose: an edited record or counter fails its MAC, an older one is refused
 * while the enclave runs, a missing or older counter never lowers today's spend, and the wallet
 * keyring's sealed form is tagged so no other purpose's plaintext loads as it.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { utf8 } from '../../src/protocol/encoding.js';
import type { WalletRecord } from '../../src/protocol/rpc/wallet-methods.js';
import {
  checkRecord,
  createWalletMemory,
  rememberRecord,
  rememberSpend,
  signRecord,
  signSpend,
  spentToday,
  utcDay,
} from '../../src/enclave/wallet/state-mac.js';
import { WalletKeyring } from '../../src/enclave/wallet/wallet-keyring.js';

const key = new Uint8Array(32).fill(7);
const WALLET = '6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b';
const base = {
  wallet_id: WALLET,
  user_id: 'u',
  generation: 1,
  version: 1,
  server_share: { nonce: 'AAAAAAAAAAAAAAAA', ciphertext: 'AAAA', tag: 'AAAAAAAAAAAAAAAAAAAAAA==' },
  ethereum_xpub: 'xpub',
  accounts: [],
  rules: [{ type: 'max_value_wei', value: '10' }],
  recovery: null,
} as unknown as Omit<WalletRecord, 'mac'>;

describe('wallet state MAC', () => {
  it('refuses any edited field', () => {
    const mem = createWalletMemory();
    const r = signRecord(key, base);
    checkRecord(key, mem, r);
    const edits: Partial<WalletRecord>[] = [
      { rules: [] },
      { generation: 2 },
      { recovery: { started_at: 0, unlock_at: 0 } },
      { user_id: 'v' },
      { accounts: [{ chain: 'ethereum', index: 1, path: 'p', address: '0x' + '1'.repeat(40) }] },
    ];
    for (const e of edits)
      assert.throws(() => checkRecord(key, mem, { ...r, ...e }), { code: 'WALLET_STATE_INVALID' });
    assert.throws(() => checkRecord(new Uint8Array(32), mem, r), { code: 'WALLET_STATE_INVALID' });
  });

  it('refuses an older version once a newer one was issued (rollback within a lifetime)', () => {
    const mem = createWalletMemory();
    const v1 = signRecord(key, base);
    const v2 = signRecord(key, { ...base, version: 2, generation: 2 });
    rememberRecord(mem, v2);
    checkRecord(key, mem, v2);
    assert.throws(() => checkRecord(key, mem, v1), { code: 'WALLET_STATE_STALE' });
  });

  it('two cluster members (one wallet keyring, separate memories): each accepts what the other superseded (documented residual)', () => {
    // Cluster members share the wallet keyring (cluster.ts wraps it for a joiner), not their
    // WalletMemory: a host routing requests between instances gets no rollback refusal and
    // one daily allowance per instance. SECURITY.md "Known limits" and wallet-shares.md say so.
    const a = createWalletMemory();
    const b = createWalletMemory();
    const lax = signRecord(key, { ...base, rules: [] });
    const strict = signRecord(key, { ...base, version: 2 });
    rememberRecord(a, strict);
    assert.throws(() => checkRecord(key, a, lax), { code: 'WALLET_STATE_STALE' });
    checkRecord(key, b, lax); // the other member never saw version 2
    const day = utcDay(1_767_225_600);
    rememberSpend(a, signSpend(key, { wallet_id: WALLET, day, spent_wei: '10' }));
    assert.equal(spentToday(key, a, WALLET, day, null), 10n);
    assert.equal(spentToday(key, b, WALLET, day, null), 0n, 'a fresh allowance on the other');
  });

  it('today’s spend: MACed, of this wallet, never below what the enclave issued', () => {
    const mem = createWalletMemory();
    const day = utcDay(1_767_225_600);
    assert.equal(day, '2026-01-01');
    assert.equal(spentToday(key, mem, WALLET, day, null), 0n);
    const c1 = signSpend(key, { wallet_id: WALLET, day, spent_wei: '100' });
    assert.equal(spentToday(key, mem, WALLET, day, c1), 100n);
    assert.throws(() => spentToday(key, mem, WALLET, day, { ...c1, spent_wei: '1' }), {
      code: 'WALLET_STATE_INVALID',
    });
    assert.throws(() => spentToday(key, mem, '00000000-0000-4000-8000-000000000000', day, c1), {
      code: 'WALLET_STATE_INVALID',
    });
    const c2 = signSpend(key, { wallet_id: WALLET, day, spent_wei: '250' });
    rememberSpend(mem, c2);
    assert.equal(spentToday(key, mem, WALLET, day, c1), 250n, 'older counter replayed');
    assert.equal(spentToday(key, mem, WALLET, day, null), 250n, 'counter withheld');
    assert.equal(spentToday(key, mem, WALLET, '2026-01-02', c2), 0n, 'a new day starts at 0');
  });

  it('wallet keyring: round trip, and another purpose’s plaintext does not load', () => {
    const k = WalletKeyring.generate();
    const bytes = k.serialize();
    const back = WalletKeyring.deserialize(bytes);
    assert.deepEqual(back.masterKey, k.masterKey);
    assert.deepEqual(back.macKey, k.macKey);
    assert.equal(back.generation, 1);
    const auth = utf8.encode(JSON.stringify({ v: 1, kind: 'auth', generation: 1 }));
    assert.throws(() => WalletKeyring.deserialize(auth));
    const legacy = utf8.encode(JSON.stringify({ v: 1, generation: 1, credential_keys: [] }));
    assert.throws(() => WalletKeyring.deserialize(legacy));
  });
});
