/**
 * `verifyPinnedChain` against chains made on the spot (attack review of the attestation
 * verifiers): a pinned test root, CAs with and without the right to issue, leaves signed by
 * another key under the same name, loops and duplicates. Real vendor chains are in the
 * `*-samples` tests.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { Reasons } from '../../src/client/attestation/policy.js';
import { verifyPinnedChain, x509 } from '../../src/client/attestation/x509-chain.js';

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const NOW = 1_800_000_000;
const FROM = new Date((NOW - 86_400) * 1000);
const TO = new Date((NOW + 86_400) * 1000);

interface Made {
  der: Uint8Array;
  keys: CryptoKeyPair;
  name: string;
}

let serial = 1;
async function make(
  name: string,
  issuer: Made | null,
  ext: { ca?: boolean; pathLength?: number; keyUsage?: x509.KeyUsageFlags } = {},
): Promise<Made> {
  const keys = (await crypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const extensions: x509.Extension[] = [];
  if (ext.ca !== undefined)
    extensions.push(new x509.BasicConstraintsExtension(ext.ca, ext.pathLength, true));
  if (ext.keyUsage !== undefined) extensions.push(new x509.KeyUsagesExtension(ext.keyUsage, true));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: (serial++).toString(16).padStart(2, '0'),
    subject: `CN=${name}`,
    issuer: `CN=${issuer ? issuer.name : name}`,
    notBefore: FROM,
    notAfter: TO,
    signingAlgorithm: ALG,
    publicKey: keys.publicKey,
    signingKey: (issuer ?? { keys }).keys.privateKey,
    extensions,
  });
  return { der: new Uint8Array(cert.rawData), keys, name };
}

const CA_USAGE = x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign;

async function check(chain: Made[], root: Made): Promise<string[]> {
  const reasons = new Reasons();
  const v = await verifyPinnedChain(
    {
      label: 'test chain',
      chain: [...chain.map((c) => c.der), root.der],
      pinned: [root.der],
      rootInChain: true,
      now: NOW,
    },
    reasons,
  );
  assert.equal(v === null, !reasons.empty, 'a result exactly when there is no reason');
  return reasons.list.map((r) => r.code);
}

describe('verifyPinnedChain: chain tricks', () => {
  let root: Made;
  before(async () => {
    root = await make('Test Root', null, { ca: true, keyUsage: CA_USAGE });
  });

  it('a well-formed leaf ← CA ← pinned root verifies', async () => {
    const ca = await make('Test CA', root, { ca: true, pathLength: 0, keyUsage: CA_USAGE });
    const leaf = await make('Leaf', ca, { keyUsage: x509.KeyUsageFlags.digitalSignature });
    assert.deepEqual(await check([leaf, ca], root), []);
  });

  it('an issuer that is not a CA (no basicConstraints, or cA false) is CERT_CHAIN_INVALID', async () => {
    for (const ext of [{}, { ca: false }]) {
      const notCa = await make('Not A CA', root, ext);
      const leaf = await make('Leaf', notCa);
      assert.deepEqual(await check([leaf, notCa], root), ['CERT_CHAIN_INVALID']);
    }
  });

  it('a CA whose keyUsage lacks keyCertSign issues nothing: CERT_CHAIN_INVALID', async () => {
    const ca = await make('Signing Only CA', root, {
      ca: true,
      keyUsage: x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.cRLSign,
    });
    const leaf = await make('Leaf', ca);
    assert.deepEqual(await check([leaf, ca], root), ['CERT_CHAIN_INVALID']);
  });

  it('a CA with pathLen 0 may not issue another CA: CERT_CHAIN_INVALID', async () => {
    const ca = await make('Platform CA', root, { ca: true, pathLength: 0, keyUsage: CA_USAGE });
    const sub = await make('Sub CA', ca, { ca: true, keyUsage: CA_USAGE });
    const leaf = await make('Leaf', sub);
    assert.deepEqual(await check([leaf, sub, ca], root), ['CERT_CHAIN_INVALID']);
    // pathLen 1 allows exactly that one.
    const ca1 = await make('Platform CA', root, { ca: true, pathLength: 1, keyUsage: CA_USAGE });
    const sub1 = await make('Sub CA', ca1, { ca: true, keyUsage: CA_USAGE });
    const leaf1 = await make('Leaf', sub1);
    assert.deepEqual(await check([leaf1, sub1, ca1], root), []);
  });

  it('a leaf signed by another key under the same issuer name is CERT_CHAIN_INVALID', async () => {
    const ca = await make('Test CA', root, { ca: true, keyUsage: CA_USAGE });
    const impostor = await make('Test CA', root, { ca: true, keyUsage: CA_USAGE });
    const leaf = await make('Leaf', impostor);
    assert.deepEqual(await check([leaf, ca], root), ['CERT_CHAIN_INVALID']);
  });

  it('a duplicated CA, a loop, and a wrong root are refused', async () => {
    const ca = await make('Test CA', root, { ca: true, keyUsage: CA_USAGE });
    const leaf = await make('Leaf', ca);
    assert.deepEqual(await check([leaf, ca, ca], root), ['CERT_CHAIN_INVALID']);
    assert.deepEqual(await check([leaf, ca, leaf, ca], root), ['CERT_CHAIN_INVALID']);
    const other = await make('Test Root', null, { ca: true, keyUsage: CA_USAGE });
    const reasons = new Reasons();
    await verifyPinnedChain(
      {
        label: 'x',
        chain: [leaf.der, ca.der, other.der],
        pinned: [root.der],
        rootInChain: true,
        now: NOW,
      },
      reasons,
    );
    assert.deepEqual(
      reasons.list.map((r) => r.code),
      ['ROOT_NOT_PINNED'],
    );
  });

  it('a certificate with trailing bytes after its DER does not parse: CERT_CHAIN_INVALID', async () => {
    const ca = await make('Test CA', root, { ca: true, keyUsage: CA_USAGE });
    const leaf = await make('Leaf', ca);
    const padded = { ...leaf, der: new Uint8Array([...leaf.der, 0]) };
    assert.deepEqual(await check([padded, ca], root), ['CERT_CHAIN_INVALID']);
  });

  it('expired and not-yet-valid at the verifier clock are CERT_EXPIRED', async () => {
    const ca = await make('Test CA', root, { ca: true, keyUsage: CA_USAGE });
    const leaf = await make('Leaf', ca);
    for (const now of [NOW - 2 * 86_400, NOW + 2 * 86_400]) {
      const reasons = new Reasons();
      await verifyPinnedChain(
        {
          label: 'x',
          chain: [leaf.der, ca.der, root.der],
          pinned: [root.der],
          rootInChain: true,
          now,
        },
        reasons,
      );
      assert.ok(reasons.has('CERT_EXPIRED'));
    }
  });
});
