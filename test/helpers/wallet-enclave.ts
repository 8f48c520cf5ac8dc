/**
 * A wallet in an in-process enclave, for tests that call the wallet methods directly or through
 * the dispatcher: a signer keyring, the wallet keyring, one wallet created an hour after the
 * enclave's start, both client shares opened, and `body`, which seals a share for an action the
 * way a client does (dated by the enclave's clock that never goes back, so a test that sets the
 * clock back still sends an honest envelope).
 */
import { randomUUID } from 'node:crypto';
import { encryptWalletShare } from '../../src/client/wallet/encrypt-share.js';
import { newReplyKeyPair, openSealedShare } from '../../src/client/wallet/open-share.js';
import type { WalletRecord } from '../../src/protocol/rpc/wallet-methods.js';
import type { WalletAction } from '../../src/protocol/wallet/binds.js';
import type { ClientShareKind } from '../../src/protocol/wallet/constants.js';
import { ok } from '../mutation-killers/rpc.js';
import { testEnclave, type TestEnclave } from './enclave-state.js';

export async function walletInEnclave(t: TestEnclave = testEnclave()) {
  const g = await ok(t, 'keyring.generate', { policy: 'signer' });
  const init = await ok(t, 'wallet.init', { sealed: null });
  // Envelopes are dated by the enclave's clock; move it well past the enclave's start.
  t.clock.now += 3600;
  const reply = newReplyKeyPair();
  const created = await ok(t, 'wallet.create', {
    user_id: 'user-1',
    wallet_id: randomUUID(),
    reply_pub: reply.replyPub,
  });
  const shares = {
    device: openSealedShare(created.shares.device, reply.privateKey).share,
    recovery: openSealedShare(created.shares.recovery, reply.privateKey).share,
  };
  const key = g.public.credential_keys.find((k) => k.key_id === g.public.current_key_id)!;
  /** A body for `action` on `record` carrying `kind`'s share, sealed now. */
  const body = async (
    record: WalletRecord,
    action: WalletAction,
    fields: Record<string, unknown>,
    kind: ClientShareKind = 'device',
  ): Promise<Record<string, unknown>> => ({
    ...fields,
    share: await encryptWalletShare(
      {
        walletId: record.wallet_id,
        kind,
        share: Uint8Array.from(shares[kind]),
        action,
        body: fields,
      },
      key.public_key,
      { keyId: key.key_id, issuedAt: t.state.monotonicNow() },
    ),
  });
  return { t, g, init, reply, created, record: created.record, body, shares };
}

/**
 * An EIP-1559 transfer of `value` wei on chain 1 with `nonce`, as `wallet.sign` takes it. No fee,
 * so that a daily allowance (value + the largest fee) counts the value alone.
 */
export const ethTransfer = (value: string, nonce: number) => ({
  type: 'eth_transaction',
  transaction: {
    chainId: 1,
    nonce,
    to: '0x000000000000000000000000000000000000dEaD',
    value,
    gas: 21000,
    maxFeePerGas: '0',
    maxPriorityFeePerGas: '0',
  },
});
