/**
 * Wallet Shamir: the Vault share format against third-party vectors, 2-of-3 over the wallet's
 * entropy, and what Shamir does NOT give (integrity), which the enclave's commitment covers.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { combine } from 'shamir-secret-sharing';
import { drawWalletEntropy, splitEntropy } from '../../src/enclave/wallet/split.js';
import { combineShares } from '../../src/protocol/wallet/shamir.js';
import { gfMul, interpolateAtZero, lineShare } from './gf256.js';
import { readWalletJson, tohex } from './vectors.js';

interface ShamirFile {
  field_known_answers: Record<'mult', { a: number; b: number; want: number }[]>;
  share_sets: {
    id: string;
    encoding: 'hex' | 'base64';
    secret_hex: string;
    threshold: number;
    shares: string[];
  }[];
}
const file = readWalletJson<ShamirFile>('shamir', 'vault-format-shares.json');
const decode = (enc: 'hex' | 'base64', s: string) => new Uint8Array(Buffer.from(s, enc));

function subsets<T>(items: T[], k: number): T[][] {
  if (k === 0) return [[]];
  return items.flatMap((x, i) => subsets(items.slice(i + 1), k - 1).map((rest) => [x, ...rest]));
}

describe('Shamir vectors (Vault format)', () => {
  it('the test-side field agrees with Vault’s known answers', () => {
    for (const { a, b, want } of file.field_known_answers.mult) assert.equal(gfMul(a, b), want);
  });

  for (const set of file.share_sets) {
    it(`${set.id}: every threshold subset combines to the secret, with the library and independently`, async () => {
      const shares = set.shares.map((s) => decode(set.encoding, s));
      let n = 0;
      for (const subset of subsets(shares, set.threshold)) {
        assert.equal(tohex(await combine(subset)), set.secret_hex);
        assert.equal(tohex(interpolateAtZero(subset)), set.secret_hex);
        n++;
      }
      assert.ok(n >= 3);
    });
  }
});

describe('wallet entropy 2-of-3', () => {
  it('any 2 of the 3 shares reconstruct the entropy (library wrapper and independent code)', async () => {
    const entropy = drawWalletEntropy();
    const { server, device, recovery } = await splitEntropy(entropy);
    for (const pair of [
      [server, device],
      [server, recovery],
      [device, recovery],
    ] as const) {
      assert.deepEqual(await combineShares([...pair]), entropy);
      assert.deepEqual(interpolateAtZero([...pair]), entropy);
    }
    assert.equal(server.length, 33);
  });

  it('one share gives nothing: every secret is consistent with it, and combine refuses one', async () => {
    const { device } = await splitEntropy(drawWalletEntropy());
    for (const target of [new Uint8Array(32), new Uint8Array(32).fill(0xff), drawWalletEntropy()]) {
      const x2 = device[32] === 1 ? 2 : 1;
      assert.deepEqual(await combineShares([device, lineShare(target, device, x2)]), target);
    }
    await assert.rejects(combineShares([device]), { code: 'WALLET_SHARE_INVALID' });
  });

  it('a corrupted share combines to a different secret (no integrity: the enclave checks a commitment)', async () => {
    const entropy = drawWalletEntropy();
    const { server, device } = await splitEntropy(entropy);
    const bad = Uint8Array.from(device);
    bad[5]! ^= 0x01;
    const got = await combineShares([server, bad]);
    assert.notDeepEqual(got, entropy);
    assert.equal(got.length, 32);
  });

  it('a fresh split uses a fresh polynomial: shares of two splits of one secret do not combine to it', async () => {
    const entropy = drawWalletEntropy();
    const a = await splitEntropy(entropy);
    const b = await splitEntropy(entropy);
    assert.notDeepEqual(a.device, b.device);
    if (a.device[32] !== b.server[32]) {
      assert.notDeepEqual(await combineShares([b.server, a.device]), entropy);
    }
  });

  it('refuses malformed shares with one code', async () => {
    const { server, device } = await splitEntropy(drawWalletEntropy());
    const zeroX = Uint8Array.from(device);
    zeroX[32] = 0;
    for (const pair of [
      [server, server],
      [server, device.subarray(0, 32)],
      [server, zeroX],
      [server, device, device],
    ]) {
      await assert.rejects(combineShares(pair), { code: 'WALLET_SHARE_INVALID' });
    }
  });

  it('accepts node Buffers (the library alone refuses them) and leaves the inputs intact', async () => {
    const entropy = drawWalletEntropy();
    const { server, device } = await splitEntropy(entropy);
    const a = Buffer.from(server);
    const b = Buffer.from(device);
    assert.deepEqual(await combineShares([a, b]), entropy);
    assert.deepEqual(new Uint8Array(a), server);
  });
});
