/**
 * The enclave's wallet operations end to end, without a service: create, check on the client,
 * sign with either client share, refuse what must be refused, re-split, and keep secrets out of
 * everything the host sees.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { gcm } from '@noble/ciphers/aes.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { recoverMessageAddress, recoverTransactionAddress, type Hex } from 'viem';
import {
  createWallet,
  deriveAccountWithShare,
  resplitWallet,
  signWithShares,
  verifyClientShare,
  type StoredWallet,
} from '../../src/enclave/wallet/custody.js';
import { openServerShare } from '../../src/enclave/wallet/server-share.js';
import { newReplyKeyPair } from '../../src/client/wallet/open-share.js';
import {
  combineShares,
  exportMnemonic,
  verifyWalletResponse,
} from '../../src/client/wallet/shares.js';
import { base64ToBytes, bytesToBase64, bytesToHex, utf8 } from '../../src/protocol/encoding.js';
import { jcsBytes } from '../../src/protocol/jcs.js';
import {
  entropyFromMnemonic,
  seedFromEntropy,
  deriveEthereumKey,
  deriveSolanaKey,
} from '../../src/protocol/wallet/derive.js';
import { SignRequestSchema, PolicyRulesSchema } from '../../src/protocol/wallet/requests.js';

const masterKey = new Uint8Array(32).fill(0x42);
const keys = { masterKey };
const USER = 'user-7f3a';
const WALLET = '6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b';

async function setup() {
  const reply = newReplyKeyPair();
  const created = await createWallet(keys, {
    userId: USER,
    walletId: WALLET,
    replyPub: base64ToBytes(reply.replyPub),
  });
  const response = { wallet_id: WALLET, accounts: created.accounts, shares: created.sealed };
  const client = await verifyWalletResponse(response, reply.privateKey);
  const wallet: StoredWallet = {
    userId: USER,
    walletId: WALLET,
    generation: created.generation,
    serverShare: created.serverShare,
  };
  return { created, client, wallet, reply };
}

const personal = SignRequestSchema.parse({ type: 'eth_personal_sign', message: 'gm' });
const device = (share: Uint8Array) => ({ kind: 'device' as const, share });
const sign = (
  wallet: StoredWallet,
  share: Uint8Array,
  address: string,
  rules: unknown[] = [],
  spent = 0n,
  kind: 'device' | 'recovery' = 'device',
) =>
  signWithShares(
    keys,
    wallet,
    { kind, share: Uint8Array.from(share) },
    {
      account: { chain: 'ethereum', index: 0 },
      address,
      request: personal,
      rules: PolicyRulesSchema.parse(rules),
      spentTodayWei: spent,
    },
  );

describe('wallet custody (enclave core)', () => {
  it('create: the client opens both shares, re-derives the accounts and accepts the response', async () => {
    const { created, client } = await setup();
    assert.equal(created.generation, 1);
    assert.deepEqual(
      created.accounts.map((a) => [a.chain, a.index, a.path]),
      [
        ['ethereum', 0, "m/44'/60'/0'/0/0"],
        ['solana', 0, "m/44'/501'/0'/0'"],
      ],
    );
    assert.match(created.accounts[0]!.address, /^0x[0-9a-fA-F]{40}$/);
    assert.equal(client.device.kind, 'device');
    assert.equal(client.recovery.kind, 'recovery');
  });

  it('the client refuses a substituted response: other addresses, wallet id or generation', async () => {
    const { created, reply } = await setup();
    const base = { wallet_id: WALLET, accounts: created.accounts, shares: created.sealed };
    const other = await createWallet(keys, {
      userId: USER,
      walletId: WALLET,
      replyPub: base64ToBytes(reply.replyPub),
    });
    const swappedAddr = [
      { ...created.accounts[0]!, address: other.accounts[0]!.address },
      created.accounts[1]!,
    ];
    for (const bad of [
      { ...base, accounts: swappedAddr },
      { ...base, accounts: other.accounts },
      { ...base, wallet_id: '00000000-0000-4000-8000-000000000000' },
      { ...base, generation: 2 },
      { ...base, accounts: [created.accounts[0]!] },
      { ...base, accounts: [] },
      { ...base, shares: { device: created.sealed.device, recovery: other.sealed.recovery } },
      { ...base, shares: { device: created.sealed.recovery, recovery: created.sealed.device } },
    ]) {
      await assert.rejects(verifyWalletResponse(bad, reply.privateKey), {
        code: 'WALLET_CREATION_MISMATCH',
      });
    }
    // A host's own wallet sealed to its own reply key does not even open.
    await assert.rejects(verifyWalletResponse(base, newReplyKeyPair().privateKey), {
      code: 'WALLET_SEALED_SHARE_INVALID',
    });
  });

  it('signs with the server share plus either client share; viem recovers the wallet address', async () => {
    const { created, client, wallet } = await setup();
    const address = created.accounts[0]!.address;
    for (const { kind, share } of [client.device, client.recovery]) {
      const out = await sign(wallet, share, address, [], 0n, kind);
      assert.ok(out.verdict.allowed && 'result' in out);
      const signature = (out.result as { signature: Hex }).signature;
      assert.equal(await recoverMessageAddress({ message: 'gm', signature }), address);
    }
  });

  it('signs an EIP-1559 transaction and a Solana message with the derived accounts', async () => {
    const { created, client, wallet } = await setup();
    const tx = SignRequestSchema.parse({
      type: 'eth_transaction',
      transaction: {
        chainId: 1,
        nonce: 0,
        to: created.accounts[0]!.address,
        value: 1,
        gas: 21000,
        maxFeePerGas: 2,
        maxPriorityFeePerGas: 1,
      },
    });
    const out = await signWithShares(keys, wallet, device(Uint8Array.from(client.device.share)), {
      account: { chain: 'ethereum', index: 0 },
      address: created.accounts[0]!.address,
      request: tx,
      rules: [],
      spentTodayWei: 0n,
    });
    assert.ok('result' in out);
    const signed = (out.result as { signed_transaction: Hex }).signed_transaction;
    assert.equal(
      await recoverTransactionAddress({ serializedTransaction: signed as never }),
      created.accounts[0]!.address,
    );
    const sol = await signWithShares(keys, wallet, device(Uint8Array.from(client.device.share)), {
      account: { chain: 'solana', index: 0 },
      address: created.accounts[1]!.address,
      request: SignRequestSchema.parse({ type: 'sol_message', message: 'aGVsbG8=' }),
      rules: [],
      spentTodayWei: 0n,
    });
    assert.ok('result' in sol);
  });

  it('refuses: a corrupted share, another wallet’s share, the server share twice, a wrong address, a chain mismatch', async () => {
    const a = await setup();
    const b = await setup();
    const address = a.created.accounts[0]!.address;
    const corrupted = Uint8Array.from(a.client.device.share);
    corrupted[3]! ^= 0x80;
    await assert.rejects(sign(a.wallet, corrupted, address), { code: 'WALLET_SHARE_INVALID' });
    await assert.rejects(sign(a.wallet, b.client.device.share, address), {
      code: 'WALLET_SHARE_INVALID',
    });
    const server = openServerShare(masterKey, a.wallet, a.wallet.serverShare).share;
    await assert.rejects(sign(a.wallet, server, address), { code: 'WALLET_SHARE_INVALID' });
    await assert.rejects(sign(a.wallet, a.client.device.share, b.created.accounts[0]!.address), {
      code: 'WALLET_ADDRESS_UNKNOWN',
    });
    await assert.rejects(
      signWithShares(keys, a.wallet, device(Uint8Array.from(a.client.device.share)), {
        account: { chain: 'solana', index: 0 },
        address,
        request: personal,
        rules: [],
        spentTodayWei: 0n,
      }),
      { code: 'WALLET_REQUEST_INVALID' },
    );
  });

  it('the server share record is bound to user, wallet and generation (associated data)', async () => {
    const { wallet } = await setup();
    for (const ctx of [
      { ...wallet, userId: 'someone-else' },
      { ...wallet, walletId: '00000000-0000-4000-8000-000000000000' },
      { ...wallet, generation: 2 },
    ]) {
      assert.throws(() => openServerShare(masterKey, ctx, wallet.serverShare), {
        code: 'WALLET_SHARE_INVALID',
      });
    }
    const ct = base64ToBytes(wallet.serverShare.ciphertext);
    ct[0]! ^= 1;
    assert.throws(
      () =>
        openServerShare(masterKey, wallet, {
          ...wallet.serverShare,
          ciphertext: bytesToBase64(ct),
        }),
      { code: 'WALLET_SHARE_INVALID' },
    );
    assert.throws(() => openServerShare(new Uint8Array(32), wallet, wallet.serverShare), {
      code: 'WALLET_SHARE_INVALID',
    });
  });

  it('server-share format, independently: DEK = HKDF(master, info ‖ user id), AES-256-GCM, AAD = JCS', async () => {
    const { wallet, client } = await setup();
    const dek = hkdf(
      sha256,
      masterKey,
      new Uint8Array(0),
      utf8.encode(`cloister/wallet-dek/v1${USER}`),
      32,
    );
    const aad = jcsBytes({ generation: 1, user_id: USER, wallet_id: WALLET });
    const r = wallet.serverShare;
    const joined = new Uint8Array([...base64ToBytes(r.ciphertext), ...base64ToBytes(r.tag)]);
    const pt = gcm(dek, base64ToBytes(r.nonce), aad).decrypt(joined);
    assert.equal(pt.length, 67);
    const entropy = await combineShares(pt.subarray(0, 33), client.device);
    const commit = sha256(
      new Uint8Array([
        ...utf8.encode('cloister/wallet-commit/v1'),
        0,
        ...utf8.encode(WALLET),
        0,
        ...entropy,
      ]),
    );
    assert.deepEqual(pt.subarray(33, 65), commit);
    // Then the x coordinates of the device and recovery shares (which kind a share is).
    assert.deepEqual([...pt.subarray(65)], [client.device.share[32], client.recovery.share[32]]);
  });

  it('a policy refusal names the rule and reconstructs nothing', async () => {
    const { created, client, wallet } = await setup();
    const corrupted = Uint8Array.from(client.device.share);
    corrupted[0]! ^= 1;
    // A corrupted share would throw if it were combined: the refusal comes first.
    const out = await sign(wallet, corrupted, created.accounts[0]!.address, [
      { type: 'deny_message_signing' },
    ]);
    assert.deepEqual(out.verdict, {
      allowed: false,
      rule: { index: 0, type: 'deny_message_signing' },
    });
    assert.equal('result' in out, false);
  });

  it('re-split (recovery, reshare): same secret and addresses, generation + 1, old client shares refused', async () => {
    const { created, client, wallet } = await setup();
    const reply = newReplyKeyPair();
    const next = await resplitWallet(
      keys,
      wallet,
      { kind: 'recovery', share: Uint8Array.from(client.recovery.share) },
      base64ToBytes(reply.replyPub),
    );
    assert.equal(next.generation, 2);
    const opened = await verifyWalletResponse(
      { wallet_id: WALLET, accounts: created.accounts, shares: next.sealed, generation: 2 },
      reply.privateKey,
      { generation: 2 },
    );
    const wallet2: StoredWallet = { ...wallet, generation: 2, serverShare: next.serverShare };
    const address = created.accounts[0]!.address;
    assert.ok('result' in (await sign(wallet2, opened.device.share, address)));
    await assert.rejects(sign(wallet2, client.device.share, address), {
      code: 'WALLET_SHARE_INVALID',
    });
    await assert.rejects(sign(wallet2, client.recovery.share, address), {
      code: 'WALLET_SHARE_INVALID',
    });
    // The old record under the new generation does not open (no rollback by relabelling).
    assert.throws(() => openServerShare(masterKey, { ...wallet2 }, wallet.serverShare), {
      code: 'WALLET_SHARE_INVALID',
    });
    assert.notDeepEqual(opened.device.share, client.device.share);
  });

  it('proof of possession (policy, recovery start/cancel, delete) and a Solana account need a valid share', async () => {
    const { created, client, wallet } = await setup();
    await verifyClientShare(keys, wallet, device(Uint8Array.from(client.device.share)));
    const bad = Uint8Array.from(client.device.share);
    bad[1]! ^= 1;
    await assert.rejects(verifyClientShare(keys, wallet, device(bad)), {
      code: 'WALLET_SHARE_INVALID',
    });
    const sol1 = await deriveAccountWithShare(
      keys,
      wallet,
      device(Uint8Array.from(client.device.share)),
      'solana',
      1,
    );
    assert.equal(sol1.path, "m/44'/501'/1'/0'");
    assert.notEqual(sol1.address, created.accounts[1]!.address);
  });

  it('export: the client alone turns device + recovery shares into the mnemonic of these addresses', async () => {
    const { created, client } = await setup();
    const mnemonic = await exportMnemonic(client.device, client.recovery, {
      expectedAccounts: created.accounts,
    });
    assert.equal(mnemonic.split(' ').length, 24);
    const seed = seedFromEntropy(entropyFromMnemonic(mnemonic));
    assert.equal(deriveEthereumKey(seed, 0).address, created.accounts[0]!.address);
    assert.equal(deriveSolanaKey(seed, 0).address, created.accounts[1]!.address);
    const bad = Uint8Array.from(client.device.share);
    bad[2]! ^= 1;
    await assert.rejects(
      exportMnemonic(bad, client.recovery.share, { expectedAccounts: created.accounts }),
      {
        code: 'WALLET_SHARE_INVALID',
      },
    );
  });
});

describe('secret hygiene', () => {
  it('every client share passed to the enclave is zeroed afterwards, on success and on refusal', async () => {
    const { created, client, wallet } = await setup();
    const address = created.accounts[0]!.address;
    const fresh = () => Uint8Array.from(client.device.share);
    const ok = fresh();
    const corrupted = fresh();
    corrupted[0]! ^= 1;
    const refused = fresh();
    const possession = fresh();
    const call = (share: Uint8Array, rules: unknown[] = []) =>
      signWithShares(keys, wallet, device(share), {
        account: { chain: 'ethereum', index: 0 },
        address,
        request: personal,
        rules: PolicyRulesSchema.parse(rules),
        spentTodayWei: 0n,
      });
    assert.ok('result' in (await call(ok)));
    await assert.rejects(call(corrupted), { code: 'WALLET_SHARE_INVALID' });
    assert.equal((await call(refused, [{ type: 'deny_message_signing' }])).verdict.allowed, false);
    await verifyClientShare(keys, wallet, device(possession));
    for (const p of [ok, corrupted, refused, possession]) assert.ok(p.every((b) => b === 0));
  });

  it('nothing the host receives from create or re-split contains the entropy, a share, the seed, the mnemonic or a key', async () => {
    const { created, client, wallet } = await setup();
    const next = await resplitWallet(
      keys,
      wallet,
      device(Uint8Array.from(client.device.share)),
      base64ToBytes(newReplyKeyPair().replyPub),
    );
    const hostView = JSON.stringify([created, next]);
    const entropy = await combineShares(client.device, client.recovery);
    const seed = seedFromEntropy(entropy);
    const mnemonic = await exportMnemonic(client.device, client.recovery);
    const eth = deriveEthereumKey(seed, 0);
    const sol = deriveSolanaKey(seed, 0);
    const server = openServerShare(masterKey, wallet, wallet.serverShare).share;
    const secrets = [
      entropy,
      seed,
      eth.privateKey,
      sol.privateKey,
      client.device.share,
      client.recovery.share,
      server,
    ];
    for (const s of secrets) {
      for (const enc of [
        bytesToHex(s),
        bytesToBase64(s),
        bytesToHex(s.subarray(0, 12)),
        bytesToBase64(s.subarray(0, 12)),
      ]) {
        assert.equal(hostView.toLowerCase().includes(enc.toLowerCase()), false);
      }
    }
    for (const word of [mnemonic, mnemonic.split(' ').slice(0, 3).join(' ')])
      assert.equal(hostView.includes(word), false);
  });
});
