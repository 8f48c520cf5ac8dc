/**
 * AWS Nitro Enclaves attestation documents recorded from real enclaves (blocky/nitrite
 * `internal/testdata`, evervault/attestation-doc-validation `test-data`; see
 * test/vectors/data/attestation/PROVENANCE.md), verified at their own timestamps (EXPECTED.md)
 * against the pinned AWS Nitro Enclaves Root-G1.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decode, encode } from 'cborg';
import { verifyEvidence, type EvidencePolicy } from '../../src/client/index.js';
import { ROOTS, bytes, codes, flipped, text } from './samples.js';

const PEM_ROOT = new TextEncoder().encode(text('roots/aws_nitro_enclaves_root_g1.pem'));

const SAMPLES = [
  {
    file: 'nitro_2024-09-07',
    now: 1725719859,
    pcr0: 'e72a46ca80a260fb044a125442f0c7e331813bcbaf9724d9f3857758992766f2d65710a27aa94ae3949dd54e7c9fe86a',
    debug: false,
    moduleId: 'i-0a22e5c5f24d22174-enc0191cceb4289903f',
  },
  {
    file: 'nitro_2022-10-13',
    now: 1665651482,
    pcr0: 'f4d48b81a460c9916d1e685119074bf24660afd3e34fae9fca0a0d28d9d5599936332687e6f66fc890ac8cf150142d8b',
    debug: false,
    moduleId: 'i-020b6af9246d90e92-enc0183d09086c24190',
  },
  {
    file: 'nitro_debug_2023-09-18',
    now: 1695049410,
    pcr0: '00'.repeat(48),
    debug: true,
    moduleId: 'i-0918f6c55e3b61d89-enc018aa8b8e2285d13',
  },
  {
    file: 'nitro_debug_2022-10-12',
    now: 1665582606,
    pcr0: '00'.repeat(48),
    debug: true,
    moduleId: 'i-03ad7cdb817437eeb-enc0183cc7569b3f6e1',
  },
];
type Sample = (typeof SAMPLES)[number];

const doc = (s: Sample) => bytes(`nitro/${s.file}.bin`);
const policy = (s: Sample, extra: Partial<EvidencePolicy> = {}): EvidencePolicy => ({
  acceptedMeasurements: [s.pcr0],
  pinnedRoots: { awsNitroRoot: ROOTS.aws },
  now: s.now,
  ...extra,
});
const nitro = (quote: Uint8Array) => ({ kind: 'nitro' as const, quote });

describe('nitro samples: genuine documents verify with the EXPECTED.md fields', () => {
  for (const s of SAMPLES.filter((x) => !x.debug)) {
    it(`${s.file}: valid, production`, async () => {
      const r = await verifyEvidence(nitro(doc(s)), policy(s));
      assert.deepEqual(r.reasons, []);
      assert.equal(r.ok, true);
      assert.equal(r.measurements.pcr0, s.pcr0);
      assert.equal(r.debug, false);
      assert.equal(r.evidenceTime, s.now);
      assert.equal(r.details.moduleId, s.moduleId);
      assert.equal(r.tcbStatus, null);
    });
  }

  it('nitro_2024-09-07: PCRs 1, 2, 4 and the 1024-byte fields, from .b64 and .bin alike', async () => {
    const s = SAMPLES[0]!;
    const fromB64 = new Uint8Array(Buffer.from(text('nitro/nitro_2024-09-07.b64'), 'base64'));
    const a = await verifyEvidence(nitro(fromB64), policy(s));
    const b = await verifyEvidence(nitro(doc(s)), policy(s));
    assert.deepEqual(a, b);
    assert.equal(
      a.measurements.pcr1,
      '0343b056cd8485ca7890ddd833476d78460aed2aa161548e4e26bedf321726696257d623e8805f3f605946b3d8b0c6aa',
    );
    assert.equal(
      a.measurements.pcr2,
      'd5dcbdea0aa39c802f9d55ced2ea6e4d74ecec5f08fe40c508882639c9090642669106a062a3e24ee2805a3024b9b75c',
    );
    assert.equal(
      a.measurements.pcr4,
      '45706d7b621e4620a332e147a5ddb000b049f73d47d3e61f6b03d2069152d4df6a4a786ad1c10102b955799a9dc96b44',
    );
    assert.equal(a.measurements.pcr3, '00'.repeat(48));
    assert.equal(a.reportData, '01'.repeat(1024));
    assert.equal(a.details.nonce, '01'.repeat(1024));
    assert.equal(a.details.publicKey, '01'.repeat(1024));
  });

  it('nitro_2022-10-13: PCR8 of the signed EIF, null public_key and user_data', async () => {
    const s = SAMPLES[1]!;
    const r = await verifyEvidence(nitro(doc(s)), policy(s));
    assert.equal(
      r.measurements.pcr8,
      '8790eb3cce6c83d07e84b126dc61ca923333d6f66615c4a79157de48c5ab2418bdc60746ea7b7afbff03a1c6210201cb',
    );
    assert.equal(r.reportData, null);
    assert.equal(r.details.publicKey, null);
  });

  it('the root may be pinned as PEM as well as DER', async () => {
    const s = SAMPLES[1]!;
    const r = await verifyEvidence(
      nitro(doc(s)),
      policy(s, { pinnedRoots: { awsNitroRoot: PEM_ROOT } }),
    );
    assert.equal(r.ok, true);
  });

  for (const s of SAMPLES.filter((x) => x.debug)) {
    it(`${s.file}: valid signature and chain, but debug: DEBUG_NOT_ALLOWED unless allowed`, async () => {
      const r = await verifyEvidence(nitro(doc(s)), policy(s));
      assert.deepEqual(codes(r), ['DEBUG_NOT_ALLOWED']);
      assert.equal(r.debug, true);
      const allowed = await verifyEvidence(nitro(doc(s)), policy(s, { allowDebug: true }));
      assert.equal(allowed.ok, true);
    });
  }

  it('nitro_debug_2022-10-12: public_key, user_data and a null nonce as recorded', async () => {
    const s = SAMPLES[3]!;
    const r = await verifyEvidence(nitro(doc(s)), policy(s, { allowDebug: true }));
    assert.equal(r.details.publicKey, Buffer.from('my super secret key').toString('hex'));
    assert.equal(r.reportData, Buffer.from('hello, world!').toString('hex'));
    assert.equal(r.details.nonce, null);
  });
});

describe('nitro samples: policy on nonce, user_data, public_key and age', () => {
  const s = SAMPLES[1]!;
  const nonce =
    'cb3dc2eb76c0c1344adf10cc4868591e5bb7fa4b4a8069e144762f71ea1d0017e23f89ba9db04eb26b20fca1a954447d5fb466067b06a6a22eed8100c73b398a4f85a099f8ffcf84c654485590158c7d966e8b09af224654f97f63ec07096c78925f961eff653fd4f3aff684f07f7505722be06316cf8c48d643a33aba4af214991708ab2ee1ee85d42d0ad218915a369d62a483e60538ed8d0fb3d7f34712d895b24bd971a425cbfa9efd2c5e9d511656064260f8faf9cf69c5306137e748d9bcddb4d0d3e01fba1acb9ca35ff11694ab32bd135effe00124ee939b0c21db78cf8e50e37ce0eed59e5e6322197addaed909dcc2bfe5195ed32567a64eb59db3';

  it('the expected nonce passes; another is NONCE_MISMATCH', async () => {
    assert.equal(
      (await verifyEvidence(nitro(doc(s)), policy(s, { expectedNonce: nonce }))).ok,
      true,
    );
    const r = await verifyEvidence(nitro(doc(s)), policy(s, { expectedNonce: 'ab'.repeat(32) }));
    assert.deepEqual(codes(r), ['NONCE_MISMATCH']);
  });

  it('expected report data against a null user_data is REPORT_DATA_MISMATCH; public_key likewise', async () => {
    assert.deepEqual(
      codes(await verifyEvidence(nitro(doc(s)), policy(s, { expectedReportData: '00' }))),
      ['REPORT_DATA_MISMATCH'],
    );
    assert.deepEqual(
      codes(await verifyEvidence(nitro(doc(s)), policy(s, { expectedPublicKey: '00' }))),
      ['PUBLIC_KEY_MISMATCH'],
    );
    const d = SAMPLES[3]!;
    const ok = await verifyEvidence(
      nitro(doc(d)),
      policy(d, {
        allowDebug: true,
        expectedReportData: new TextEncoder().encode('hello, world!'),
      }),
    );
    assert.equal(ok.ok, true);
  });

  it('maxAgeSeconds: fresh passes, old is TOO_OLD; a document from the future is refused', async () => {
    assert.equal((await verifyEvidence(nitro(doc(s)), policy(s, { maxAgeSeconds: 60 }))).ok, true);
    const old = await verifyEvidence(
      nitro(doc(s)),
      policy(s, { maxAgeSeconds: 60, now: s.now + 120 }),
    );
    assert.deepEqual(codes(old), ['TOO_OLD']);
    const future = await verifyEvidence(nitro(doc(s)), policy(s, { now: s.now - 3600 }));
    assert.ok(codes(future).includes('FROM_THE_FUTURE'));
  });

  it('a PCR0 outside the list is MEASUREMENT_NOT_ACCEPTED; pcr0+pcr8 entries pin the signer too', async () => {
    assert.deepEqual(
      codes(
        await verifyEvidence(nitro(doc(s)), policy(s, { acceptedMeasurements: ['ab'.repeat(48)] })),
      ),
      ['MEASUREMENT_NOT_ACCEPTED'],
    );
    const r = await verifyEvidence(nitro(doc(s)), policy(s));
    const entry = `pcr0=${r.measurements.pcr0},pcr8=${r.measurements.pcr8}`;
    assert.equal(
      (await verifyEvidence(nitro(doc(s)), policy(s, { acceptedMeasurements: [entry] }))).ok,
      true,
    );
  });
});

describe('nitro samples: tampering is refused with a distinct reason (EXPECTED.md table)', () => {
  it('every byte flip in a dense sample of each document is refused', async () => {
    for (const s of SAMPLES) {
      const d = doc(s);
      for (let at = 0; at < d.length; at += 41) {
        const r = await verifyEvidence(nitro(flipped(d, at)), policy(s, { allowDebug: true }));
        assert.equal(r.ok, false, `${s.file}: flip at ${at} accepted`);
      }
    }
  });

  it('a flipped PCR0 bit, module_id character or signature bit is SIGNATURE_INVALID', async () => {
    const s = SAMPLES[0]!;
    const d = doc(s);
    const pcr0At = Buffer.from(d).indexOf(Buffer.from(s.pcr0, 'hex'));
    const moduleAt = Buffer.from(d).indexOf(Buffer.from(s.moduleId));
    for (const at of [pcr0At, moduleAt + 3, d.length - 5]) {
      assert.ok(at > 0);
      const r = await verifyEvidence(
        nitro(flipped(d, at)),
        policy(s, { acceptedMeasurements: [] }),
      );
      assert.ok(codes(r).includes('SIGNATURE_INVALID'), `${at}: ${codes(r)}`);
    }
  });

  it('dropping the last 10 bytes is PARSE_ERROR', async () => {
    for (const s of SAMPLES) {
      const d = doc(s);
      assert.deepEqual(
        codes(await verifyEvidence(nitro(d.subarray(0, d.length - 10)), policy(s))),
        ['PARSE_ERROR'],
      );
    }
  });

  it('doc timestamp + 4 h, or today, is CERT_EXPIRED', async () => {
    for (const s of SAMPLES.slice(0, 2)) {
      for (const now of [s.now + 4 * 3600, 1795392000]) {
        const r = await verifyEvidence(nitro(doc(s)), policy(s, { now }));
        assert.deepEqual([...new Set(codes(r))], ['CERT_EXPIRED']);
      }
    }
  });

  it('the Intel root pinned instead of the AWS root, or none, is ROOT_NOT_PINNED', async () => {
    const s = SAMPLES[0]!;
    assert.deepEqual(
      codes(
        await verifyEvidence(
          nitro(doc(s)),
          policy(s, { pinnedRoots: { awsNitroRoot: ROOTS.intel } }),
        ),
      ),
      ['ROOT_NOT_PINNED'],
    );
    assert.deepEqual(codes(await verifyEvidence(nitro(doc(s)), policy(s, { pinnedRoots: {} }))), [
      'ROOT_NOT_PINNED',
    ]);
  });

  it('cabundle[0] replaced by another self-signed root is ROOT_NOT_PINNED', async () => {
    const s = SAMPLES[1]!;
    const cose = decode(doc(s), { useMaps: true }) as [
      Uint8Array,
      Map<never, never>,
      Uint8Array,
      Uint8Array,
    ];
    const payload = decode(cose[2], { useMaps: true }) as Map<string, unknown>;
    payload.set('cabundle', [ROOTS.intel, ...(payload.get('cabundle') as Uint8Array[]).slice(1)]);
    const forged = encode([cose[0], cose[1], encode(payload), cose[3]]);
    const r = await verifyEvidence(nitro(forged), policy(s));
    assert.ok(codes(r).includes('ROOT_NOT_PINNED'), String(codes(r)));
    assert.ok(codes(r).includes('SIGNATURE_INVALID'));
  });

  it('a protected header other than {1: -35} is PARSE_ERROR; COSE tag 18 is tolerated', async () => {
    const s = SAMPLES[1]!;
    const cose = decode(doc(s), { useMaps: true }) as [
      Uint8Array,
      Map<never, never>,
      Uint8Array,
      Uint8Array,
    ];
    const es256 = encode([encode(new Map([[1, -7]])), cose[1], cose[2], cose[3]]);
    assert.deepEqual(codes(await verifyEvidence(nitro(es256), policy(s))), ['PARSE_ERROR']);
    const tagged = new Uint8Array([0xd2, ...doc(s)]);
    assert.equal((await verifyEvidence(nitro(tagged), policy(s))).ok, true);
  });

  it('second attack review: the unsigned COSE envelope has one encoding (no indefinite lengths)', async () => {
    // cborg's strict mode refuses non-minimal lengths but takes indefinite-length arrays and
    // maps: the same document under another envelope verified, so envelope bytes were free.
    for (const s of SAMPLES.slice(0, 2)) {
      const d = doc(s);
      assert.equal(d[0], 0x84); // definite array of 4
      const indefiniteArray = new Uint8Array([0x9f, ...d.subarray(1), 0xff]);
      const at = 1 + 1 + d[1]! - 0x40; // the unprotected header: after the protected bstr
      assert.equal(d[at], 0xa0);
      const indefiniteMap = new Uint8Array([
        ...d.subarray(0, at),
        0xbf,
        0xff,
        ...d.subarray(at + 1),
      ]);
      for (const variant of [
        indefiniteArray,
        indefiniteMap,
        new Uint8Array([0xd2, ...indefiniteArray]),
      ]) {
        const r = await verifyEvidence(nitro(variant), policy(s));
        assert.deepEqual(codes(r), ['PARSE_ERROR'], s.file);
      }
      assert.equal((await verifyEvidence(nitro(d), policy(s))).ok, true);
    }
  });
});
