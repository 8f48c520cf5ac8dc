/**
 * openEnvelopeHpke hands the enclave's raw X25519 private key to @hpke/core as an ArrayBuffer,
 * whose key object views that buffer (no copy). The buffer must be wiped once the envelope is
 * opened or refused, like the exported bytes it was copied from: before, only those were, and a
 * copy of the enclave key stayed in the heap after every HPKE open (SECURITY.md "Credential path:
 * second attack review").
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { DhkemX25519HkdfSha256 } from '@hpke/dhkem-x25519';
import { utf8 } from '../../src/protocol/encoding.js';
import { openEnvelopeHpke, sealEnvelopeHpke } from '../../src/protocol/envelope/hpke.js';
import type { X25519Recipient } from '../../src/protocol/envelope/primitives.js';
import { okpThumbprint } from '../../src/protocol/key-id.js';
import { BACKENDS } from '../vectors/helpers.js';

const prims = BACKENDS[0]![1];
const priv = new Uint8Array(32).fill(7);
const publicKey = prims.x25519PublicKey(priv);
const recipient: X25519Recipient = {
  keyId: okpThumbprint('X25519', publicKey),
  publicKey,
  agree: (peer) => prims.x25519(priv, peer),
  privateKey: () => priv.slice(),
};

describe('HPKE open wipes the private key it hands to the library', () => {
  const proto = DhkemX25519HkdfSha256.prototype as unknown as {
    importKey(format: string, key: ArrayBuffer, isPublic?: boolean): Promise<unknown>;
  };
  const original = proto.importKey;
  let handed: Uint8Array[] = [];
  beforeEach(() => {
    handed = [];
    proto.importKey = function (format, key, isPublic) {
      if (isPublic === false) handed.push(new Uint8Array(key));
      return original.call(this, format, key, isPublic);
    };
  });
  afterEach(() => {
    proto.importKey = original;
  });

  it('after a successful open', async () => {
    const env = await sealEnvelopeHpke(
      'HPKE-Base-X25519-SHA256-A128GCM',
      publicKey,
      utf8.encode('{"a":1}'),
    );
    const pt = await openEnvelopeHpke(recipient, env);
    assert.equal(utf8.decode(pt), '{"a":1}');
    assert.equal(handed.length, 1);
    assert.ok(
      handed[0]!.every((b) => b === 0),
      'the key copy was wiped',
    );
  });

  it('after a refused open', async () => {
    const env = await sealEnvelopeHpke(
      'HPKE-Base-X25519-SHA256-A256GCM',
      publicKey,
      utf8.encode('{"a":1}'),
    );
    const tampered = {
      ...env,
      ciphertext: env.ciphertext.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')),
    };
    await assert.rejects(openEnvelopeHpke(recipient, tampered), { code: 'ENVELOPE_INVALID' });
    assert.equal(handed.length, 1);
    assert.ok(
      handed[0]!.every((b) => b === 0),
      'the key copy was wiped',
    );
  });
});
