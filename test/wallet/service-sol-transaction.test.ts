/**
 * `sol_transaction` through the real service: a transfer message built by @solana/kit (legacy
 * and v0) with the wallet as fee payer is signed; the base58 signature verifies (WebCrypto
 * Ed25519) over exactly the message bytes under the wallet's Solana address. A message the
 * wallet does not sign, or bytes that are not a message, are refused.
 */
import { strict as assert } from 'node:assert';
import { webcrypto } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
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
import { startTestService, type TestService } from '../helpers/service.js';
import {
  api,
  independentWallet,
  newUser,
  openBoth,
  reply,
  type Opened,
  type User,
  withShare,
} from './service-helpers.js';

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');

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

async function verify(addr: string, sigB58: string, msg: Uint8Array): Promise<boolean> {
  const pub = new Uint8Array(getBase58Encoder().encode(addr));
  const k = await webcrypto.subtle.importKey('raw', pub, { name: 'Ed25519' }, false, ['verify']);
  const sig = new Uint8Array(getBase58Encoder().encode(sigB58));
  return webcrypto.subtle.verify({ name: 'Ed25519' }, k, sig, msg);
}

describe('sol_transaction through the service (pglite)', { concurrency: false }, () => {
  let ts: TestService;
  let alice: User;
  let walletId: string;
  let shares: Opened;
  let sol: string;

  const sign = async (addr: string, request: Record<string, unknown>) =>
    api(ts, alice)(
      'POST',
      `/wallets/${walletId}/sign`,
      await withShare(ts, walletId, 'device', shares.device, 'sign', { address: addr, request }),
    );

  before(async () => {
    ts = await startTestService('pglite', { AUTH_DISABLED_FOR_DEVELOPMENT: 'false' });
    alice = await newUser(ts);
    const kp = reply();
    const res = await api(ts, alice)('POST', '/wallets', { label: 'sol', reply_pub: kp.replyPub });
    assert.equal(res.statusCode, 201, res.body);
    walletId = res.json().wallet_id;
    shares = openBoth(res.json(), kp.privateKey);
    const accounts = res.json().accounts as { chain: string; address: string }[];
    sol = accounts.find((a) => a.chain === 'solana')!.address;
    // The address the service lists is the one two shares independently derive.
    assert.equal(sol, independentWallet(shares.device, shares.recovery).solAddress(0));
  });
  after(async () => {
    await ts?.stop();
  });

  for (const version of ['legacy', 0] as const) {
    it(`signs a ${version} transfer message built by @solana/kit; WebCrypto verifies it`, async () => {
      const msg = transferMessage(sol, version);
      const res = await sign(sol, { type: 'sol_transaction', message: b64(msg) });
      assert.equal(res.statusCode, 200, res.body);
      const { signature } = res.json();
      assert.equal(typeof signature, 'string');
      assert.equal(getBase58Encoder().encode(signature).length, 64);
      assert.ok(await verify(sol, signature, msg), 'signature over the message bytes');
      // Over exactly those bytes: one flipped byte no longer verifies.
      const flipped = Uint8Array.from(msg);
      flipped[flipped.length - 1]! ^= 1;
      assert.equal(await verify(sol, signature, flipped), false);
    });
  }

  it('refuses a message the wallet is not a signer of, and bytes that are not a message', async () => {
    const stranger = independentWallet(shares.recovery, shares.device).solAddress(1);
    const notSigner = await sign(sol, {
      type: 'sol_transaction',
      message: b64(transferMessage(stranger, 'legacy')),
    });
    assert.equal(notSigner.statusCode, 400, notSigner.body);
    assert.equal(notSigner.json().error.code, 'WALLET_REQUEST_INVALID');
    const msg = transferMessage(sol, 0);
    const truncated = await sign(sol, {
      type: 'sol_transaction',
      message: b64(msg.subarray(0, msg.length - 1)),
    });
    assert.equal(truncated.statusCode, 400, truncated.body);
    assert.equal(truncated.json().error.code, 'WALLET_REQUEST_INVALID');
  });
});
