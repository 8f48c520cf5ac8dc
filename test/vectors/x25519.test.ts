/**
 * Wycheproof X25519 (x25519_test.json) against both EnvelopePrimitives backends.
 *
 * Policy for the result field:
 *   - "valid": x25519(private, public) must equal `shared`.
 *   - "acceptable" with flag ZeroSharedSecret (low-order public points): must THROW. The
 *     interface contract (primitives.ts) says x25519 throws on an all-zero output, which
 *     RFC 7748 §6.1 allows.
 *   - "acceptable" otherwise (Twist, NonCanonicalPublic, SpecialPublicKey, EdgeCase*): must
 *     equal `shared`. RFC 7748 §5 defines these outputs (mask the top bit, accept u >= p,
 *     twist points go through the same ladder), and the interface promises RFC 7748 §5.
 *   - "invalid" (none in this file today): must throw.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BACKENDS,
  Tally,
  readVectorJson,
  tohex,
  unhex,
  type WycheproofFile,
  type WycheproofTest,
} from './helpers.js';

interface X25519Test extends WycheproofTest {
  public: string;
  private: string;
  shared: string;
}
interface X25519Group {
  type: string;
  curve: string;
  tests: X25519Test[];
}

const file = readVectorJson<WycheproofFile<X25519Group>>('wycheproof/x25519_test.json');
const tests = file.testGroups.flatMap((g) => {
  assert.equal(g.curve, 'curve25519');
  return g.tests;
});
const zeroFlagged = tests.filter((t) => t.flags.includes('ZeroSharedSecret')).length;

/** Distinct private keys for the public-key checks: a sample, as the ladder is slow in pure JS. */
const SAMPLE_PRIVS = [...new Set(tests.map((t) => t.private))].filter((_, i) => i % 16 === 0);

/** The u-coordinate 9 (RFC 7748 §4.1), little-endian. */
const BASE_POINT = new Uint8Array(32);
BASE_POINT[0] = 9;

describe('Wycheproof X25519', () => {
  it('the vector file is the one expected', () => {
    assert.equal(file.algorithm, 'XDH');
    assert.equal(tests.length, file.numberOfTests);
    assert.ok(tests.length >= 500, `only ${tests.length} vectors`);
    assert.ok(zeroFlagged > 0);
  });

  for (const [name, prims] of BACKENDS) {
    it(`${name}: every vector, with the zero-shared-secret policy`, () => {
      const tally = new Tally();
      for (const t of tests) {
        const priv = unhex(t.private);
        const pub = unhex(t.public);
        const ctx = `tcId ${t.tcId} (${t.result}; ${t.flags.join(',')})`;
        const mustReject = t.result === 'invalid' || t.flags.includes('ZeroSharedSecret');
        if (mustReject) {
          if (t.flags.includes('ZeroSharedSecret')) assert.match(t.shared, /^(00){32}$/, ctx);
          assert.throws(() => prims.x25519(priv, pub), ctx);
          tally.add(`${t.result}:rejected`);
        } else {
          assert.equal(tohex(prims.x25519(priv, pub)), t.shared, ctx);
          tally.add(`${t.result}:computed`);
        }
      }
      const ran = tally.get('valid:computed') + tally.get('acceptable:computed');
      const rejected = tally.get('acceptable:rejected') + tally.get('invalid:rejected');
      console.log(`x25519 ${name}:`, JSON.stringify(tally));
      assert.equal(ran + rejected, tests.length);
      assert.ok(tally.get('valid:computed') >= 250, JSON.stringify(tally));
      assert.ok(tally.get('acceptable:computed') >= 200, JSON.stringify(tally));
      assert.equal(rejected, zeroFlagged + tests.filter((t) => t.result === 'invalid').length);
    });

    it(`${name}: x25519PublicKey(k) = X25519(k, 9) for a sample of vector private keys`, () => {
      assert.ok(SAMPLE_PRIVS.length >= 20, `${SAMPLE_PRIVS.length} keys`);
      for (const p of SAMPLE_PRIVS) {
        const k = unhex(p);
        const pub = prims.x25519PublicKey(k);
        assert.equal(pub.length, 32);
        assert.equal(tohex(pub), tohex(prims.x25519(k, BASE_POINT)), p);
      }
    });

    it(`${name}: refuses keys that are not 32 bytes`, () => {
      const k = unhex(tests[0]!.private);
      const u = unhex(tests[0]!.public);
      for (const bad of [new Uint8Array(0), new Uint8Array(31), new Uint8Array(33)]) {
        assert.throws(() => prims.x25519(bad, u));
        assert.throws(() => prims.x25519(k, bad));
        assert.throws(() => prims.x25519PublicKey(bad));
      }
    });
  }

  it('both backends derive the same public key (cross-check)', () => {
    const [[, a], [, b]] = BACKENDS as [(typeof BACKENDS)[number], (typeof BACKENDS)[number]];
    for (const p of SAMPLE_PRIVS) {
      assert.equal(tohex(a.x25519PublicKey(unhex(p))), tohex(b.x25519PublicKey(unhex(p))));
    }
  });
});
