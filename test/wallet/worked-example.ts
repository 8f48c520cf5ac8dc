/**
 * Generates the worked example of docs/protocol/wallet-shares.md from fixed inputs, with the
 * production functions (test/wallet/docs-example.test.ts checks the doc still matches).
 * Run: node --import tsx test/wallet/worked-example.ts
 */
import { combine } from 'shamir-secret-sharing';
import { nodePrimitives } from '../../src/enclave/crypto/node-primitives.js';
import {
  deriveWalletDek,
  entropyCommitment,
  sealServerShare,
} from '../../src/enclave/wallet/server-share.js';
import { bytesToBase64, bytesToHex } from '../../src/protocol/encoding.js';
import { jcs } from '../../src/protocol/jcs.js';
import { computeBinds } from '../../src/protocol/wallet/binds.js';
import {
  INITIAL_ACCOUNTS,
  deriveAccounts,
  mnemonicFromEntropy,
  seedFromEntropy,
} from '../../src/protocol/wallet/derive.js';
import { sealShare } from '../../src/protocol/wallet/sealed-share.js';
import { gfMul } from './gf256.js';

const seq = (n: number, start = 0) => new Uint8Array(n).map((_, i) => (start + i) & 0xff);

export async function workedExample(): Promise<string> {
  const entropy = seq(32);
  const seed = seedFromEntropy(entropy);
  const accounts = deriveAccounts(seed, INITIAL_ACCOUNTS);

  // f(x) = entropy + a1·x over GF(2^8), byte by byte; Vault picks x at random, we fix it here.
  const a1 = seq(32, 0xa0);
  const shareAt = (x: number) => {
    const s = new Uint8Array(33);
    for (let i = 0; i < 32; i++) s[i] = entropy[i]! ^ gfMul(a1[i]!, x);
    s[32] = x;
    return s;
  };
  const [server, device, recovery] = [shareAt(0x11), shareAt(0x63), shareAt(0xc9)];
  const combined = await combine([device, recovery]);
  if (bytesToHex(combined) !== bytesToHex(entropy)) throw new Error('example does not combine');

  const walletId = '6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b';
  const userId = 'user-7f3a';
  const masterKey = new Uint8Array(32).fill(0x42);
  const commitment = entropyCommitment(walletId, entropy);
  const record = sealServerShare(
    masterKey,
    { userId, walletId, generation: 1 },
    server,
    commitment,
    { device: device[32]!, recovery: recovery[32]! },
    seq(12, 0x30),
  );

  const replyPriv = new Uint8Array(32).fill(0x11);
  const replyPub = nodePrimitives.x25519PublicKey(replyPriv);
  const plaintext = {
    wallet_id: walletId,
    kind: 'device' as const,
    share: bytesToBase64(device),
    threshold: 2 as const,
    shares: 3 as const,
    generation: 1,
  };
  const sealed = sealShare(nodePrimitives, replyPub, plaintext, {
    ephemeralPrivateKey: new Uint8Array(32).fill(0x22),
    nonce: seq(12, 0x50),
  });

  const body = {
    address: accounts[0]!.address,
    request: { type: 'eth_personal_sign', message: 'gm' },
  };
  const binds = computeBinds('sign', walletId, body);
  const walletShare = {
    purpose: 'wallet_share',
    wallet_id: walletId,
    kind: 'device',
    share: bytesToBase64(device),
    binds,
    issued_at: 1767225600,
  };

  const lines = [
    '```text',
    `entropy (32 bytes)     ${bytesToHex(entropy)}`,
    `mnemonic               ${mnemonicFromEntropy(entropy)}`,
    `BIP-39 seed            ${bytesToHex(seed)}`,
    ...accounts.map((a) => `${(a.chain + ' ' + a.path).padEnd(22)} ${a.address}`),
    '',
    `polynomial a1          ${bytesToHex(a1)}`,
    `server share   (x=0x11) ${bytesToHex(server)}`,
    `device share   (x=0x63) ${bytesToHex(device)}`,
    `recovery share (x=0xc9) ${bytesToHex(recovery)}`,
    '',
    `wallet master key      ${bytesToHex(masterKey)}`,
    `user id                ${userId}`,
    `wallet id              ${walletId}`,
    `DEK                    ${bytesToHex(deriveWalletDek(masterKey, userId))}`,
    `associated data        ${jcs({ generation: 1, user_id: userId, wallet_id: walletId })}`,
    `commitment             ${bytesToHex(commitment)}`,
    `server record          ${JSON.stringify(record)}`,
    '',
    `reply private key      ${bytesToHex(replyPriv)}`,
    `reply_pub              ${bytesToBase64(replyPub)}`,
    `ephemeral private key  ${bytesToHex(new Uint8Array(32).fill(0x22))}`,
    `share plaintext        ${JSON.stringify(plaintext)}`,
    `sealed device share    ${JSON.stringify(sealed)}`,
    '',
    `sign body (no share)   ${jcs(body)}`,
    `binds preimage         ${jcs({ action: 'sign', wallet_id: walletId, body })}`,
    `binds                  ${binds}`,
    `wallet_share plaintext ${JSON.stringify(walletShare)}`,
    '```',
  ];
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await workedExample());
}
