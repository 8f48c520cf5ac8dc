/**
 * Solana signatures: ed25519 over the message bytes, verified with an independent
 * implementation (WebCrypto Ed25519 in node) and with transaction messages built by
 * @solana/kit, whose encoder is independent of our reader.
 */
import { strict as assert } from 'node:assert';
import { webcrypto } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  address,
  appendTransactionMessageInstruction,
  blockhash,
  compileTransactionMessage,
  createTransactionMessage,
  getBase58Encoder,
  getCompiledTransactionMessageEncoder,
  pipe,
  setTransactionMessageFeePayer,
  setTransactionMessageLifetimeUsingBlockhash,
} from '@solana/kit';
import { signSolanaMessage, signSolanaTransaction } from '../../src/enclave/wallet/sign-solana.js';
import { deriveSolanaKey, seedFromEntropy } from '../../src/protocol/wallet/derive.js';
import { parseSolanaMessage } from '../../src/protocol/wallet/solana-message.js';

const seed = seedFromEntropy(new Uint8Array(32).fill(9));
const key = deriveSolanaKey(seed, 0);
const other = deriveSolanaKey(seed, 1);
const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');

async function verify(pub: Uint8Array, sigB58: string, msg: Uint8Array): Promise<boolean> {
  const k = await webcrypto.subtle.importKey('raw', pub, { name: 'Ed25519' }, false, ['verify']);
  const sig = new Uint8Array(getBase58Encoder().encode(sigB58));
  return webcrypto.subtle.verify({ name: 'Ed25519' }, k, sig, msg);
}

function transferMessage(feePayer: string, version: 0 | 'legacy'): Uint8Array {
  const msg = pipe(
    createTransactionMessage({ version }),
    (m) => setTransactionMessageFeePayer(address(feePayer), m),
    (m) =>
      setTransactionMessageLifetimeUsingBlockhash(
        {
          blockhash: blockhash('EkSnNWid2cvwEVnVx9aBqawnmiCNiDgp3gUdkDPTKN1N'),
          lastValidBlockHeight: 1n,
        },
        m,
      ),
    (m) =>
      appendTransactionMessageInstruction(
        {
          programAddress: address('11111111111111111111111111111111'),
          accounts: [],
          data: new Uint8Array([2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]),
        },
        m,
      ),
  );
  return new Uint8Array(
    getCompiledTransactionMessageEncoder().encode(compileTransactionMessage(msg)),
  );
}

describe('Solana signing', () => {
  it('sol_message: the signature verifies under the account key (WebCrypto)', async () => {
    const msg = new TextEncoder().encode('Sign in to Cloister');
    const { signature } = signSolanaMessage(key.privateKey, b64(msg));
    assert.ok(await verify(key.publicKey, signature, msg));
    assert.equal(await verify(other.publicKey, signature, msg), false);
  });

  for (const version of ['legacy', 0] as const) {
    it(`sol_transaction (${version}, built by @solana/kit): signed when the wallet is a signer`, async () => {
      const msg = transferMessage(key.address, version);
      assert.equal(parseSolanaMessage(msg).version, version);
      const { signature } = signSolanaTransaction(key.privateKey, key.publicKey, b64(msg));
      assert.ok(await verify(key.publicKey, signature, msg));
    });
  }

  it('sol_transaction: refused when the wallet is not a signer, or the bytes are not a message', () => {
    const msg = transferMessage(other.address, 'legacy');
    assert.throws(() => signSolanaTransaction(key.privateKey, key.publicKey, b64(msg)), {
      code: 'WALLET_REQUEST_INVALID',
    });
    for (const bad of [
      msg.subarray(0, msg.length - 1),
      new Uint8Array([...msg, 0]),
      new Uint8Array([0x81, 1, 0, 0]),
    ]) {
      assert.throws(() => signSolanaTransaction(key.privateKey, key.publicKey, b64(bad)), {
        code: 'WALLET_REQUEST_INVALID',
      });
    }
  });

  it('sol_message refuses bytes that are a transaction message (no policy bypass)', () => {
    const msg = transferMessage(key.address, 0);
    assert.throws(() => signSolanaMessage(key.privateKey, b64(msg)), {
      code: 'WALLET_REQUEST_INVALID',
    });
  });
});
