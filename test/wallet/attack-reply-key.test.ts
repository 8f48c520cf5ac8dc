/**
 * A `reply_pub` that is a low-order X25519 point (all zero, say): sealing a share to it fails
 * (RFC 7748's all-zero check). On a re-split that failure came after the share envelope was
 * spent and the secret rebuilt, and was an unknown error (500 INTERNAL through the host), not a
 * refused request. The enclave now refuses such a key first, as WALLET_REQUEST_INVALID, on
 * creation and re-split alike, with the envelope unspent and the record unchanged.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { newReplyKeyPair } from '../../src/client/wallet/open-share.js';
import { walletCreate, walletResplit } from '../../src/enclave/methods/wallet.js';
import { walletInEnclave } from '../helpers/wallet-enclave.js';

const LOW_ORDER = [
  new Uint8Array(32),
  Uint8Array.from([1, ...new Uint8Array(31)]),
  // The point of order 8 from RFC 7748's list of points to refuse (little-endian u).
  Uint8Array.from(
    Buffer.from('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800', 'hex'),
  ),
].map((b) => Buffer.from(b).toString('base64'));

describe('a low-order reply_pub', () => {
  it('is refused as an invalid request before anything is spent', async () => {
    const { t, record, body } = await walletInEnclave();
    for (const replyPub of LOW_ORDER) {
      await assert.rejects(
        walletCreate(t.state, { user_id: 'u', wallet_id: randomUUID(), reply_pub: replyPub }),
        { code: 'WALLET_REQUEST_INVALID' },
      );
      const b = await body(record, 'reshare', { reply_pub: replyPub });
      await assert.rejects(walletResplit(t.state, { record, body: b, mode: 'reshare' }), {
        code: 'WALLET_REQUEST_INVALID',
      });
    }
    // Nothing moved: the same record re-splits with a good key.
    const b = await body(record, 'reshare', { reply_pub: newReplyKeyPair().replyPub });
    const out = await walletResplit(t.state, { record, body: b, mode: 'reshare' });
    assert.equal(out.record.generation, record.generation + 1);
  });
});
