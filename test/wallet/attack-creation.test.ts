/**
 * Attack review (issue 14), not fixed yet: a host that fabricates the whole creation response.
 * Sealing a share needs only the client's public `reply_pub`, so the host can draw entropy of
 * its own, split it, seal both shares to the user and list the addresses they give: the SDK's
 * check (the shares combine to the listed addresses) passes, and the host knows the key of the
 * wallet the user then funds. Closing it needs the enclave to sign the split (wallet id,
 * generation, accounts, digests of the sealed shares) with its attested result key, and the SDK
 * to verify that signature against a verified attestation. Marked `todo` until then.
 */
import { strict as assert } from 'node:assert';
import { randomBytes, randomUUID } from 'node:crypto';
import { it } from 'node:test';
import { newReplyKeyPair } from '../../src/client/wallet/open-share.js';
import { verifyWalletResponse } from '../../src/client/wallet/shares.js';
import { noblePrimitives } from '../../src/client/noble-primitives.js';
import { splitEntropy } from '../../src/enclave/wallet/split.js';
import {
  INITIAL_ACCOUNTS,
  deriveAccounts,
  seedFromEntropy,
} from '../../src/protocol/wallet/derive.js';
import { base64ToBytes, bytesToBase64 } from '../../src/protocol/encoding.js';
import { sealShare } from '../../src/protocol/wallet/sealed-share.js';

it(
  'the SDK refuses a creation response the host made up with a wallet of its own',
  { todo: 'needs an enclave signature over the split (attested result key)' },
  async () => {
    const user = newReplyKeyPair();
    // The host: its own entropy, split and sealed to the user's public reply key.
    const entropy = Uint8Array.from(randomBytes(32));
    const walletId = randomUUID();
    const shares = await splitEntropy(entropy);
    const seal = (kind: 'device' | 'recovery', share: Uint8Array) =>
      sealShare(noblePrimitives, base64ToBytes(user.replyPub), {
        wallet_id: walletId,
        kind,
        share: bytesToBase64(share),
        threshold: 2,
        shares: 3,
        generation: 1,
      });
    const forged = {
      wallet_id: walletId,
      generation: 1,
      accounts: deriveAccounts(seedFromEntropy(entropy), INITIAL_ACCOUNTS),
      shares: {
        device: seal('device', shares.device),
        recovery: seal('recovery', shares.recovery),
      },
    };
    await assert.rejects(verifyWalletResponse(forged, user.privateKey));
  },
);
