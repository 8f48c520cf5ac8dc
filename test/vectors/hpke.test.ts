/**
 * RFC 9180 Appendix A.1.1 (DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM, base mode)
 * through @hpke/core + @hpke/dhkem-x25519, the library src/protocol/envelope/hpke.ts uses, and
 * through the project's own suite factory (`hpkeSuite`). The vector's ephemeral key is fixed with
 * the library's test-only `ekm` option (DeriveKeyPair(ikmE)).
 *
 * The project's HPKE envelope uses its own `info` (HPKE_INFO), so the vector's ciphertexts cannot
 * be fed to openEnvelopeHpke directly; instead the vector's recipient key opens envelopes sealed
 * by sealEnvelopeHpke, and an envelope sealed with the vector's fixed ephemeral key is opened.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Aes128Gcm, CipherSuite, HkdfSha256, type SenderContext } from '@hpke/core';
import { DhkemX25519HkdfSha256 } from '@hpke/dhkem-x25519';
import {
  x25519PrivateKeyObject,
  x25519WithKeyObject,
} from '../../src/enclave/crypto/node-primitives.js';
import { bytesToBase64, base64ToBytes } from '../../src/protocol/encoding.js';
import { EnvelopeError } from '../../src/protocol/envelope/errors.js';
import {
  HPKE_ALGS,
  HPKE_INFO,
  HpkeEnvelopeSchema,
  hpkeSuite,
  openEnvelopeHpke,
  sealEnvelopeHpke,
} from '../../src/protocol/envelope/hpke.js';
import type { X25519Recipient } from '../../src/protocol/envelope/primitives.js';
import { okpThumbprint } from '../../src/protocol/key-id.js';
import { BACKENDS, readVectorJson, tohex, unhex } from './helpers.js';

interface HpkeVector {
  mode: number;
  kem_id: number;
  kdf_id: number;
  aead_id: number;
  info: string;
  ikmE: string;
  pkEm: string;
  skEm: string;
  ikmR: string;
  pkRm: string;
  skRm: string;
  enc: string;
  encryptions: { seq: number; pt: string; aad: string; nonce: string; ct: string }[];
}

/** importKey takes an ArrayBuffer (or a JWK), not a view. */
const unhexBuffer = (s: string): ArrayBuffer => unhex(s).slice().buffer as ArrayBuffer;

const v = readVectorJson<HpkeVector>('hpke/rfc9180-A.1.1-x25519-sha256-aes128gcm-base.json');

const referenceSuite = () =>
  new CipherSuite({
    kem: new DhkemX25519HkdfSha256(),
    kdf: new HkdfSha256(),
    aead: new Aes128Gcm(),
  });

/** An X25519Recipient over the vector's skR, built the way the enclave keyring builds one. */
function vectorRecipient(): X25519Recipient & { privateKeyCalls: number } {
  const key = x25519PrivateKeyObject(unhex(v.skRm));
  const r = {
    keyId: okpThumbprint('X25519', unhex(v.pkRm)),
    publicKey: unhex(v.pkRm),
    agree: (peer: Uint8Array) => x25519WithKeyObject(key, peer),
    privateKey: () => {
      r.privateKeyCalls++;
      return unhex(v.skRm); // a fresh copy: openEnvelopeHpke wipes what it is given
    },
    privateKeyCalls: 0,
  };
  return r;
}

/**
 * Seals the vector's encryptions in order, sealing throw-away messages for the sequence numbers
 * the vector skips (3, 5..254), so that each listed ciphertext is made at its own `seq`.
 */
async function runSequence(
  sender: SenderContext,
  onEach: (
    seq: number,
    ct: ArrayBuffer,
    e: HpkeVector['encryptions'][number] | undefined,
  ) => Promise<void>,
) {
  const bySeq = new Map(v.encryptions.map((e) => [e.seq, e]));
  const last = Math.max(...bySeq.keys());
  for (let seq = 0; seq <= last; seq++) {
    const e = bySeq.get(seq);
    const ct = e
      ? await sender.seal(unhex(e.pt), unhex(e.aad))
      : await sender.seal(new Uint8Array(0));
    await onEach(seq, ct, e);
  }
}

describe('RFC 9180 A.1.1 with @hpke/core', () => {
  it('the vector is the A.1.1 suite', () => {
    assert.deepEqual([v.mode, v.kem_id, v.kdf_id, v.aead_id], [0, 0x20, 0x01, 0x01]);
    assert.equal(v.encryptions.length, 6);
  });

  it('DeriveKeyPair(ikmR) and DeriveKeyPair(ikmE) give the vector keys', async () => {
    const suite = referenceSuite();
    for (const [ikm, sk, pk] of [
      [v.ikmR, v.skRm, v.pkRm],
      [v.ikmE, v.skEm, v.pkEm],
    ] as const) {
      const kp = await suite.kem.deriveKeyPair(unhex(ikm));
      assert.equal(tohex(await suite.kem.serializePrivateKey(kp.privateKey)), sk);
      assert.equal(tohex(await suite.kem.serializePublicKey(kp.publicKey)), pk);
    }
  });

  it('both EnvelopePrimitives backends agree with the vector keys', () => {
    for (const [name, prims] of BACKENDS) {
      assert.equal(tohex(prims.x25519PublicKey(unhex(v.skRm))), v.pkRm, name);
      assert.equal(tohex(prims.x25519PublicKey(unhex(v.skEm))), v.pkEm, name);
    }
  });

  const suites = [
    ['reference CipherSuite', referenceSuite],
    [
      'hpkeSuite(HPKE-Base-X25519-SHA256-A128GCM)',
      () => hpkeSuite('HPKE-Base-X25519-SHA256-A128GCM'),
    ],
  ] as const;
  for (const [label, make] of suites) {
    it(`${label}: enc, every ciphertext, and the recipient opens them in order`, async () => {
      const suite = make();
      assert.deepEqual(
        [suite.kem.id, suite.kdf.id, suite.aead.id],
        [v.kem_id, v.kdf_id, v.aead_id],
      );
      const recipientKey = await suite.kem.deriveKeyPair(unhex(v.ikmR));
      const sender = await suite.createSenderContext({
        recipientPublicKey: recipientKey.publicKey,
        info: unhex(v.info),
        ekm: unhex(v.ikmE),
      });
      assert.equal(tohex(sender.enc), v.enc);
      // The recipient is set up from the vector's own bytes (enc, skR), not from the sender.
      const recipient = await suite.createRecipientContext({
        recipientKey: await suite.kem.importKey('raw', unhexBuffer(v.skRm), false),
        enc: unhex(v.enc),
        info: unhex(v.info),
      });
      let checked = 0;
      await runSequence(sender, async (seq, ct, e) => {
        if (e) {
          assert.equal(tohex(ct), e.ct, `seq ${seq}`);
          assert.equal(tohex(await recipient.open(unhex(e.ct), unhex(e.aad))), e.pt, `seq ${seq}`);
          checked++;
        } else {
          assert.equal((await recipient.open(ct)).byteLength, 0);
        }
      });
      assert.equal(checked, v.encryptions.length);
    });
  }

  it('a flipped bit in the first vector ciphertext, its aad, or enc does not open', async () => {
    const suite = referenceSuite();
    const skR = await suite.kem.importKey('raw', unhexBuffer(v.skRm), false);
    const e0 = v.encryptions[0]!;
    const open = async (enc: Uint8Array, ct: Uint8Array, aad: Uint8Array) => {
      const r = await suite.createRecipientContext({ recipientKey: skR, enc, info: unhex(v.info) });
      return r.open(ct, aad);
    };
    assert.equal(tohex(await open(unhex(v.enc), unhex(e0.ct), unhex(e0.aad))), e0.pt);
    const flip = (hex: string, bit: number) => {
      const b = unhex(hex);
      b[bit >> 3]! ^= 1 << (bit & 7);
      return b;
    };
    for (const bit of [0, 9, 100, 8 * (unhex(e0.ct).length - 1) + 7]) {
      await assert.rejects(open(unhex(v.enc), flip(e0.ct, bit), unhex(e0.aad)));
    }
    await assert.rejects(open(unhex(v.enc), unhex(e0.ct), flip(e0.aad, 3)));
    await assert.rejects(open(flip(v.enc, 17), unhex(e0.ct), unhex(e0.aad)));
  });
});

describe('the project HPKE envelope (src/protocol/envelope/hpke.ts) with the vector keys', () => {
  const plaintext = unhex(v.encryptions[0]!.pt);

  for (const alg of HPKE_ALGS) {
    it(`${alg}: sealEnvelopeHpke → openEnvelopeHpke`, async () => {
      const r = vectorRecipient();
      const env = await sealEnvelopeHpke(alg, r.publicKey, plaintext, { keyId: r.keyId });
      HpkeEnvelopeSchema.parse(env);
      assert.equal(env.alg, alg);
      assert.equal(env.key_id, r.keyId);
      assert.equal(base64ToBytes(env.ciphertext).length, plaintext.length + 16);
      assert.equal(tohex(await openEnvelopeHpke(r, env)), tohex(plaintext));
      assert.equal(r.privateKeyCalls, 1);

      // Tampering with enc or ciphertext, or naming the other AEAD, gives ENVELOPE_INVALID.
      const other = HPKE_ALGS.find((a) => a !== alg)!;
      const ct = base64ToBytes(env.ciphertext);
      ct[0]! ^= 0x80;
      const enc = base64ToBytes(env.enc);
      enc[5]! ^= 0x01;
      for (const bad of [
        { ...env, ciphertext: bytesToBase64(ct) },
        { ...env, enc: bytesToBase64(enc) },
        { ...env, alg: other },
      ]) {
        await assert.rejects(
          openEnvelopeHpke(vectorRecipient(), bad),
          (err: unknown) => err instanceof EnvelopeError && err.code === 'ENVELOPE_INVALID',
        );
      }
    });
  }

  it('an envelope sealed with the vector ephemeral key (ekm = ikmE) has enc = the vector enc and opens', async () => {
    const alg = 'HPKE-Base-X25519-SHA256-A128GCM';
    const suite = hpkeSuite(alg);
    const { ct, enc } = await suite.seal(
      {
        recipientPublicKey: await suite.kem.importKey('raw', unhexBuffer(v.pkRm), true),
        info: HPKE_INFO,
        ekm: unhex(v.ikmE),
      },
      plaintext,
    );
    // enc depends only on ikmE; the ciphertext differs from the vector's because `info` does.
    assert.equal(tohex(enc), v.enc);
    assert.notEqual(tohex(ct), v.encryptions[0]!.ct);
    const env = {
      alg,
      enc: bytesToBase64(new Uint8Array(enc)),
      ciphertext: bytesToBase64(new Uint8Array(ct)),
    } as const;
    assert.equal(tohex(await openEnvelopeHpke(vectorRecipient(), env)), tohex(plaintext));
  });

  it('the vector ciphertext (sealed under the RFC info, not HPKE_INFO) does not open as an envelope', async () => {
    const e0 = v.encryptions[0]!;
    // The RFC ciphertext has aad "Count-0"; the envelope has no aad and its own info, so both
    // differ. This pins that the envelope is domain-separated from other HPKE uses of the key.
    const env = {
      alg: 'HPKE-Base-X25519-SHA256-A128GCM',
      enc: bytesToBase64(unhex(v.enc)),
      ciphertext: bytesToBase64(unhex(e0.ct)),
    } as const;
    await assert.rejects(openEnvelopeHpke(vectorRecipient(), env), { code: 'ENVELOPE_INVALID' });
  });
});
