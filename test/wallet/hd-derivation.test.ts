/**
 * Derivation against the standards' own vectors: BIP-39 (python-mnemonic), BIP-32 (1–5),
 * SLIP-0010 ed25519, and Trezor's Ethereum and Solana address fixtures.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { HDKey } from '@scure/bip32';
import { entropyToMnemonic } from '@scure/bip39';
import { wordlist } from '@scure/bip39/wordlists/english.js';
import { ed25519 } from '@noble/curves/ed25519.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { getBase58Encoder } from '@solana/kit';
import { getAddress } from 'viem';
import { publicKeyToAddress } from 'viem/accounts';
import {
  deriveAccounts,
  deriveEthereumKey,
  deriveSecp256k1,
  deriveSolanaKey,
  entropyFromMnemonic,
  ethereumAccountFromXpub,
  ethereumAccountXpub,
  mnemonicBytesFromEntropy,
  noblePbkdf2Sha512,
  seedFromEntropy,
  solanaAddress,
} from '../../src/protocol/wallet/derive.js';
import { accountPath, parsePath } from '../../src/protocol/wallet/path.js';
import { slip10Ed25519 } from '../../src/protocol/wallet/slip10.js';
import { readWalletJson, tohex, unhex } from './vectors.js';

const ALL = 'all all all all all all all all all all all all';

describe('BIP-39', () => {
  const vectors = readWalletJson<Record<string, string[][]>>('hd-wallet', 'bip39-vectors.json');
  it('every English vector: entropy → mnemonic bytes, seed (passphrase TREZOR), root xprv', () => {
    assert.equal(vectors['english']!.length, 24);
    for (const [entropyHex, mnemonic, seedHex, xprv] of vectors['english']!) {
      const entropy = unhex(entropyHex!);
      assert.equal(Buffer.from(mnemonicBytesFromEntropy(entropy)).toString('utf8'), mnemonic);
      assert.equal(entropyToMnemonic(entropy, wordlist), mnemonic);
      const seed = seedFromEntropy(entropy, 'TREZOR');
      assert.equal(tohex(seed), seedHex);
      assert.equal(HDKey.fromMasterSeed(seed).privateExtendedKey, xprv);
      assert.deepEqual(entropyFromMnemonic(mnemonic!), entropy);
    }
  });

  it('wipes the mnemonic bytes it hands to PBKDF2', () => {
    let seen: Uint8Array | undefined;
    seedFromEntropy(new Uint8Array(32).fill(7), '', (pw, salt, c, len) => {
      seen = pw;
      return noblePbkdf2Sha512(pw, salt, c, len);
    });
    assert.ok(seen && seen.length > 0 && seen.every((b) => b === 0));
  });
});

describe('BIP-32', () => {
  const file = readWalletJson<{
    vectors: {
      seed_hex?: string;
      chains?: { path: string; ext_pub: string; ext_prv: string }[];
      invalid?: unknown;
    }[];
  }>('hd-wallet', 'bip32-test-vectors.json');
  it('vectors 1–4: every chain, xprv and xpub', () => {
    let n = 0;
    for (const v of file.vectors.filter((v) => v.chains)) {
      for (const c of v.chains!) {
        const node = deriveSecp256k1(unhex(v.seed_hex!), c.path);
        assert.equal(node.privateExtendedKey, c.ext_prv, c.path);
        assert.equal(node.publicExtendedKey, c.ext_pub, c.path);
        n++;
      }
    }
    assert.equal(n, 17);
  });
});

describe('SLIP-0010 ed25519', () => {
  const file = readWalletJson<{
    vectors: {
      curve: string;
      seed_hex: string;
      chains: { path: string; chain_code: string; private: string; public: string }[];
    }[];
  }>('hd-wallet', 'slip10-test-vectors.json');
  it('every ed25519 chain: private key, chain code, public key', () => {
    let n = 0;
    for (const v of file.vectors.filter((v) => v.curve === 'ed25519')) {
      for (const c of v.chains) {
        const node = slip10Ed25519(unhex(v.seed_hex), c.path);
        assert.equal(tohex(node.privateKey), c.private, c.path);
        assert.equal(tohex(node.chainCode), c.chain_code, c.path);
        assert.equal('00' + tohex(ed25519.getPublicKey(node.privateKey)), c.public, c.path);
        n++;
      }
    }
    assert.ok(n >= 10);
  });

  it('refuses a non-hardened level', () => {
    assert.throws(() => slip10Ed25519(new Uint8Array(32), "m/0'/1"), RangeError);
  });
});

interface AddressFixture {
  setup: { mnemonic: string; passphrase: string };
  tests: {
    parameters: { path: string };
    result: { address?: string; expected_address?: string };
  }[];
}

describe('Trezor address fixtures (mnemonic "all ×12")', () => {
  const seed = seedFromEntropy(entropyFromMnemonic(ALL));
  it('Ethereum: every path, EIP-55 (also via viem from the public key)', () => {
    const f = readWalletJson<AddressFixture>(
      'hd-wallet',
      'trezor-fixtures/ethereum-getaddress.json',
    );
    assert.equal(f.setup.mnemonic, ALL);
    for (const t of f.tests) {
      const node = deriveSecp256k1(seed, t.parameters.path);
      const uncompressed = secp256k1.Point.fromBytes(node.publicKey!).toBytes(false);
      const viemAddress = publicKeyToAddress(`0x${tohex(uncompressed)}`);
      assert.equal(viemAddress, t.result.address);
    }
    assert.equal(deriveEthereumKey(seed, 0).address, '0x73d0385F4d8E00C5e6504C6030F47BF6212736A8');
  });

  it('Solana: every path, base58', () => {
    const f = readWalletJson<AddressFixture>(
      'hd-wallet',
      'trezor-fixtures/solana-get_address.json',
    );
    for (const t of f.tests) {
      const { privateKey } = slip10Ed25519(seed, t.parameters.path);
      assert.equal(solanaAddress(ed25519.getPublicKey(privateKey)), t.result.expected_address);
    }
    const sol = deriveSolanaKey(seed, 0);
    assert.equal(sol.address, '14CCvQzQzHCVgZM3j9soPnXuJXh1RmCfwLVUcdfbZVBS');
    assert.deepEqual(new Uint8Array(getBase58Encoder().encode(sol.address)), sol.publicKey);
  });

  it('the Ethereum account xpub derives the same addresses without the secret', () => {
    const xpub = ethereumAccountXpub(seed);
    for (let i = 0; i < 5; i++) {
      assert.deepEqual(
        ethereumAccountFromXpub(xpub, i),
        deriveAccounts(seed, [{ chain: 'ethereum', index: i }])[0],
      );
    }
    assert.throws(() =>
      ethereumAccountFromXpub(deriveSecp256k1(seed, "m/44'/60'/0'/0").privateExtendedKey, 0),
    );
  });

  it('paths: account paths and the parser', () => {
    assert.equal(accountPath('ethereum', 3), "m/44'/60'/0'/0/3");
    assert.equal(accountPath('solana', 3), "m/44'/501'/3'/0'");
    assert.deepEqual(parsePath("m/44'/0"), [0x8000002c, 0]);
    for (const bad of ['', 'm/', "m/2147483648'", 'm/-1', "x/44'", 'm//1']) {
      assert.throws(() => parsePath(bad), RangeError, bad);
    }
    assert.throws(() => accountPath('ethereum', -1));
    assert.throws(() => accountPath('solana', 2 ** 31));
  });

  it('addresses are checksummed (EIP-55)', () => {
    const { address } = deriveEthereumKey(seed, 7);
    assert.equal(getAddress(address), address);
  });
});
