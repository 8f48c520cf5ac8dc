/**
 * Client attack review: the host relays the answer of POST /wallets/:id/sign, so it can hand
 * back a genuine answer it kept from another request (another message or transaction of this
 * wallet, or another wallet's signature of the same data), a transaction with another hash, or
 * garbage. The SDK must refuse each (WALLET_SIGNATURE_MISMATCH) and pass genuine answers of
 * every request type. Real service, real enclave; only the relayed answer is swapped.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import {
  createWallet,
  signWithShare,
  WalletError,
  type WalletClientOptions,
  type WalletShares,
} from '../../src/client/index.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { MAIL, newUser, sdkOptions } from '../wallet/service-helpers.js';

const tx = (to: string, nonce = 0) => ({
  chainId: 1,
  nonce,
  to,
  value: '1000',
  gas: 21000,
  maxFeePerGas: '30000000000',
  maxPriorityFeePerGas: '1000000000',
});
const ALICE = '0x00000000000000000000000000000000000000aa';
const MALLORY = '0x00000000000000000000000000000000000000bb';
const b64 = (s: string) => Buffer.from(s).toString('base64');

const mismatch = (e: unknown) => e instanceof WalletError && e.code === 'WALLET_SIGNATURE_MISMATCH';

describe(
  'client attack review: a sign answer must cover the request',
  { concurrency: false },
  () => {
    let ts: TestService;
    let opts: WalletClientOptions;
    let w: WalletShares;
    let other: WalletShares;
    /** When set, the host answers the next POST …/sign with this body instead of the real one. */
    let swap: ((real: Record<string, unknown>) => unknown) | null = null;

    before(async () => {
      ts = await startTestService('pglite', { AUTH_DISABLED_FOR_DEVELOPMENT: 'false' });
      opts = await sdkOptions(ts, await newUser(ts), (path, status, body) => {
        if (!swap || !path.endsWith('/sign') || status !== 200) return undefined;
        const answer = swap(JSON.parse(body) as Record<string, unknown>);
        swap = null;
        return answer;
      });
      w = await createWallet(opts, 'main');
      other = await createWallet(opts, 'other');
    });
    after(async () => {
      await ts?.stop();
    });

    const eth = () => w.accounts[0]!.address;
    const sol = () => w.accounts[1]!.address;
    const sign = (request: Record<string, unknown>, address = eth(), shares = w) =>
      signWithShare(opts, shares.walletId, shares.device, address, request);

    it('passes genuine answers of every request type', async () => {
      for (const request of [
        { type: 'eth_personal_sign', message: 'gm' },
        { type: 'eth_personal_sign', message: '0x0102' },
        { type: 'eth_typed_data', typed_data: MAIL },
        { type: 'eth_transaction', transaction: tx(ALICE) },
        {
          type: 'eth_transaction',
          transaction: {
            ...tx(ALICE),
            maxFeePerGas: undefined,
            maxPriorityFeePerGas: undefined,
            gasPrice: '1',
          },
        },
      ]) {
        const r = await sign(JSON.parse(JSON.stringify(request)));
        assert.ok('signature' in r || 'signed_transaction' in r);
      }
      const s = await sign({ type: 'sol_message', message: b64('hello') }, sol());
      assert.ok('signature' in s);
    });

    it('refuses a genuine earlier transaction of this wallet given for another one', async () => {
      const toAlice = await sign({ type: 'eth_transaction', transaction: tx(ALICE, 7) });
      swap = () => toAlice;
      await assert.rejects(
        sign({ type: 'eth_transaction', transaction: tx(MALLORY, 7) }),
        mismatch,
      );
      // The right transaction with another hash, or with the signature of another one.
      swap = (real) => ({ ...real, hash: `0x${'00'.repeat(32)}` });
      await assert.rejects(sign({ type: 'eth_transaction', transaction: tx(ALICE, 8) }), mismatch);
    });

    it('refuses a genuine signature of another message, or by another wallet', async () => {
      const a = await sign({ type: 'eth_personal_sign', message: 'pay alice' });
      swap = () => a;
      await assert.rejects(sign({ type: 'eth_personal_sign', message: 'pay mallory' }), mismatch);
      const byOther = await sign(
        { type: 'eth_personal_sign', message: 'log in' },
        other.accounts[0]!.address,
        other,
      );
      swap = () => byOther;
      await assert.rejects(sign({ type: 'eth_personal_sign', message: 'log in' }), mismatch);
      swap = () => a;
      await assert.rejects(sign({ type: 'eth_typed_data', typed_data: MAIL }), mismatch);
    });

    it('refuses a substituted Solana signature and answers that are not signatures', async () => {
      const one = await sign({ type: 'sol_message', message: b64('one') }, sol());
      swap = () => one;
      await assert.rejects(sign({ type: 'sol_message', message: b64('two') }, sol()), mismatch);
      for (const garbage of [{}, { signature: 'zz' }, { signature: 42 }, [], 'x', { log: {} }]) {
        swap = () => garbage;
        await assert.rejects(sign({ type: 'eth_personal_sign', message: 'gm' }), mismatch);
      }
    });
  },
);
