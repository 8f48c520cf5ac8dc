/**
 * src/protocol/wallet for the mutation run (docs/mutation-testing.md): which share kind each
 * action takes, every branch and limit of the Solana message reader, the sign-request schema's
 * regexes and bounds, the derivation and Shamir edge cases, the sealed share's id format and
 * wipes, the split proof's signing input, and the error messages the enclave's error frames
 * carry (docs/protocol/enclave-rpc.md). The vectors in test/wallet/ prove the formats; these
 * prove each check is needed on its own.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { x25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { HDKey } from '@scure/bip32';
import { nodePrimitives } from '../../src/enclave/crypto/node-primitives.js';
import { bytesToBase64, bytesToHex, utf8 } from '../../src/protocol/encoding.js';
import type {
  EnvelopePrimitives,
  X25519Recipient,
} from '../../src/protocol/envelope/primitives.js';
import { openEnvelopeV1, sealEnvelopeV1 } from '../../src/protocol/envelope/v1.js';
import { jcsBytes } from '../../src/protocol/jcs.js';
import {
  ACTION_SHARE_KINDS,
  checkWalletShareFor,
  computeBinds,
  signRequestDigest,
  WALLET_ACTIONS,
  type WalletAction,
} from '../../src/protocol/wallet/binds.js';
import { SEALED_SHARE_INFO } from '../../src/protocol/wallet/constants.js';
import {
  deriveEthereumKey,
  ethereumAccountFromXpub,
  ethereumAccountXpub,
  INITIAL_ACCOUNTS,
  mnemonicBytesFromEntropy,
  mnemonicFromEntropy,
  seedFromEntropy,
} from '../../src/protocol/wallet/derive.js';
import {
  WALLET_ERROR_MESSAGES,
  WalletError,
  type WalletErrorCode,
} from '../../src/protocol/wallet/errors.js';
import { accountPath, parsePath } from '../../src/protocol/wallet/path.js';
import {
  EthAddressSchema,
  EthTransactionSchema,
  QuantitySchema,
  RawQuantitySchema,
  SignBodySchema,
  SignRequestSchema,
} from '../../src/protocol/wallet/requests.js';
import {
  openShare,
  sealShare,
  WalletIdSchema,
  type SharePlaintext,
} from '../../src/protocol/wallet/sealed-share.js';
import { checkShare, combineShares } from '../../src/protocol/wallet/shamir.js';
import { slip10Ed25519 } from '../../src/protocol/wallet/slip10.js';
import {
  isSolanaTransactionMessage,
  parseSolanaMessage,
} from '../../src/protocol/wallet/solana-message.js';
import { splitSigningInput, WALLET_SPLIT_CONTEXT } from '../../src/protocol/wallet/split-proof.js';

const WALLET = '0b9c3d2e-8f1a-4c5b-9d6e-7f8a9b0c1d2e';
const walletError = (code: WalletErrorCode) => (e: unknown) =>
  e instanceof WalletError && e.code === code && e.message === WALLET_ERROR_MESSAGES[code];

describe('wallet errors: the messages the enclave error frames carry', () => {
  // docs/protocol/enclave-rpc.md, "Error codes": `code` | message | HTTP status.
  const documented = new Map<string, string>();
  const doc = readFileSync(new URL('../../docs/protocol/enclave-rpc.md', import.meta.url), 'utf8');
  for (const m of doc.matchAll(/^\| `([A-Z_]+)` +\| (.+?) +\|/gm)) documented.set(m[1]!, m[2]!);

  it('every wallet code has exactly its documented message (RPC_ERROR_MESSAGES spreads them)', () => {
    const codes = Object.keys(WALLET_ERROR_MESSAGES) as WalletErrorCode[];
    assert.equal(codes.length, 17);
    for (const code of codes) {
      assert.equal(WALLET_ERROR_MESSAGES[code], documented.get(code), code);
      const e = new WalletError(code);
      assert.equal(e.code, code);
      assert.equal(e.message, documented.get(code));
      assert.equal(e.name, 'WalletError');
      assert.ok(e instanceof Error);
    }
    assert.equal(
      WALLET_ERROR_MESSAGES.WALLET_SHARE_WRONG_KIND,
      'this action does not accept a share of this kind',
    );
  });

  it('POLICY_DENIED carries the refusing rule; other errors carry none', () => {
    const denied = new WalletError('POLICY_DENIED', { index: 2, type: 'max_value_wei' });
    assert.deepEqual(denied.rule, { index: 2, type: 'max_value_wei' });
    assert.equal(new WalletError('WALLET_SHARE_INVALID').rule, undefined);
  });
});

describe('binds: which share kind each action accepts', () => {
  const EXPECTED: Record<WalletAction, string[]> = {
    sign: ['device', 'recovery'],
    policy: ['device'],
    recovery: ['recovery'],
    recovery_cancel: ['device'],
    recovery_complete: ['recovery'],
    reshare: ['device'],
    delete: ['device'],
    account: ['device', 'recovery'],
  };

  it('the table is exactly: policy, cancel, reshare and delete need the device share; recovery and its completion the recovery share; the rest either', () => {
    assert.deepEqual(ACTION_SHARE_KINDS, EXPECTED);
    assert.deepEqual([...WALLET_ACTIONS].sort(), Object.keys(EXPECTED).sort());
  });

  it('checkWalletShareFor accepts exactly those pairs, and refuses the others with WALLET_SHARE_WRONG_KIND', () => {
    const body = { address: 'x', request: { type: 'sol_message', message: 'AA==' } };
    for (const action of WALLET_ACTIONS) {
      for (const kind of ['device', 'recovery'] as const) {
        const plaintext = {
          purpose: 'wallet_share' as const,
          wallet_id: WALLET,
          kind,
          share: bytesToBase64(new Uint8Array(33).fill(1)),
          binds: computeBinds(action, WALLET, body),
          issued_at: 0,
        };
        const run = () =>
          checkWalletShareFor(plaintext, { action, walletId: WALLET, body: { ...body, share: 1 } });
        if (EXPECTED[action].includes(kind)) run();
        else assert.throws(run, walletError('WALLET_SHARE_WRONG_KIND'), `${action}/${kind}`);
      }
    }
  });

  it("signRequestDigest is the lowercase hex SHA-256 of the request's JCS", () => {
    const request = { type: 'sol_message', message: 'AQ==', z: [1, { b: 2, a: 1 }] };
    const digest = signRequestDigest(request);
    assert.equal(digest, bytesToHex(sha256(jcsBytes(request))));
    assert.match(digest, /^[0-9a-f]{64}$/);
    assert.equal(
      signRequestDigest({ b: 1, a: 2 }),
      bytesToHex(sha256(utf8.encode('{"a":2,"b":1}'))),
    );
  });
});

describe('sealed share: wallet id format, HKDF info, wipes', () => {
  it('a wallet id is a whole lowercase UUID: nothing before or after', () => {
    assert.equal(WalletIdSchema.safeParse(WALLET).success, true);
    assert.equal(WalletIdSchema.safeParse(`x${WALLET}`).success, false);
    assert.equal(WalletIdSchema.safeParse(`${WALLET}x`).success, false);
    assert.equal(WalletIdSchema.safeParse(WALLET.toUpperCase()).success, false);
  });

  it('the HKDF info is "cloister/wallet-share/v1" (docs/protocol/wallet-shares.md)', () => {
    assert.equal(utf8.decode(SEALED_SHARE_INFO), 'cloister/wallet-share/v1');
  });

  const reply = new Uint8Array(32).fill(7);
  const recipient: X25519Recipient = {
    keyId: 'reply',
    publicKey: x25519.getPublicKey(reply),
    agree: (peer) => nodePrimitives.x25519(reply, peer),
    privateKey: () => reply.slice(),
  };
  const plaintext: SharePlaintext = {
    wallet_id: WALLET,
    kind: 'recovery',
    share: bytesToBase64(new Uint8Array(33).fill(9)),
    threshold: 2,
    shares: 3,
    generation: 4,
  };

  it('a share sealed by the envelope under that info opens as a sealed share, and not under another info', () => {
    const bytes = utf8.encode(JSON.stringify(plaintext));
    const env = sealEnvelopeV1(nodePrimitives, recipient.publicKey, bytes, {
      info: utf8.encode('cloister/wallet-share/v1'),
    });
    const sealed = {
      ephemeral_pub: env.ephemeral_pub,
      nonce: env.nonce,
      ciphertext: env.ciphertext,
      tag: env.tag,
    };
    const opened = openShare(nodePrimitives, recipient, sealed);
    assert.equal(opened.kind, 'recovery');
    assert.equal(opened.generation, 4);
    assert.deepEqual(opened.share, new Uint8Array(33).fill(9));
    const ours = sealShare(nodePrimitives, recipient.publicKey, plaintext);
    assert.throws(
      () =>
        openEnvelopeV1(nodePrimitives, recipient, ours, utf8.encode('cloister/wallet-share/v2')),
      { code: 'ENVELOPE_INVALID' },
    );
  });

  it('sealShare wipes the JSON plaintext it encrypted; openShare wipes the plaintext it decrypted', () => {
    const seen: Uint8Array[] = [];
    const recording: EnvelopePrimitives = {
      ...nodePrimitives,
      aesGcmSeal(key, nonce, pt, aad) {
        seen.push(pt);
        return nodePrimitives.aesGcmSeal(key, nonce, pt, aad);
      },
      aesGcmOpen(key, nonce, ct, tag, aad) {
        const out = nodePrimitives.aesGcmOpen(key, nonce, ct, tag, aad);
        seen.push(out);
        return out;
      },
    };
    const sealed = sealShare(recording, recipient.publicKey, plaintext);
    assert.equal(seen.length, 1);
    assert.ok(seen[0]!.length > 100);
    assert.ok(
      seen[0]!.every((b) => b === 0),
      'sealed plaintext wiped',
    );
    const opened = openShare(recording, recipient, sealed);
    assert.equal(opened.wallet_id, WALLET);
    assert.equal(seen.length, 2);
    assert.ok(seen[1]!.length > 100);
    assert.ok(
      seen[1]!.every((b) => b === 0),
      'opened plaintext wiped',
    );
  });
});

describe('Shamir: share format checks', () => {
  const share = (len: number, x: number) => {
    const s = new Uint8Array(len).fill(5);
    s[len - 1] = x;
    return s;
  };

  it('checkShare refuses a short, long, x = 0 or non-Uint8Array share, each on its own', () => {
    checkShare(share(33, 1));
    checkShare(share(33, 255));
    for (const bad of [share(32, 1), share(34, 1), share(33, 0), [...share(33, 1)]])
      assert.throws(() => checkShare(bad as Uint8Array), walletError('WALLET_SHARE_INVALID'));
  });

  it('two shares with the same x are refused as WALLET_SHARE_INVALID', async () => {
    await assert.rejects(
      combineShares([share(33, 3), share(33, 3)]),
      walletError('WALLET_SHARE_INVALID'),
    );
    const out = await combineShares([share(33, 3), share(33, 4)]);
    assert.equal(out.length, 32);
  });
});

describe('paths', () => {
  it('parsePath refuses anything around the path, and names the refusal', () => {
    assert.deepEqual(parsePath("m/44'/0"), [0x8000002c, 0]);
    for (const bad of ["xm/44'", "m/44'x", "m/44'/0 ", 'M/0'])
      assert.throws(() => parsePath(bad), {
        name: 'RangeError',
        message: 'invalid derivation path',
      });
    assert.throws(() => parsePath('m/2147483648'), {
      name: 'RangeError',
      message: 'invalid path index',
    });
    assert.deepEqual(parsePath('m/2147483647'), [2147483647]);
  });

  it('account indexes run to 2^31 - 1 inclusive', () => {
    assert.equal(accountPath('ethereum', 0x7fffffff), "m/44'/60'/0'/0/2147483647");
    assert.equal(accountPath('solana', 0x7fffffff), "m/44'/501'/2147483647'/0'");
    for (const bad of [0x80000000, -1, 1.5])
      assert.throws(() => accountPath('ethereum', bad), {
        name: 'RangeError',
        message: 'invalid account index',
      });
  });

  it('slip10 refuses a non-hardened level by name', () => {
    assert.throws(() => slip10Ed25519(new Uint8Array(64), "m/44'/0"), {
      name: 'RangeError',
      message: 'ed25519 derivation is hardened only',
    });
  });
});

describe('derivation edge cases', () => {
  it('BIP-39 entropy: 16 to 32 bytes in steps of 4, each bound on its own', () => {
    for (const n of [16, 20, 24, 28, 32]) {
      const words = utf8.decode(mnemonicBytesFromEntropy(new Uint8Array(n))).split(' ');
      assert.equal(words.length, (n * 8 + n / 4) / 11);
    }
    for (const n of [0, 12, 15, 17, 18, 30, 33, 36])
      assert.throws(() => mnemonicBytesFromEntropy(new Uint8Array(n)), {
        name: 'RangeError',
        message: 'BIP-39 entropy must be 16 to 32 bytes, a multiple of 4',
      });
  });

  it('the exported mnemonic is of a 32-byte wallet entropy only', () => {
    assert.equal(mnemonicFromEntropy(new Uint8Array(32)).split(' ').length, 24);
    for (const n of [16, 24, 31, 33])
      assert.throws(() => mnemonicFromEntropy(new Uint8Array(n)), {
        name: 'RangeError',
        message: 'wallet entropy is 32 bytes',
      });
  });

  it('every BIP-32 node a derivation touches has its private key wiped, except the returned copy', () => {
    const seed = seedFromEntropy(new Uint8Array(32).fill(3));
    const nodes = new Set<HDKey>();
    const original = Object.getOwnPropertyDescriptor(HDKey.prototype, 'deriveChild')!
      .value as HDKey['deriveChild'];
    HDKey.prototype.deriveChild = function (this: HDKey, index: number) {
      const child = original.call(this, index);
      nodes.add(this).add(child);
      return child;
    };
    try {
      const key = deriveEthereumKey(seed, 0);
      assert.equal(nodes.size, 6); // master + 5 levels of m/44'/60'/0'/0/0
      for (const n of nodes) assert.equal(n.privateKey, null);
      assert.equal(key.privateKey.length, 32);
      assert.ok(key.privateKey.some((b) => b !== 0));
      nodes.clear();
      const xpub = ethereumAccountXpub(seed);
      assert.equal(nodes.size, 5);
      for (const n of nodes) assert.equal(n.privateKey, null);
      assert.equal(ethereumAccountFromXpub(xpub, 0).address, key.address);
    } finally {
      HDKey.prototype.deriveChild = original;
    }
  });

  it('an extended private key is refused where an xpub is expected', () => {
    const xprv = HDKey.fromMasterSeed(new Uint8Array(64).fill(1)).privateExtendedKey;
    assert.throws(() => ethereumAccountFromXpub(xprv, 0), {
      name: 'TypeError',
      message: 'expected an extended public key',
    });
  });

  it('a new wallet starts with Ethereum 0 and Solana 0', () => {
    assert.deepEqual(INITIAL_ACCOUNTS, [
      { chain: 'ethereum', index: 0 },
      { chain: 'solana', index: 0 },
    ]);
  });
});

describe('split proof signing input', () => {
  it('is the context line then JCS of exactly the documented fields, shares as digests', () => {
    assert.equal(WALLET_SPLIT_CONTEXT, 'cloister/wallet-split/v1\n');
    const device = { ephemeral_pub: 'A', nonce: 'B', ciphertext: 'C', tag: 'D' };
    const recovery = { tag: 'd', nonce: 'b' };
    const input = splitSigningInput({
      wallet_id: WALLET,
      generation: 2,
      accounts: [
        {
          chain: 'solana',
          index: 1,
          path: "m/44'/501'/1'/0'",
          address: 'So1',
          extra: 'x',
        } as never,
      ],
      reply_pub: 'UlA=',
      shares: { device, recovery },
    });
    const hex = (v: unknown) => bytesToHex(sha256(jcsBytes(v)));
    const expected =
      'cloister/wallet-split/v1\n' +
      `{"accounts":[{"address":"So1","chain":"solana","index":1,"path":"m/44'/501'/1'/0'"}],` +
      `"generation":2,"reply_pub":"UlA=","shares":{"device":"${hex(device)}",` +
      `"recovery":"${hex(recovery)}"},"wallet_id":"${WALLET}"}`;
    assert.equal(utf8.decode(input), expected);
    assert.equal(hex(recovery), bytesToHex(sha256(utf8.encode('{"nonce":"b","tag":"d"}'))));
  });
});

describe('sign request schemas', () => {
  const tx = (over: Record<string, unknown> = {}) => ({
    chainId: 1,
    nonce: 0,
    gas: 21000,
    maxFeePerGas: 2,
    maxPriorityFeePerGas: 1,
    ...over,
  });
  const ok = (v: unknown) => EthTransactionSchema.safeParse(v).success;

  it('quantities: a whole decimal (<= 78 digits) or 0x hex (<= 64 digits), at most 2^256 - 1', () => {
    const max = (1n << 256n) - 1n;
    assert.equal(QuantitySchema.parse(max.toString()), max);
    assert.equal(QuantitySchema.parse(`0x${'f'.repeat(64)}`), max);
    assert.equal(QuantitySchema.safeParse((1n << 256n).toString()).success, false);
    assert.equal(QuantitySchema.safeParse(((1n << 256n) + 1n).toString()).success, false);
    for (const bad of ['a12', '12a', ' 12', '0x12g', 'x0x12', '0x12 ', '0x'])
      assert.equal(QuantitySchema.safeParse(bad).success, false, bad);
    for (const bad of ['a12', '12a', '0x12 '])
      assert.equal(RawQuantitySchema.safeParse(bad).success, false, bad);
  });

  it('addresses: exactly 0x and 40 hex digits', () => {
    const a = `0x${'ab'.repeat(20)}`;
    assert.equal(EthAddressSchema.safeParse(a).success, true);
    assert.equal(EthAddressSchema.safeParse(`x${a}`).success, false);
    assert.equal(EthAddressSchema.safeParse(`${a}0`).success, false);
    assert.equal(EthAddressSchema.safeParse(`1${a.slice(1)}`).success, false);
  });

  it('data: whole bytes of hex after 0x, up to 128 KiB, "0x" by default', () => {
    assert.equal(EthTransactionSchema.parse(tx()).data, '0x');
    assert.equal(ok(tx({ data: '0xabcd' })), true);
    for (const bad of ['0xabc', 'x0xab', '0xab ', 'ab', '0xzz'])
      assert.equal(ok(tx({ data: bad })), false, bad);
    assert.equal(ok(tx({ data: `0x${'ab'.repeat(128 * 1024)}` })), true);
    assert.equal(ok(tx({ data: `0x${'ab'.repeat(128 * 1024 + 1)}` })), false);
  });

  it('chainId >= 1, nonce < 2^64 - 1, gas < 2^64, each at its bound', () => {
    assert.equal(ok(tx({ chainId: 0 })), false);
    assert.equal(ok(tx({ chainId: 1 })), true);
    const n64 = 1n << 64n;
    assert.equal(ok(tx({ nonce: (n64 - 2n).toString() })), true);
    assert.equal(ok(tx({ nonce: (n64 - 1n).toString() })), false);
    assert.equal(ok(tx({ nonce: n64.toString() })), false);
    assert.equal(ok(tx({ gas: (n64 - 1n).toString() })), true);
    assert.equal(ok(tx({ gas: n64.toString() })), false);
  });

  it('fees: gasPrice alone, or both EIP-1559 fees, and nothing in between', () => {
    const none = { maxFeePerGas: undefined, maxPriorityFeePerGas: undefined };
    assert.equal(ok(tx({ ...none, gasPrice: 5 })), true);
    assert.equal(ok(tx()), true);
    assert.equal(ok(tx(none)), false);
    assert.equal(ok(tx({ gasPrice: 5 })), false);
    assert.equal(ok(tx({ gasPrice: 5, maxPriorityFeePerGas: undefined })), false);
    assert.equal(ok(tx({ gasPrice: 5, maxFeePerGas: undefined })), false);
    assert.equal(ok(tx({ maxFeePerGas: undefined })), false);
    assert.equal(ok(tx({ maxPriorityFeePerGas: undefined })), false);
  });

  it('typed data: type entries are {name, type}, each at most 256 characters', () => {
    const typed = (name: string, type: string) => ({
      type: 'eth_typed_data',
      typed_data: {
        types: { Mail: [{ name, type }] },
        primaryType: 'Mail',
        domain: {},
        message: {},
      },
    });
    const parsed = SignRequestSchema.parse(typed('from', 'address'));
    assert.deepEqual(parsed, typed('from', 'address'));
    assert.equal(
      SignRequestSchema.safeParse(typed('n'.repeat(256), 't'.repeat(256))).success,
      true,
    );
    assert.equal(SignRequestSchema.safeParse(typed('n'.repeat(257), 't')).success, false);
    assert.equal(SignRequestSchema.safeParse(typed('n', 't'.repeat(257))).success, false);
  });

  it('the sign body: an address of at most 64 characters, and the request, both kept', () => {
    const body = { address: 'a'.repeat(64), request: { type: 'x' } };
    assert.deepEqual(SignBodySchema.parse(body), body);
    assert.equal(SignBodySchema.safeParse({ ...body, address: 'a'.repeat(65) }).success, false);
  });
});

describe('Solana message reader', () => {
  const key = (b: number) => new Uint8Array(32).fill(b);
  /** header, keys, blockhash, instructions, then (v0) lookups, with raw shortvec bytes. */
  const message = (o: {
    prefix?: number[];
    header?: [number, number, number];
    numKeys?: number[];
    keys?: number;
    instructions?: number[];
    lookups?: number[];
  }) =>
    new Uint8Array([
      ...(o.prefix ?? []),
      ...(o.header ?? [1, 0, 0]),
      ...(o.numKeys ?? [o.keys ?? 2]),
      ...Array.from({ length: o.keys ?? 2 }, (_, i) => [...key(i + 1)]).flat(),
      ...key(0xbb),
      ...(o.instructions ?? [0]),
      ...(o.lookups ?? []),
    ]);
  const refuses = (bytes: Uint8Array, msg: string) => {
    assert.throws(() => parseSolanaMessage(bytes), { name: 'RangeError', message: msg });
    assert.equal(isSolanaTransactionMessage(bytes), false);
  };

  it('a legacy message: signers are exactly the first numRequiredSignatures keys', () => {
    const info = parseSolanaMessage(message({ header: [1, 0, 1], keys: 3 }));
    assert.equal(info.version, 'legacy');
    assert.deepEqual(info.signers, [key(1)]);
    const two = parseSolanaMessage(message({ header: [2, 1, 0], keys: 3 }));
    assert.deepEqual(two.signers, [key(1), key(2)]);
    assert.equal(isSolanaTransactionMessage(message({})), true);
  });

  it('an instruction is program index, account indexes, data; a trailing byte is refused', () => {
    const ix = [1, 2, 2, 0, 1, 3, 9, 9, 9]; // 1 instruction: program 2, accounts [0, 1], data 3 bytes
    assert.deepEqual(parseSolanaMessage(message({ instructions: ix })).signers, [key(1)]);
    const empty = [1, 0, 0, 0]; // program index 0, no accounts, no data
    assert.equal(isSolanaTransactionMessage(message({ instructions: empty })), true);
    refuses(message({ instructions: [...ix, 0] }), 'trailing bytes');
    refuses(message({ instructions: [1, 2, 0, 1] }), 'truncated'); // 1 data byte missing
  });

  it('v0: the version byte, then address lookup tables after the instructions', () => {
    const lookup = [1, ...key(0xcc), 2, 0, 1, 1, 5]; // 1 table: writable [0, 1], readonly [5]
    const v0 = message({ prefix: [0x80], lookups: lookup });
    const info = parseSolanaMessage(v0);
    assert.equal(info.version, 0);
    assert.deepEqual(info.signers, [key(1)]);
    assert.equal(parseSolanaMessage(message({ prefix: [0x80], lookups: [0] })).version, 0);
    refuses(message({ prefix: [0x80], lookups: [...lookup, 0] }), 'trailing bytes');
    refuses(message({ prefix: [0x80], lookups: lookup.slice(0, -1) }), 'truncated');
    refuses(message({ prefix: [0x80], lookups: [2, ...lookup.slice(1)] }), 'truncated');
    // The lookup count itself missing: the reader runs out inside a shortvec.
    refuses(message({ prefix: [0x80] }), 'truncated');
    refuses(message({ prefix: [0x81] }), 'unsupported message version');
    refuses(message({ prefix: [0xff] }), 'unsupported message version');
  });

  it('header: at least one signer, no more signers than keys, a writable signer', () => {
    refuses(message({ header: [0, 0, 0] }), 'invalid header');
    refuses(message({ header: [3, 0, 0], keys: 2 }), 'invalid header');
    assert.equal(parseSolanaMessage(message({ header: [2, 0, 0], keys: 2 })).signers.length, 2);
    refuses(message({ header: [2, 2, 0], keys: 2 }), 'invalid header');
    assert.equal(isSolanaTransactionMessage(message({ header: [2, 1, 0], keys: 2 })), true);
  });

  it('truncation anywhere is "truncated", never a shorter read', () => {
    refuses(new Uint8Array(), 'truncated');
    const whole = message({});
    refuses(whole.subarray(0, 3 + 1 + 40), 'truncated'); // inside the second key
    refuses(whole.subarray(0, whole.length - 1), 'truncated'); // no instruction count
    refuses(whole.subarray(0, whole.length - 2), 'truncated'); // inside the blockhash
  });

  it('shortvec: 2- and 3-byte lengths, 0xffff is the largest, minimal encoding only', () => {
    const data = (len: number[], n: number) => [1, 0, 0, ...len, ...new Uint8Array(n)];
    assert.equal(
      isSolanaTransactionMessage(message({ instructions: data([0x80, 0x01], 128) })),
      true,
    );
    assert.equal(
      isSolanaTransactionMessage(message({ instructions: data([0xff, 0x00], 127) })),
      false,
    );
    assert.equal(
      isSolanaTransactionMessage(message({ instructions: data([0x80, 0x80, 0x01], 0x4000) })),
      true,
    );
    assert.equal(
      isSolanaTransactionMessage(message({ instructions: data([0xff, 0xff, 0x03], 0xffff) })),
      true,
    );
    refuses(message({ instructions: data([0x80, 0x80, 0x04], 0x10000) }), 'shortvec overflow');
    refuses(message({ instructions: data([0x80, 0x00], 0) }), 'non-minimal shortvec');
    refuses(message({ instructions: data([0x81, 0x80, 0x00], 1) }), 'non-minimal shortvec');
    refuses(message({ instructions: data([0x80, 0x80, 0x80, 0x00], 0) }), 'shortvec too long');
    refuses(message({ instructions: data([0x80, 0x80, 0x80], 0) }), 'shortvec too long');
    // The key count is a shortvec too.
    const many = message({ header: [1, 0, 0], numKeys: [0x80, 0x01], keys: 128 });
    assert.equal(parseSolanaMessage(many).signers.length, 1);
  });

  it('isSolanaTransactionMessage is false (not merely falsy) for anything else', () => {
    assert.strictEqual(isSolanaTransactionMessage(utf8.encode('hello')), false);
    assert.strictEqual(isSolanaTransactionMessage(message({})), true);
  });
});
