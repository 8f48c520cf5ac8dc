/**
 * RFC 7638 JWK thumbprints for src/protocol/key-id.ts. okpThumbprint is checked against the
 * RFC 8037 Appendix A.3 Ed25519 example; the RFC 7638 §3.1 RSA example pins the generic rule
 * (SHA-256 over the JCS form of the required members), which okpThumbprint must agree with for
 * every OKP key.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sha256 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { base64urlToBytes, bytesToBase64url } from '../../src/protocol/encoding.js';
import { jcsBytes } from '../../src/protocol/jcs.js';
import { KeyIdSchema, okpThumbprint } from '../../src/protocol/key-id.js';
import { readVectorJson } from './helpers.js';

interface ThumbprintVector {
  id: string;
  hash: string;
  jwk: Record<string, string>;
  required_members: string[];
  expected_thumbprint_b64u: string;
}
const vectors = readVectorJson<{ jwk_thumbprints: ThumbprintVector[] }>(
  'jose/jose-rfc-examples.json',
).jwk_thumbprints;

/** RFC 7638 §3: hash of the JCS-serialized object of the required members only. */
const genericThumbprint = (jwk: Record<string, string>, required: readonly string[]) =>
  bytesToBase64url(sha256(jcsBytes(Object.fromEntries(required.map((k) => [k, jwk[k]])))));

describe('RFC 7638 thumbprints', () => {
  it('has the RFC 7638 §3.1 and RFC 8037 A.3 examples', () => {
    assert.deepEqual(vectors.map((v) => v.id).sort(), ['rfc7638-3.1-RSA', 'rfc8037-A.3-Ed25519']);
    assert.ok(vectors.every((v) => v.hash === 'SHA-256'));
  });

  it('RFC 8037 A.3: okpThumbprint(Ed25519) = kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k', () => {
    const v = vectors.find((x) => x.id === 'rfc8037-A.3-Ed25519')!;
    assert.equal(v.expected_thumbprint_b64u, 'kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k');
    const x = base64urlToBytes(v.jwk.x!);
    assert.equal(okpThumbprint('Ed25519', x), v.expected_thumbprint_b64u);
    KeyIdSchema.parse(okpThumbprint('Ed25519', x));
    // the same key named as X25519 is a different id (crv is a required member)
    assert.notEqual(okpThumbprint('X25519', x), v.expected_thumbprint_b64u);
  });

  for (const v of vectors) {
    it(`${v.id}: SHA-256 over the JCS form of the required members`, () => {
      assert.equal(genericThumbprint(v.jwk, v.required_members), v.expected_thumbprint_b64u);
      // optional members (alg, kid, ...) do not change it
      const withExtras = { ...v.jwk, alg: 'x', kid: 'y', use: 'sig' };
      assert.equal(genericThumbprint(withExtras, v.required_members), v.expected_thumbprint_b64u);
    });
  }

  it('okpThumbprint agrees with the generic RFC 7638 construction for any 32-byte key', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('X25519' as const, 'Ed25519' as const),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        (crv, pub) => {
          const id = okpThumbprint(crv, pub);
          const jwk = { kty: 'OKP', crv, x: bytesToBase64url(pub) };
          assert.equal(id, genericThumbprint(jwk, ['crv', 'kty', 'x']));
          assert.ok(KeyIdSchema.safeParse(id).success);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('okpThumbprint refuses keys that are not 32 bytes', () => {
    for (const n of [0, 31, 33, 57]) {
      assert.throws(() => okpThumbprint('Ed25519', new Uint8Array(n)), RangeError);
    }
  });
});
