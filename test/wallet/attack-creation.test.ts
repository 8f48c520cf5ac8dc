/**
 * Attack review (issue 14): a host that fabricates the whole creation response. Sealing a share
 * needs only the client's public `reply_pub`, so the host can draw entropy of its own, split
 * it, seal both shares to the user and list the addresses they give: the address check alone
 * passes, and the host knows the key of the wallet the user then funds. The enclave therefore
 * signs every split with its attested result key, and the SDK given that key refuses a response
 * without a valid signature. Tried against the real service.
 */
import { strict as assert } from 'node:assert';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { noblePrimitives } from '../../src/client/noble-primitives.js';
import { newReplyKeyPair } from '../../src/client/wallet/open-share.js';
import { verifyWalletResponse, type CreationResponse } from '../../src/client/wallet/shares.js';
import { splitEntropy } from '../../src/enclave/wallet/split.js';
import { base64ToBytes, bytesToBase64 } from '../../src/protocol/encoding.js';
import {
  INITIAL_ACCOUNTS,
  deriveAccounts,
  seedFromEntropy,
} from '../../src/protocol/wallet/derive.js';
import { sealShare } from '../../src/protocol/wallet/sealed-share.js';
import { verifiedAttestation } from '../helpers/client.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { api, newUser, withShare, type User } from './service-helpers.js';

/** What a host can make with no enclave: a wallet of its own, sealed to the user's reply key. */
async function forge(replyPub: string, walletId: string, generation = 1) {
  const entropy = Uint8Array.from(randomBytes(32));
  const shares = await splitEntropy(entropy);
  const seal = (kind: 'device' | 'recovery', share: Uint8Array) =>
    sealShare(noblePrimitives, base64ToBytes(replyPub), {
      wallet_id: walletId,
      kind,
      share: bytesToBase64(share),
      threshold: 2,
      shares: 3,
      generation,
    });
  return {
    wallet_id: walletId,
    generation,
    accounts: deriveAccounts(seedFromEntropy(entropy), INITIAL_ACCOUNTS),
    shares: { device: seal('device', shares.device), recovery: seal('recovery', shares.recovery) },
  };
}

describe('a creation response the host made up', { concurrency: false }, () => {
  let ts: TestService;
  let alice: User;
  let resultsKey: string;

  before(async () => {
    ts = await startTestService('pglite', {
      AUTH_DISABLED_FOR_DEVELOPMENT: 'false',
      AUTH_REGISTER_MAX_PER_IP: '100000',
      AUTH_LOGIN_MAX_PER_IP: '100000',
    });
    alice = await newUser(ts);
    resultsKey = (await verifiedAttestation(ts)).verification.signingKeys!.results;
  });
  after(async () => {
    await ts?.stop();
  });

  it('is refused by the SDK given the attested result key; the enclave’s own is accepted', async () => {
    const user = newReplyKeyPair();
    const forged = await forge(user.replyPub, randomUUID());
    // Without the key, the address check alone is fooled (why the key must be passed).
    await verifyWalletResponse(forged, user.privateKey);
    await assert.rejects(
      verifyWalletResponse(forged, user.privateKey, { generation: 1, resultsKey }),
      {
        code: 'WALLET_CREATION_MISMATCH',
      },
    );

    const kp = newReplyKeyPair();
    const res = await api(ts, alice)('POST', '/wallets', { reply_pub: kp.replyPub });
    assert.equal(res.statusCode, 201, res.body);
    const genuine = res.json() as CreationResponse;
    const opened = await verifyWalletResponse(genuine, kp.privateKey, {
      generation: 1,
      resultsKey,
    });

    // The genuine signature does not carry over to another reply key, wallet id or share.
    const other = newReplyKeyPair();
    const mixed = {
      ...(await forge(other.replyPub, genuine.wallet_id)),
      split_signature: genuine.split_signature!,
    };
    await assert.rejects(
      verifyWalletResponse(mixed, other.privateKey, { generation: 1, resultsKey }),
      {
        code: 'WALLET_CREATION_MISMATCH',
      },
    );

    // A reshare is signed too.
    const kp2 = newReplyKeyPair();
    const body = await withShare(ts, genuine.wallet_id, 'device', opened.device.share, 'reshare', {
      reply_pub: kp2.replyPub,
    });
    const reshared = await api(ts, alice)('POST', `/wallets/${genuine.wallet_id}/reshare`, body);
    assert.equal(reshared.statusCode, 200, reshared.body);
    await verifyWalletResponse(reshared.json(), kp2.privateKey, {
      generation: 2,
      accounts: genuine.accounts,
      resultsKey,
      authorizedBy: opened.device.share,
    });
  });
});
