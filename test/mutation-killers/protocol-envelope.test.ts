/**
 * src/protocol/envelope for the mutation run (docs/mutation-testing.md): the kind registry
 * (which `alg` opens how, the replay-cache key, the stored name, the digest), the options of
 * both seal functions (key id, `info` domain separation), the schemas' strictness and the fixed
 * error messages. The cryptography itself is covered by test/vectors/ and the v1 properties.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8 } from '../../src/protocol/encoding.js';
import {
  ENVELOPE_ERROR_MESSAGES,
  EnvelopeError,
  type EnvelopeErrorCode,
} from '../../src/protocol/envelope/errors.js';
import {
  HPKE_ALGS,
  HPKE_INFO,
  HpkeEnvelopeSchema,
  openEnvelopeHpke,
  sealEnvelopeHpke,
} from '../../src/protocol/envelope/hpke.js';
import type { X25519Recipient } from '../../src/protocol/envelope/primitives.js';
import {
  CredentialEnvelopeSchema,
  ENVELOPE_ALGS,
  envelopeAlg,
  envelopeDigest,
  MAX_ENVELOPE_PLAINTEXT_BYTES,
  resolveEnvelopeKind,
} from '../../src/protocol/envelope/registry.js';
import {
  deriveEnvelopeKeyV1,
  ENVELOPE_V1_ALG,
  ENVELOPE_V1_INFO,
  EnvelopeV1Schema,
  openEnvelopeV1,
  sealEnvelopeV1,
} from '../../src/protocol/envelope/v1.js';
import { jcsBytes } from '../../src/protocol/jcs.js';
import { okpThumbprint } from '../../src/protocol/key-id.js';
import { MAX_CREDENTIAL_PLAINTEXT_BYTES } from '../../src/protocol/credentials.js';
import { BACKENDS } from '../vectors/helpers.js';

const prims = BACKENDS[0]![1];
const priv = new Uint8Array(32).fill(7);
const recipient = (): X25519Recipient => {
  const publicKey = prims.x25519PublicKey(priv);
  return {
    keyId: okpThumbprint('X25519', publicKey),
    publicKey,
    agree: (peer) => prims.x25519(priv, peer),
    privateKey: () => priv.slice(),
  };
};
const plaintext = utf8.encode('{"api_key":"k","api_secret":"s"}');

describe('envelope registry', () => {
  it('names every kind: v1 and both HPKE suites, nothing else', () => {
    assert.deepEqual(ENVELOPE_ALGS, [ENVELOPE_V1_ALG, ...HPKE_ALGS]);
    assert.deepEqual(HPKE_ALGS, [
      'HPKE-Base-X25519-SHA256-A128GCM',
      'HPKE-Base-X25519-SHA256-A256GCM',
    ]);
    assert.equal(ENVELOPE_V1_ALG, 'X25519-HKDF-SHA256-A256GCM');
    assert.equal(MAX_ENVELOPE_PLAINTEXT_BYTES, MAX_CREDENTIAL_PLAINTEXT_BYTES);
  });

  it('an envelope without alg is v1; an unknown alg is refused', async () => {
    const r = recipient();
    const env = sealEnvelopeV1(prims, r.publicKey, plaintext);
    const { alg: _alg, ...bare } = env;
    const kind = resolveEnvelopeKind(bare);
    assert.equal(kind.alg, ENVELOPE_V1_ALG);
    assert.equal(envelopeAlg(bare), ENVELOPE_V1_ALG);
    assert.equal(kind.senderKey(bare), env.ephemeral_pub);
    assert.deepEqual(await kind.open(prims, r, bare), plaintext);
    assert.throws(
      () => resolveEnvelopeKind({ ...bare, alg: 'ROT13' } as never),
      (e: unknown) => e instanceof EnvelopeError && e.code === 'ENVELOPE_UNSUPPORTED_ALG',
    );
  });

  it('HPKE kinds: the sender key is enc, and they open', async () => {
    const r = recipient();
    for (const alg of HPKE_ALGS) {
      const env = await sealEnvelopeHpke(alg, r.publicKey, plaintext);
      const kind = resolveEnvelopeKind(env);
      assert.equal(kind.alg, 'HPKE');
      assert.equal(envelopeAlg(env), alg);
      assert.equal(kind.senderKey(env), env.enc);
      assert.deepEqual(await kind.open(prims, r, env), plaintext);
    }
  });

  it('the digest is SHA-256 of the JCS form with alg and key_id filled in', () => {
    const r = recipient();
    const env = sealEnvelopeV1(prims, r.publicKey, plaintext);
    const { alg: _alg, ...bare } = env;
    const expected = bytesToHex(sha256(jcsBytes({ ...env, key_id: 'kid-1' })));
    assert.equal(envelopeDigest(env, 'kid-1'), expected);
    assert.equal(envelopeDigest(bare, 'kid-1'), expected, 'same without alg');
    assert.notEqual(envelopeDigest(env, 'kid-2'), expected);
  });

  it('the union schema takes each kind and refuses extra keys', async () => {
    const r = recipient();
    const v1 = sealEnvelopeV1(prims, r.publicKey, plaintext);
    const h = await sealEnvelopeHpke(HPKE_ALGS[0], r.publicKey, plaintext);
    assert.ok(CredentialEnvelopeSchema.safeParse(v1).success);
    assert.ok(CredentialEnvelopeSchema.safeParse(h).success);
    assert.ok(!CredentialEnvelopeSchema.safeParse({ ...v1, extra: 1 }).success);
    assert.ok(!CredentialEnvelopeSchema.safeParse({ ...h, extra: 1 }).success);
    assert.ok(!EnvelopeV1Schema.safeParse({ ...v1, alg: 'HPKE' }).success);
  });
});

describe('envelope v1 options', () => {
  it('key_id only when given; a recipient key that is not 32 bytes is refused', () => {
    const r = recipient();
    assert.ok(!('key_id' in sealEnvelopeV1(prims, r.publicKey, plaintext)));
    assert.equal(sealEnvelopeV1(prims, r.publicKey, plaintext, { keyId: r.keyId }).key_id, r.keyId);
    // Refused before any key agreement, by the envelope's own check.
    assert.throws(() => sealEnvelopeV1(prims, r.publicKey.slice(0, 31), plaintext), {
      name: 'RangeError',
      message: 'recipientPub must be 32 bytes',
    });
  });

  it('info separates domains: sealed under one, it opens only under the same', () => {
    const r = recipient();
    const info = utf8.encode('cloister/other/v1');
    const env = sealEnvelopeV1(prims, r.publicKey, plaintext, { info });
    assert.deepEqual(openEnvelopeV1(prims, r, env, info), plaintext);
    assert.throws(() => openEnvelopeV1(prims, r, env), { code: 'ENVELOPE_INVALID' });
    const dflt = sealEnvelopeV1(prims, r.publicKey, plaintext);
    assert.throws(() => openEnvelopeV1(prims, r, dflt, info), { code: 'ENVELOPE_INVALID' });
    assert.deepEqual(ENVELOPE_V1_INFO, utf8.encode('cloister/credentials/v1'));
  });

  it('fixed ephemeral key and nonce are used as given (test vectors), and left unwiped', () => {
    const r = recipient();
    const eph = new Uint8Array(32).fill(9);
    const nonce = new Uint8Array(12).fill(3);
    const a = sealEnvelopeV1(prims, r.publicKey, plaintext, { ephemeralPrivateKey: eph, nonce });
    const b = sealEnvelopeV1(prims, r.publicKey, plaintext, { ephemeralPrivateKey: eph, nonce });
    assert.deepEqual(a, b);
    assert.deepEqual(eph, new Uint8Array(32).fill(9), 'the caller’s key is not wiped');
    assert.equal(Buffer.from(a.nonce, 'base64').toString('hex'), '03'.repeat(12));
  });

  it('sealing wipes the ephemeral scalar it drew, the shared secret and the key; opening wipes its own', () => {
    const r = recipient();
    // The same primitives, recording every secret buffer they hand out.
    const drawn: Uint8Array[] = [];
    const shared: Uint8Array[] = [];
    const keys: Uint8Array[] = [];
    const recording = {
      ...prims,
      randomBytes: (n: number) => {
        const b = prims.randomBytes(n);
        if (n === 32) drawn.push(b);
        return b;
      },
      x25519: (k: Uint8Array, p: Uint8Array) => {
        const out = prims.x25519(k, p);
        shared.push(out);
        return out;
      },
      hkdfSha256: (ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, n: number) => {
        const out = prims.hkdfSha256(ikm, salt, info, n);
        keys.push(out);
        return out;
      },
    };
    const env = sealEnvelopeV1(recording, r.publicKey, plaintext);
    const zero = (b: Uint8Array) => b.every((x) => x === 0);
    assert.equal(drawn.length, 1);
    assert.equal(shared.length, 1);
    assert.equal(keys.length, 1);
    assert.ok(zero(drawn[0]!), 'the drawn ephemeral scalar is wiped');
    assert.ok(zero(shared[0]!), 'the shared secret is wiped');
    assert.ok(zero(keys[0]!), 'the envelope key is wiped');
    // Still a good envelope: the wipe came after use.
    assert.deepEqual(openEnvelopeV1(prims, r, env), plaintext);
    // Opening: the agreed secret and the derived key are wiped, also when the tag is wrong.
    for (const tamper of [false, true]) {
      const agreed: Uint8Array[] = [];
      keys.length = 0;
      const rec: X25519Recipient = {
        ...r,
        agree: (peer) => {
          const out = r.agree(peer);
          agreed.push(out);
          return out;
        },
      };
      const e = tamper ? { ...env, tag: Buffer.alloc(16).toString('base64') } : env;
      if (tamper)
        assert.throws(() => openEnvelopeV1(recording, rec, e), { code: 'ENVELOPE_INVALID' });
      else assert.deepEqual(openEnvelopeV1(recording, rec, e), plaintext);
      assert.ok(agreed.length === 1 && zero(agreed[0]!), 'the agreed secret is wiped');
      assert.ok(keys.length === 1 && zero(keys[0]!), 'the derived key is wiped');
    }
  });

  it('the derived key refuses a short or all-zero shared secret', () => {
    const pub = new Uint8Array(32);
    for (const shared of [new Uint8Array(32), new Uint8Array(31).fill(1)]) {
      assert.throws(() => deriveEnvelopeKeyV1(prims, shared, pub, pub), {
        code: 'ENVELOPE_INVALID',
      });
    }
    assert.equal(deriveEnvelopeKeyV1(prims, new Uint8Array(32).fill(1), pub, pub).length, 32);
  });
});

describe('envelope HPKE options', () => {
  it('key_id only when given; info separates domains; the private key copy is wiped', async () => {
    const r = recipient();
    const [alg] = HPKE_ALGS;
    assert.ok(!('key_id' in (await sealEnvelopeHpke(alg, r.publicKey, plaintext))));
    const withId = await sealEnvelopeHpke(alg, r.publicKey, plaintext, { keyId: r.keyId });
    assert.equal(withId.key_id, r.keyId);
    assert.ok(HpkeEnvelopeSchema.safeParse(withId).success);

    const info = utf8.encode('cloister/provisioning/v1');
    const other = await sealEnvelopeHpke(alg, r.publicKey, plaintext, { info });
    assert.deepEqual(await openEnvelopeHpke(r, other, info), plaintext);
    await assert.rejects(openEnvelopeHpke(r, other), { code: 'ENVELOPE_INVALID' });
    await assert.rejects(openEnvelopeHpke(r, withId, info), { code: 'ENVELOPE_INVALID' });
    assert.deepEqual(HPKE_INFO, utf8.encode('cloister/credentials/hpke/v1'));

    const copies: Uint8Array[] = [];
    const watched = { ...r, privateKey: () => (copies.push(priv.slice()), copies.at(-1)!) };
    await openEnvelopeHpke(watched, withId);
    assert.deepEqual(copies[0], new Uint8Array(32), 'wiped after use');
  });

  it('the ciphertext bound: the largest plaintext plus its 16-byte tag, not one byte more', () => {
    const env = (n: number) => ({
      alg: HPKE_ALGS[0],
      enc: Buffer.alloc(32, 1).toString('base64'),
      ciphertext: Buffer.alloc(n, 1).toString('base64'),
    });
    assert.ok(HpkeEnvelopeSchema.safeParse(env(MAX_CREDENTIAL_PLAINTEXT_BYTES + 16)).success);
    assert.ok(!HpkeEnvelopeSchema.safeParse(env(MAX_CREDENTIAL_PLAINTEXT_BYTES + 17)).success);
    assert.ok(HpkeEnvelopeSchema.safeParse(env(17)).success);
    assert.ok(!HpkeEnvelopeSchema.safeParse(env(16)).success, 'a tag alone carries nothing');
  });

  it('the two suites differ: an A128GCM envelope relabelled A256GCM does not open', async () => {
    const r = recipient();
    const env = await sealEnvelopeHpke(HPKE_ALGS[0], r.publicKey, plaintext);
    await assert.rejects(openEnvelopeHpke(r, { ...env, alg: HPKE_ALGS[1] }), {
      code: 'ENVELOPE_INVALID',
    });
  });
});

describe('envelope errors', () => {
  it('each code carries its fixed message and name', () => {
    const codes = Object.keys(ENVELOPE_ERROR_MESSAGES) as EnvelopeErrorCode[];
    assert.equal(codes.length, 8);
    for (const code of codes) {
      const e = new EnvelopeError(code);
      assert.equal(e.code, code);
      assert.equal(e.name, 'EnvelopeError');
      assert.equal(e.message, ENVELOPE_ERROR_MESSAGES[code]);
      assert.ok(e.message.length > 10);
    }
    assert.equal(ENVELOPE_ERROR_MESSAGES.ENVELOPE_INVALID, 'the envelope could not be opened');
  });
});
