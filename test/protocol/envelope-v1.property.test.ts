/**
 * Properties of credential envelope v1 (src/protocol/envelope/v1.ts) across both primitive
 * backends: seal with one, open with the other; any single flipped bit in ephemeral_pub, nonce,
 * ciphertext or tag makes openEnvelopeV1 throw EnvelopeError('ENVELOPE_INVALID') and never
 * return bytes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  x25519PrivateKeyObject,
  x25519WithKeyObject,
} from '../../src/enclave/crypto/node-primitives.js';
import { MAX_CREDENTIAL_PLAINTEXT_BYTES } from '../../src/protocol/credentials.js';
import { base64ToBytes, bytesToBase64 } from '../../src/protocol/encoding.js';
import { ENVELOPE_ERROR_MESSAGES, EnvelopeError } from '../../src/protocol/envelope/errors.js';
import type {
  EnvelopePrimitives,
  X25519Recipient,
} from '../../src/protocol/envelope/primitives.js';
import {
  ENVELOPE_V1_ALG,
  EnvelopeV1Schema,
  openEnvelopeV1,
  sealEnvelopeV1,
  type EnvelopeV1,
} from '../../src/protocol/envelope/v1.js';
import { okpThumbprint } from '../../src/protocol/key-id.js';
import { BACKENDS, tohex } from '../vectors/helpers.js';

type Backend = (typeof BACKENDS)[number];

/** A recipient over `priv`: for node:crypto the way the enclave keyring builds one (a KeyObject). */
function recipientFor([name, prims]: Backend, priv: Uint8Array): X25519Recipient {
  const publicKey = prims.x25519PublicKey(priv);
  const keyObject = name === 'node:crypto' ? x25519PrivateKeyObject(priv) : undefined;
  return {
    keyId: okpThumbprint('X25519', publicKey),
    publicKey,
    agree: (peer) => (keyObject ? x25519WithKeyObject(keyObject, peer) : prims.x25519(priv, peer)),
    privateKey: () => priv.slice(),
  };
}

const isInvalid = (err: unknown) =>
  err instanceof EnvelopeError &&
  err.code === 'ENVELOPE_INVALID' &&
  err.message === ENVELOPE_ERROR_MESSAGES.ENVELOPE_INVALID;

/** openEnvelopeV1 must throw ENVELOPE_INVALID; returning anything at all is a failure. */
function assertRefused(
  prims: EnvelopePrimitives,
  r: X25519Recipient,
  env: EnvelopeV1,
  ctx = '',
): void {
  let out: Uint8Array | undefined;
  try {
    out = openEnvelopeV1(prims, r, env);
  } catch (err) {
    assert.ok(isInvalid(err), `${ctx}: wrong error ${String(err)}`);
    return;
  }
  assert.fail(`${ctx}: opened to ${out.length} bytes`);
}

const FIELDS = ['ephemeral_pub', 'nonce', 'ciphertext', 'tag'] as const;
type Field = (typeof FIELDS)[number];

function flipBit(env: EnvelopeV1, field: Field, bit: number): EnvelopeV1 {
  const bytes = base64ToBytes(env[field]);
  bytes[bit >> 3]! ^= 1 << (bit & 7);
  return { ...env, [field]: bytesToBase64(bytes) };
}

const bitsOf = (env: EnvelopeV1, field: Field) => base64ToBytes(env[field]).length * 8;

const key32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
const plaintextArb = fc.uint8Array({ minLength: 1, maxLength: 600 });
const PAIRS = BACKENDS.flatMap((s) => BACKENDS.map((o) => [s, o] as const));

describe('envelope v1: seal → open round trip', () => {
  for (const [sealer, opener] of PAIRS) {
    it(`seal with ${sealer[0]}, open with ${opener[0]}`, () => {
      fc.assert(
        fc.property(key32, plaintextArb, fc.boolean(), (priv, pt, withKeyId) => {
          const r = recipientFor(opener, priv);
          const env = sealEnvelopeV1(
            sealer[1],
            r.publicKey,
            pt,
            withKeyId ? { keyId: r.keyId } : {},
          );
          assert.deepEqual(EnvelopeV1Schema.parse(env), env);
          assert.equal(env.alg, ENVELOPE_V1_ALG);
          assert.equal(env.key_id, withKeyId ? r.keyId : undefined);
          assert.equal(base64ToBytes(env.ciphertext).length, pt.length);
          assert.equal(tohex(openEnvelopeV1(opener[1], r, env)), tohex(pt));
        }),
        { numRuns: 10 },
      );
    });
  }

  it('round-trips the maximum plaintext size', () => {
    const pt = new Uint8Array(MAX_CREDENTIAL_PLAINTEXT_BYTES).map((_, i) => i * 7);
    for (const [sealer, opener] of PAIRS) {
      const r = recipientFor(opener, new Uint8Array(32).fill(0x42));
      const env = EnvelopeV1Schema.parse(sealEnvelopeV1(sealer[1], r.publicKey, pt));
      assert.equal(tohex(openEnvelopeV1(opener[1], r, env)), tohex(pt));
    }
  });

  it('with a fixed ephemeral key and nonce both backends produce the same envelope', () => {
    const [[, a], [, b]] = BACKENDS as [Backend, Backend];
    fc.assert(
      fc.property(
        key32,
        key32,
        fc.uint8Array({ minLength: 12, maxLength: 12 }),
        plaintextArb,
        (rk, ek, nonce, pt) => {
          const pub = a.x25519PublicKey(rk);
          const ekBefore = tohex(ek);
          const opts = { ephemeralPrivateKey: ek, nonce };
          assert.deepEqual(sealEnvelopeV1(a, pub, pt, opts), sealEnvelopeV1(b, pub, pt, opts));
          // the caller's fixed ephemeral key is left as it was (only generated ones are wiped)
          assert.equal(tohex(ek), ekBefore);
        },
      ),
      { numRuns: 10 },
    );
  });
});

describe('envelope v1: any single-bit change is refused with ENVELOPE_INVALID', () => {
  for (const [sealer, opener] of PAIRS) {
    it(`random bit flips: sealed by ${sealer[0]}, opened by ${opener[0]}`, () => {
      fc.assert(
        fc.property(
          key32,
          plaintextArb,
          fc.constantFrom(...FIELDS),
          fc.nat(),
          (priv, pt, field, n) => {
            const r = recipientFor(opener, priv);
            const env = sealEnvelopeV1(sealer[1], r.publicKey, pt);
            const bit = n % bitsOf(env, field);
            const bad = flipBit(env, field, bit);
            // the tampered envelope is still well-formed, so it would reach openEnvelopeV1
            assert.ok(EnvelopeV1Schema.safeParse(bad).success);
            assertRefused(opener[1], r, bad, `${field} bit ${bit}`);
          },
        ),
        { numRuns: 20 },
      );
    });
  }

  it('every bit of every field, node:crypto opener (exhaustive on a short envelope)', () => {
    const backend = BACKENDS.find(([n]) => n === 'node:crypto')!;
    const r = recipientFor(backend, new Uint8Array(32).fill(7));
    const env = sealEnvelopeV1(backend[1], r.publicKey, new Uint8Array([1, 2, 3, 4, 5]));
    assert.equal(tohex(openEnvelopeV1(backend[1], r, env)), '0102030405');
    let n = 0;
    for (const field of FIELDS) {
      for (let bit = 0; bit < bitsOf(env, field); bit++) {
        assertRefused(backend[1], r, flipBit(env, field, bit), `${field} bit ${bit}`);
        n++;
      }
    }
    assert.equal(n, 8 * (32 + 12 + 5 + 16));
  });

  it('the top bit of ephemeral_pub (ignored by X25519 itself) is still bound through the HKDF salt', () => {
    for (const [, prims] of BACKENDS) {
      const r = recipientFor(BACKENDS[0]!, new Uint8Array(32).fill(9));
      const env = sealEnvelopeV1(prims, r.publicKey, new Uint8Array([42]));
      const bad = flipBit(env, 'ephemeral_pub', 255);
      // same shared secret...
      const a = r.agree(base64ToBytes(env.ephemeral_pub));
      const b = r.agree(base64ToBytes(bad.ephemeral_pub));
      assert.equal(tohex(a), tohex(b));
      // ...but a different key, so the envelope does not open
      assertRefused(prims, r, bad, 'ephemeral_pub bit 255');
    }
  });
});

describe('envelope v1: other refusals', () => {
  it('the wrong recipient gets ENVELOPE_INVALID', () => {
    fc.assert(
      fc.property(key32, key32, plaintextArb, (p1, p2, pt) => {
        fc.pre(tohex(p1) !== tohex(p2));
        for (const [, prims] of BACKENDS) {
          const env = sealEnvelopeV1(prims, recipientFor(BACKENDS[0]!, p1).publicKey, pt);
          for (const backend of BACKENDS) assertRefused(backend[1], recipientFor(backend, p2), env);
        }
      }),
      { numRuns: 5 },
    );
  });

  it('a low-order ephemeral_pub (all-zero shared secret) gets ENVELOPE_INVALID', () => {
    const zero = new Uint8Array(32);
    const one = new Uint8Array(32);
    one[0] = 1;
    for (const backend of BACKENDS) {
      const r = recipientFor(backend, new Uint8Array(32).fill(3));
      const env = sealEnvelopeV1(backend[1], r.publicKey, new Uint8Array([1]));
      for (const lowOrder of [zero, one]) {
        assertRefused(
          backend[1],
          r,
          { ...env, ephemeral_pub: bytesToBase64(lowOrder) },
          backend[0],
        );
      }
      // and sealing to a low-order recipient key is refused before anything is encrypted
      assert.throws(() => sealEnvelopeV1(backend[1], zero, new Uint8Array([1])));
    }
  });

  it('swapping the fields of two envelopes to the same key is refused', () => {
    const backend = BACKENDS[0]!;
    const r = recipientFor(backend, new Uint8Array(32).fill(5));
    const e1 = sealEnvelopeV1(backend[1], r.publicKey, new Uint8Array([1, 1, 1]));
    const e2 = sealEnvelopeV1(backend[1], r.publicKey, new Uint8Array([2, 2, 2]));
    for (const field of FIELDS) assertRefused(backend[1], r, { ...e1, [field]: e2[field] }, field);
  });

  // The (ciphertext, tag) split: a 12-byte tag with the first 4 tag bytes appended to the
  // ciphertext. EnvelopeV1Schema (tag: exactly 16 bytes) refuses it before openEnvelopeV1 in
  // the service, but openEnvelopeV1 itself relies on aesGcmOpen checking the tag length.
  for (const backend of BACKENDS) {
    it(`${backend[0]}: openEnvelopeV1 refuses a moved ciphertext/tag boundary`, () => {
      const r = recipientFor(backend, new Uint8Array(32).fill(11));
      const env = sealEnvelopeV1(backend[1], r.publicKey, new Uint8Array([9, 8, 7, 6, 5]));
      const ct = base64ToBytes(env.ciphertext);
      const tag = base64ToBytes(env.tag);
      const moved: EnvelopeV1 = {
        ...env,
        ciphertext: bytesToBase64(Buffer.concat([ct, tag.subarray(0, 4)])),
        tag: bytesToBase64(tag.subarray(4)),
      };
      assert.equal(EnvelopeV1Schema.safeParse(moved).success, false);
      assertRefused(backend[1], r, moved, 'moved boundary');
    });
  }
});
