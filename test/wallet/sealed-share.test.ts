/**
 * The sealed share (enclave → client) and the wallet_share envelope (client → enclave): round
 * trips across the two primitive backends, tamper refusal per field, and the `binds` check.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { nodePrimitives } from '../../src/enclave/crypto/node-primitives.js';
import { newReplyKeyPair, openSealedShare } from '../../src/client/wallet/open-share.js';
import { encryptWalletShare } from '../../src/client/wallet/encrypt-share.js';
import { base64ToBytes, bytesToBase64, utf8 } from '../../src/protocol/encoding.js';
import { openEnvelopeV1, sealEnvelopeV1, type EnvelopeV1 } from '../../src/protocol/envelope/v1.js';
import type { X25519Recipient } from '../../src/protocol/envelope/primitives.js';
import {
  WalletSharePlaintextSchema,
  bindableBody,
  checkWalletShareFor,
  computeBinds,
} from '../../src/protocol/wallet/binds.js';
import { SEALED_SHARE_INFO } from '../../src/protocol/wallet/constants.js';
import { jcs } from '../../src/protocol/jcs.js';
import { sealShare, type SharePlaintext } from '../../src/protocol/wallet/sealed-share.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { acceptWalletShare } from '../../src/enclave/wallet/wallet-share.js';

const WALLET = '0b9c3d2e-8f1a-4c5b-9d6e-7f8a9b0c1d2e';
const share = new Uint8Array(33).map((_, i) => i + 1);
const plaintext: SharePlaintext = {
  wallet_id: WALLET,
  kind: 'device',
  share: bytesToBase64(share),
  threshold: 2,
  shares: 3,
  generation: 1,
};
const flip = (b64: string, i = 0) => {
  const b = base64ToBytes(b64);
  b[i]! ^= 0x01;
  return bytesToBase64(b);
};

describe('sealed share', () => {
  it('round trip: sealed by the enclave (node:crypto), opened by the SDK (@noble)', () => {
    const reply = newReplyKeyPair();
    const sealed = sealShare(nodePrimitives, base64ToBytes(reply.replyPub), plaintext);
    assert.deepEqual(Object.keys(sealed).sort(), ['ciphertext', 'ephemeral_pub', 'nonce', 'tag']);
    const opened = openSealedShare(sealed, reply.privateKey);
    assert.deepEqual(opened.share, share);
    assert.equal(opened.wallet_id, WALLET);
    assert.equal(opened.kind, 'device');
    assert.equal(opened.generation, 1);
  });

  it('refuses a change to any field, a missing or extra field, and another reply key', () => {
    const reply = newReplyKeyPair();
    const sealed = sealShare(nodePrimitives, base64ToBytes(reply.replyPub), plaintext);
    const variants: unknown[] = [
      { ...sealed, ephemeral_pub: flip(sealed.ephemeral_pub) },
      { ...sealed, nonce: flip(sealed.nonce) },
      { ...sealed, ciphertext: flip(sealed.ciphertext, 5) },
      { ...sealed, tag: flip(sealed.tag, 15) },
      { ...sealed, tag: undefined },
      { ...sealed, alg: 'X25519-HKDF-SHA256-A256GCM' },
      'not an object',
    ];
    for (const v of variants) {
      assert.throws(() => openSealedShare(v, reply.privateKey), {
        code: 'WALLET_SEALED_SHARE_INVALID',
      });
    }
    assert.throws(() => openSealedShare(sealed, newReplyKeyPair().privateKey), {
      code: 'WALLET_SEALED_SHARE_INVALID',
    });
  });

  it('does not open as a credential envelope, nor a credential envelope as a share (own HKDF info)', () => {
    const reply = newReplyKeyPair();
    const pub = base64ToBytes(reply.replyPub);
    const recipient: X25519Recipient = {
      keyId: 'r',
      publicKey: pub,
      agree: (peer) => nodePrimitives.x25519(reply.privateKey, peer),
      privateKey: () => reply.privateKey,
    };
    const sealed = sealShare(nodePrimitives, pub, plaintext);
    assert.throws(() => openEnvelopeV1(nodePrimitives, recipient, sealed));
    const cred = sealEnvelopeV1(nodePrimitives, pub, utf8.encode(JSON.stringify(plaintext)));
    const { alg: _a, key_id: _k, ...fields } = cred;
    assert.throws(() => openSealedShare(fields, reply.privateKey), {
      code: 'WALLET_SEALED_SHARE_INVALID',
    });
  });

  it('refuses a well-sealed plaintext that is not a share plaintext', () => {
    const reply = newReplyKeyPair();
    const pub = base64ToBytes(reply.replyPub);
    for (const bad of [
      { ...plaintext, threshold: 3 },
      { ...plaintext, kind: 'server' },
      { ...plaintext, share: bytesToBase64(share.subarray(0, 32)) },
      { ...plaintext, extra: true },
    ]) {
      const env = sealEnvelopeV1(nodePrimitives, pub, utf8.encode(JSON.stringify(bad)), {
        info: SEALED_SHARE_INFO,
      });
      const { alg: _a, ...fields } = env;
      assert.throws(() => openSealedShare(fields, reply.privateKey), {
        code: 'WALLET_SEALED_SHARE_INVALID',
      });
    }
  });
});

describe('wallet_share envelope and binds', () => {
  const enclavePriv = nodePrimitives.randomBytes(32);
  const enclavePub = nodePrimitives.x25519PublicKey(enclavePriv);
  const enclave: X25519Recipient = {
    keyId: 'k',
    publicKey: enclavePub,
    agree: (peer) => nodePrimitives.x25519(enclavePriv, peer),
    privateKey: () => enclavePriv,
  };
  const body = {
    address: '0x8eA7a3fccC211ED48b763b4164884DDbcF3b0A98',
    request: { type: 'eth_personal_sign', message: 'hello' },
  };

  async function sent(kind: 'device' | 'recovery' = 'device') {
    const env = (await encryptWalletShare(
      { walletId: WALLET, kind, share, action: 'sign', body: { ...body, share: 'ignored' } },
      bytesToBase64(enclavePub),
      { issuedAt: 1_700_000_000 },
    )) as EnvelopeV1;
    return WalletSharePlaintextSchema.parse(
      JSON.parse(utf8.decode(openEnvelopeV1(nodePrimitives, enclave, env))),
    );
  }

  it('binds = hex SHA-256 of JCS({action, wallet_id, body}), body without its share', async () => {
    const pt = await sent();
    const expected = Buffer.from(
      sha256(utf8.encode(jcs({ action: 'sign', wallet_id: WALLET, body }))),
    ).toString('hex');
    assert.equal(pt.binds, expected);
    assert.equal(computeBinds('sign', WALLET, bindableBody({ ...body, share: {} })), expected);
    assert.equal(pt.purpose, 'wallet_share');
    assert.equal(pt.issued_at, 1_700_000_000);
    assert.deepEqual(base64ToBytes(pt.share), share);
  });

  it('the enclave accepts it with the request it was made for (key order does not matter)', async () => {
    const pt = await sent();
    const reordered = {
      request: { message: 'hello', type: 'eth_personal_sign' },
      address: body.address,
      share: {},
    };
    checkWalletShareFor(pt, { action: 'sign', walletId: WALLET, body: reordered });
  });

  it('refuses it with any other request: body, action or wallet changed; wrong kind', async () => {
    const pt = await sent();
    const changed = [
      { ...body, address: '0x0000000000000000000000000000000000000001' },
      { ...body, request: { type: 'eth_personal_sign', message: 'hellO' } },
      { ...body, extra: 1 },
      { address: body.address },
    ];
    for (const b of changed) {
      assert.throws(() => checkWalletShareFor(pt, { action: 'sign', walletId: WALLET, body: b }), {
        code: 'WALLET_BINDS_MISMATCH',
      });
    }
    assert.throws(() => checkWalletShareFor(pt, { action: 'delete', walletId: WALLET, body }), {
      code: 'WALLET_BINDS_MISMATCH',
    });
    assert.throws(
      () =>
        checkWalletShareFor(pt, {
          action: 'sign',
          walletId: '11111111-2222-4333-8444-555555555555',
          body,
        }),
      { code: 'WALLET_SHARE_WRONG_WALLET' },
    );
    assert.throws(() => checkWalletShareFor(pt, { action: 'recovery', walletId: WALLET, body }), {
      code: 'WALLET_SHARE_WRONG_KIND',
    });
    const rec = await sent('recovery');
    assert.throws(() => checkWalletShareFor(rec, { action: 'reshare', walletId: WALLET, body }), {
      code: 'WALLET_SHARE_WRONG_KIND',
    });
  });

  it('the plaintext purpose is disjoint from credential plaintexts', () => {
    assert.equal(
      WalletSharePlaintextSchema.safeParse({
        exchange: 'binance',
        apiKey: 'a',
        apiSecret: 'b',
        issued_at: 1,
      }).success,
      false,
    );
  });

  it('acceptWalletShare: share bytes for the right request, one code otherwise, plaintext zeroed', async () => {
    const env = (await encryptWalletShare(
      { walletId: WALLET, kind: 'device', share, action: 'sign', body },
      bytesToBase64(enclavePub),
    )) as EnvelopeV1;
    const pt = openEnvelopeV1(nodePrimitives, enclave, env);
    const accepted = acceptWalletShare(pt, { action: 'sign', walletId: WALLET, body });
    assert.deepEqual(accepted.share, share);
    assert.equal(accepted.kind, 'device');
    assert.ok(pt.every((b) => b === 0));
    const again = openEnvelopeV1(nodePrimitives, enclave, env);
    assert.throws(
      () => acceptWalletShare(again, { action: 'sign', walletId: WALLET, body: { ...body, x: 1 } }),
      {
        code: 'WALLET_BINDS_MISMATCH',
      },
    );
    assert.ok(again.every((b) => b === 0));
    const cred = utf8.encode(
      JSON.stringify({ exchange: 'binance', apiKey: 'a', apiSecret: 'b', issued_at: 1 }),
    );
    assert.throws(() => acceptWalletShare(cred, { action: 'sign', walletId: WALLET, body }), {
      code: 'WALLET_SHARE_INVALID',
    });
    assert.throws(
      () => acceptWalletShare(utf8.encode('{'), { action: 'sign', walletId: WALLET, body }),
      {
        code: 'WALLET_SHARE_INVALID',
      },
    );
  });
});
