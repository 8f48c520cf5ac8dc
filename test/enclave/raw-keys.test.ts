/**
 * Raw keys come out of node:crypto through DER (enclave/crypto/der.ts), never through a JWK
 * export (which can deadlock with the GC on Node 20 right after key generation): the bytes equal
 * what a JWK export gives, and a key of another type is refused. And the one AES-GCM layout,
 * nonce ‖ ciphertext ‖ tag (enclave/crypto/gcm.ts).
 */
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  rawOkpPrivate,
  rawOkpPublic,
  rawP256Private,
  rawP256Public,
} from '../../src/enclave/crypto/der.js';
import { gcmOpen, gcmSeal } from '../../src/enclave/crypto/gcm.js';
import { nodePrimitives } from '../../src/enclave/crypto/node-primitives.js';
import { base64urlToBytes, bytesToHex, concatBytes, utf8 } from '../../src/protocol/encoding.js';

const jwk = (k: ReturnType<typeof generateKeyPairSync>['privateKey']) =>
  k.export({ format: 'jwk' });
const hexOf = (b64u: string | undefined) => bytesToHex(base64urlToBytes(b64u!));

describe('raw keys from DER', () => {
  for (const curve of ['x25519', 'ed25519'] as const) {
    it(`${curve}: private and public bytes equal the JWK's`, () => {
      const { privateKey, publicKey } = generateKeyPairSync(curve as 'x25519');
      assert.equal(bytesToHex(rawOkpPrivate(privateKey, curve)), hexOf(jwk(privateKey).d));
      assert.equal(bytesToHex(rawOkpPublic(publicKey, curve)), hexOf(jwk(privateKey).x));
    });
  }

  it('P-256: the scalar and x ‖ y equal the JWK', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const j = jwk(privateKey);
    assert.equal(bytesToHex(rawP256Private(privateKey)), hexOf(j.d));
    assert.equal(bytesToHex(rawP256Public(createPublicKey(privateKey))), hexOf(j.x) + hexOf(j.y));
  });

  it('refuses a key of another type', () => {
    const ed = generateKeyPairSync('ed25519').privateKey;
    assert.throws(() => rawOkpPrivate(ed, 'x25519'), /unexpected key encoding/);
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
    assert.throws(() => rawP256Private(p384), /unexpected key encoding/);
    assert.throws(() => rawP256Public(createPublicKey(p384)), /unexpected key encoding/);
  });

  it('no enclave code exports a JWK', () => {
    const root = join(import.meta.dirname, '..', '..', 'src', 'enclave');
    const files = readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) =>
      f.endsWith('.ts'),
    );
    for (const f of files) {
      const text = readFileSync(join(root, f), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
      assert.doesNotMatch(text, /\.export\(\s*\{\s*format:\s*'jwk'/, f);
    }
  });
});

describe('AES-GCM layout', () => {
  it('is nonce ‖ ciphertext ‖ tag, bound to its associated data', () => {
    const key = new Uint8Array(randomBytes(32));
    const aad = utf8.encode('context');
    const sealed = gcmSeal(key, utf8.encode('secret'), aad);
    assert.equal(sealed.length, 12 + 6 + 16);
    const { ciphertext, tag } = nodePrimitives.aesGcmSeal(
      key,
      sealed.subarray(0, 12),
      utf8.encode('secret'),
      aad,
    );
    assert.deepEqual(sealed, concatBytes(sealed.subarray(0, 12), ciphertext, tag));
    assert.equal(utf8.decode(gcmOpen(key, sealed, aad)), 'secret');
    assert.throws(() => gcmOpen(key, sealed, utf8.encode('other')));
    assert.throws(() => gcmOpen(key, sealed.subarray(0, 27), aad));
  });
});

describe('small random values (the pooled node:crypto block)', () => {
  it('hands every byte out once, across refills, at the asked length', () => {
    const seen = new Set<string>();
    // Three 4 KiB blocks' worth of 12- and 16-byte values: refills in between.
    for (let i = 0; i < 800; i++) {
      const n = i % 2 === 0 ? 12 : 16;
      const v = nodePrimitives.randomBytes(n);
      assert.equal(v.length, n);
      assert.ok(!(v instanceof Buffer), 'a plain Uint8Array of its own');
      assert.equal(v.byteOffset, 0);
      assert.equal(v.buffer.byteLength, n);
      assert.ok(v.some((b) => b !== 0));
      const hex = bytesToHex(v);
      assert.ok(!seen.has(hex), 'no value handed out twice');
      seen.add(hex);
    }
    // Larger draws bypass the block.
    assert.equal(nodePrimitives.randomBytes(100).length, 100);
  });

  it('every length up to the pooled maximum, straddling refills: no byte window twice, no alias', () => {
    const kept: { copy: Uint8Array; value: Uint8Array }[] = [];
    const windows = new Set<string>();
    // Lengths 1..64 and a few past the maximum, so draws end at every offset of a block and the
    // block's remainder is too short for the next one; ~5 blocks in all.
    for (let round = 0; round < 10; round++)
      for (let n = 1; n <= 66; n++) {
        const value = nodePrimitives.randomBytes(n);
        assert.equal(value.length, n);
        assert.equal(value.buffer.byteLength, n, 'its own memory, not a view of the block');
        kept.push({ copy: value.slice(), value });
        // Any 8 bytes handed out twice would show as a repeated window (chance 2^-64 each).
        for (let i = 0; i + 8 <= n; i += 8) {
          const w = bytesToHex(value.subarray(i, i + 8));
          assert.ok(!windows.has(w), 'the same bytes handed out twice');
          windows.add(w);
        }
      }
    // Later draws, refills and wipes of the block never change a value already handed out.
    for (const { copy, value } of kept) assert.deepEqual(value, copy);
  });

  it('refuses a length that is not a whole number of bytes (it would rewind the block)', () => {
    const before = nodePrimitives.randomBytes(16);
    for (const n of [-16, -1, 1.5, Number.NaN])
      assert.throws(() => nodePrimitives.randomBytes(n), RangeError, String(n));
    // Nothing was rewound: the next value is new, not the (wiped, all-zero) bytes of `before`.
    const next = nodePrimitives.randomBytes(16);
    assert.notDeepEqual(next, before);
    assert.ok(
      next.some((b) => b !== 0),
      'a wiped (all-zero) value handed out again',
    );
    assert.equal(nodePrimitives.randomBytes(0).length, 0);
  });
});
