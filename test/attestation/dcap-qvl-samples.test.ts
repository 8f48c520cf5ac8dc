/**
 * Intel SGX (v3) and TDX (v4, v5) quotes recorded from real hardware, with Intel PCS collateral
 * (Phala-Network/dcap-qvl `sample/`, google/go-tdx-guest `testing/testdata/`; see
 * test/vectors/data/attestation/PROVENANCE.md), verified at the times in EXPECTED.md. Every
 * accepted field is asserted, and every tampering EXPECTED.md lists is refused with its code.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { verifyEvidence } from '../../src/client/index.js';
import { canonicalPem, parseStrictPemCertificates } from '../../src/client/attestation/pem.js';
import { tdxModuleStatus, worseTcbStatus } from '../../src/client/attestation/dcap.js';
import { Reasons } from '../../src/client/attestation/policy.js';
import { x509 } from '../../src/client/attestation/x509-chain.js';
import {
  DCAP_SAMPLES,
  MARCH_2026,
  ROOTS,
  bytes,
  codes,
  dcapPolicy,
  flipped,
  json,
  type DcapSample,
} from './samples.js';

const pemBlocksOf = (text: string): Uint8Array[] => parseStrictPemCertificates(text)!;

const load = (s: DcapSample) => ({
  kind: s.kind,
  quote: bytes(s.quote),
  collateral: json(s.collateral),
});

describe('dcap-qvl samples: genuine quotes verify with the EXPECTED.md fields', () => {
  for (const s of DCAP_SAMPLES) {
    it(`${s.name} is valid, ${s.status}`, async () => {
      const r = await verifyEvidence(load(s), dcapPolicy(s));
      assert.deepEqual(r.reasons, []);
      assert.equal(r.ok, true);
      assert.equal(r.platform, s.kind);
      assert.equal(r.tcbStatus, s.status);
      assert.deepEqual(r.details.advisoryIds, s.advisories);
      assert.equal(r.reportData, s.reportData);
      assert.equal(r.debug, false);
      assert.equal(r.evidenceTime, null);
      assert.equal(r.measurements[s.kind === 'tdx' ? 'mrtd' : 'mrenclave'], s.primary);
    });
  }

  it('the Intel root may be pinned as PEM bytes as well as DER', async () => {
    const s = DCAP_SAMPLES[1]!;
    const pem = `-----BEGIN CERTIFICATE-----\n${Buffer.from(ROOTS.intel).toString('base64')}\n-----END CERTIFICATE-----\n`;
    const r = await verifyEvidence(
      load(s),
      dcapPolicy(s, { pinnedRoots: { intelSgxRootCa: new TextEncoder().encode(pem) } }),
    );
    assert.equal(r.ok, true);
  });

  it('sgx_quote_v3: MRSIGNER, attributes, FMSPC and the QE as recorded', async () => {
    const s = DCAP_SAMPLES[0]!;
    const r = await verifyEvidence(load(s), dcapPolicy(s));
    assert.equal(
      r.measurements.mrsigner,
      '815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6',
    );
    assert.equal(r.details.attributes, '0500000000000000e700000000000000');
    assert.equal(r.details.fmspc, '00A067110000');
    assert.equal(r.details.quoteVersion, 3);
  });

  it('tdx_quote_v4: RTMRs, MRSEAM and TD attributes as recorded', async () => {
    const s = DCAP_SAMPLES[1]!;
    const r = await verifyEvidence(load(s), dcapPolicy(s));
    assert.equal(
      r.measurements.rtmr0,
      '44c0197b39157fdd7a4dcc44767f9d6b0bb3977c7a8e347b8492f827fe9d9e5c48aca29b220b80b6a540cf994b9bc9c0',
    );
    assert.equal(r.measurements.rtmr3, '00'.repeat(48));
    assert.equal(
      r.measurements.mrseam,
      '5b38e33a6487958b72c3c12a938eaa5e3fd4510c51aeeab58c7d5ecee41d7c436489d6c8e4f92f160b7cad34207b00c1',
    );
    assert.equal(r.details.tdAttributes, '0000001000000000');
    assert.equal(r.details.fmspc, 'B0C06F000000');
  });

  it('tdx_quote_v5: a TD 1.5 body, MRSERVICETD zero, TEE_TCB_SVN2 as recorded', async () => {
    const s = DCAP_SAMPLES[2]!;
    const r = await verifyEvidence(load(s), dcapPolicy(s));
    assert.equal(r.details.quoteVersion, 5);
    assert.equal(r.measurements.mrservicetd, '00'.repeat(48));
    assert.equal(r.details.teeTcbSvn2, '0d010400000000000000000000000000');
  });

  it('tdx_quote_v5_no_tcb_level: everything signs, but no TCB level matches: TCB_NOT_SUPPORTED', async () => {
    const r = await verifyEvidence(
      {
        kind: 'tdx',
        quote: bytes('tdx/tdx_quote_v5_no_tcb_level.bin'),
        collateral: json('tdx/fmspc_90C06F000000.collateral.json'),
      },
      {
        acceptedMeasurements: [
          '273828c46252fcbdd8ad2dd907130222b03466d52a2911d70c1a5950895d6bd1ae451d382d5a9b1b4c0ed0e5ae9a3dbd',
        ],
        pinnedRoots: { intelSgxRootCa: ROOTS.intel },
        now: MARCH_2026,
      },
    );
    assert.equal(r.ok, false);
    assert.deepEqual(codes(r), ['TCB_NOT_SUPPORTED']);
    assert.equal(r.tcbStatus, null);
  });
});

describe('dcap-qvl samples: measurements and policy', () => {
  const s = DCAP_SAMPLES[1]!;
  it('accepts any measurement of the list (rolling upgrade), refuses one outside it', async () => {
    const ok = await verifyEvidence(
      load(s),
      dcapPolicy(s, { acceptedMeasurements: ['ab'.repeat(48), s.primary] }),
    );
    assert.equal(ok.ok, true);
    const no = await verifyEvidence(
      load(s),
      dcapPolicy(s, { acceptedMeasurements: ['ab'.repeat(48)] }),
    );
    assert.deepEqual(codes(no), ['MEASUREMENT_NOT_ACCEPTED']);
    const none = await verifyEvidence(load(s), dcapPolicy(s, { acceptedMeasurements: [] }));
    assert.deepEqual(codes(none), ['MEASUREMENT_NOT_ACCEPTED']);
  });

  it('name=value entries pin MRTD and RTMRs together', async () => {
    const r = await verifyEvidence(load(s), dcapPolicy(s));
    const entry = `mrtd=${r.measurements.mrtd},rtmr0=${r.measurements.rtmr0},rtmr3=${r.measurements.rtmr3}`;
    assert.equal(
      (await verifyEvidence(load(s), dcapPolicy(s, { acceptedMeasurements: [entry] }))).ok,
      true,
    );
    const wrong = entry.replace(/rtmr3=0/, 'rtmr3=1');
    assert.deepEqual(
      codes(await verifyEvidence(load(s), dcapPolicy(s, { acceptedMeasurements: [wrong] }))),
      ['MEASUREMENT_NOT_ACCEPTED'],
    );
  });

  it('report data: the expected value (zero-padded) passes, any other is REPORT_DATA_MISMATCH', async () => {
    const sgx = DCAP_SAMPLES[0]!;
    const hello = new TextEncoder().encode('Hello, world!');
    assert.equal(
      (await verifyEvidence(load(sgx), dcapPolicy(sgx, { expectedReportData: hello }))).ok,
      true,
    );
    assert.equal(
      (await verifyEvidence(load(sgx), dcapPolicy(sgx, { expectedReportData: sgx.reportData }))).ok,
      true,
    );
    const r = await verifyEvidence(
      load(sgx),
      dcapPolicy(sgx, { expectedReportData: 'ff'.repeat(64) }),
    );
    assert.deepEqual(codes(r), ['REPORT_DATA_MISMATCH']);
    const tooLong = await verifyEvidence(
      load(sgx),
      dcapPolicy(sgx, { expectedReportData: new Uint8Array(65) }),
    );
    assert.deepEqual(codes(tooLong), ['REPORT_DATA_MISMATCH']);
  });

  it('minTcbStatus: ConfigurationAndSWHardeningNeeded is below UpToDate, and meets itself', async () => {
    const sgx = DCAP_SAMPLES[0]!;
    const strict = await verifyEvidence(load(sgx), dcapPolicy(sgx, { minTcbStatus: 'UpToDate' }));
    assert.deepEqual(codes(strict), ['TCB_STATUS_BELOW_MINIMUM']);
    const lax = await verifyEvidence(
      load(sgx),
      dcapPolicy(sgx, { minTcbStatus: 'ConfigurationAndSWHardeningNeeded' }),
    );
    assert.equal(lax.ok, true);
  });

  it('DCAP quotes carry no time: maxAgeSeconds cannot be proven (FRESHNESS_UNPROVEN)', async () => {
    const r = await verifyEvidence(load(s), dcapPolicy(s, { maxAgeSeconds: 300 }));
    assert.deepEqual(codes(r), ['FRESHNESS_UNPROVEN']);
  });

  it('a debug enclave is refused: DEBUG_NOT_ALLOWED (with the signature broken by the flip)', async () => {
    const sgx = DCAP_SAMPLES[0]!;
    // ATTRIBUTES.FLAGS is at body offset 48 → quote offset 96; bit 1 is DEBUG.
    const q = flipped(bytes(sgx.quote), 96, 0x02);
    const r = await verifyEvidence({ ...load(sgx), quote: q }, dcapPolicy(sgx));
    assert.equal(r.debug, true);
    assert.ok(codes(r).includes('DEBUG_NOT_ALLOWED'));
    assert.ok(codes(r).includes('SIGNATURE_INVALID'));
    const td = flipped(bytes(s.quote), 48 + 120, 0x01); // TD_ATTRIBUTES.TUD.DEBUG
    const t = await verifyEvidence({ ...load(s), quote: td }, dcapPolicy(s, { allowDebug: true }));
    assert.equal(t.debug, true);
    assert.ok(codes(t).includes('SIGNATURE_INVALID'));
  });
});

describe('dcap-qvl samples: tampering is refused with a distinct reason', () => {
  it('every byte flip in a dense sample of each quote is refused', async () => {
    for (const s of DCAP_SAMPLES) {
      const quote = bytes(s.quote);
      const end = s.signedLength + 4 + new DataView(quote.buffer).getUint32(s.signedLength, true);
      const offsets = new Set<number>([s.reportDataAt, s.measurementAt, s.signedLength + 14]);
      for (let i = 0; i < end; i += 41) offsets.add(i);
      for (let i = 0; i < 48; i++) offsets.add(i); // the whole header
      for (const at of offsets) {
        const r = await verifyEvidence({ ...load(s), quote: flipped(quote, at) }, dcapPolicy(s));
        assert.equal(r.ok, false, `${s.name}: flip at ${at} was accepted`);
      }
    }
  });

  it('a flip of report data, MRENCLAVE/MRTD or the quote signature is SIGNATURE_INVALID', async () => {
    for (const s of DCAP_SAMPLES) {
      for (const at of [s.reportDataAt, s.measurementAt, s.signedLength + 14]) {
        const r = await verifyEvidence(
          { ...load(s), quote: flipped(bytes(s.quote), at) },
          dcapPolicy(s),
        );
        assert.ok(codes(r).includes('SIGNATURE_INVALID'), `${s.name} @${at}: ${codes(r)}`);
      }
    }
  });

  it('a truncated quote is PARSE_ERROR; zero padding is tolerated, other trailing bytes are not', async () => {
    for (const s of DCAP_SAMPLES) {
      const quote = bytes(s.quote);
      for (const cut of [
        quote.subarray(0, 1000),
        quote.subarray(0, quote.length - 100),
        quote.subarray(0, 47),
      ]) {
        const r = await verifyEvidence({ ...load(s), quote: cut }, dcapPolicy(s));
        assert.deepEqual(codes(r), ['PARSE_ERROR'], s.name);
      }
    }
    const v4 = DCAP_SAMPLES[1]!;
    const padded = bytes(v4.quote);
    assert.equal(padded.length, 5006); // 70 zero bytes after the declared end (EXPECTED.md)
    assert.equal((await verifyEvidence(load(v4), dcapPolicy(v4))).ok, true);
    const dirty = flipped(padded, padded.length - 1);
    assert.deepEqual(codes(await verifyEvidence({ ...load(v4), quote: dirty }, dcapPolicy(v4))), [
      'PARSE_ERROR',
    ]);
  });

  it('unsigned length and type fields are pinned: signature-data length, outer cert type (sweep find)', async () => {
    for (const s of DCAP_SAMPLES) {
      const at = [s.signedLength, s.signedLength + 4 + 128, s.signedLength + 4 + 129];
      for (const i of at) {
        for (const mask of [0x01, 0x80]) {
          const r = await verifyEvidence(
            { ...load(s), quote: flipped(bytes(s.quote), i, mask) },
            dcapPolicy(s),
          );
          assert.equal(r.ok, false, `${s.name} @${i}^${mask}`);
        }
      }
    }
  });

  it('the unsigned PCK chain text must be canonical: a NUL turned newline is PARSE_ERROR (fuzz find)', async () => {
    const s = DCAP_SAMPLES[0]!;
    const quote = bytes(s.quote); // the cert data, NUL-terminated, ends the quote
    assert.equal(quote[quote.length - 1], 0);
    for (const b of [0x0a, 0x0d, 0x20, 0x41]) {
      const q = quote.slice();
      q[q.length - 1] = b;
      assert.deepEqual(codes(await verifyEvidence({ ...load(s), quote: q }, dcapPolicy(s))), [
        'PARSE_ERROR',
      ]);
    }
    const lf = Buffer.from(quote).lastIndexOf(0x0a, quote.length - 30); // a line end inside base64
    const crlf = flipped(quote, lf, 0x0a ^ 0x0d);
    assert.deepEqual(codes(await verifyEvidence({ ...load(s), quote: crlf }, dcapPolicy(s))), [
      'PARSE_ERROR',
    ]);
  });

  it('a byte appended to a PCK certificate inside the canonical PEM is refused (attack review)', async () => {
    // The PEM text is canonical, but a DER certificate followed by a stray byte still parsed in
    // x509-chain.ts (the library reads the first object); only dcap-qvl's OpenSSL refused it.
    const s = DCAP_SAMPLES[0]!; // v3: ... u16 authLen auth u16 type u32 size data (the end)
    const quote = bytes(s.quote);
    const view = new DataView(quote.buffer, quote.byteOffset, quote.length);
    const authLenAt = s.signedLength + 4 + 128 + 384 + 64;
    const typeAt = authLenAt + 2 + view.getUint16(authLenAt, true);
    const pem = Buffer.from(quote.subarray(typeAt + 6))
      .toString('latin1')
      .replace(/\0$/, '');
    const ders = pemBlocksOf(pem);
    assert.equal(canonicalPem(ders), pem);
    const grown = [new Uint8Array([...ders[0]!, 0]), ...ders.slice(1)];
    const data = Buffer.from(canonicalPem(grown) + '\0', 'latin1');
    const out = new Uint8Array(typeAt + 6 + data.length);
    out.set(quote.subarray(0, typeAt + 2));
    const outView = new DataView(out.buffer);
    outView.setUint32(typeAt + 2, data.length, true);
    out.set(data, typeAt + 6);
    outView.setUint32(s.signedLength, out.length - (s.signedLength + 4), true);
    const r = await verifyEvidence({ ...load(s), quote: out }, dcapPolicy(s));
    // Refused by our own parser (CERT_CHAIN_INVALID), not only by dcap-qvl's OpenSSL by accident.
    assert.ok(codes(r).includes('CERT_CHAIN_INVALID'), JSON.stringify(r.reasons));
  });

  it('TDX module identity and TCB level are checked (attack review: dcap-qvl reads neither)', async () => {
    const [, v4, v5] = DCAP_SAMPLES as [DcapSample, DcapSample, DcapSample];
    for (const s of [v4, v5]) {
      const r = await verifyEvidence(load(s), dcapPolicy(s));
      assert.equal(r.ok, true, s.name);
      assert.equal(r.details.tdxModuleTcbStatus, 'UpToDate', s.name);
    }
    // MRSIGNERSEAM (v4 body at 48: TEE_TCB_SVN 16, MRSEAM 48, then MRSIGNERSEAM): not Intel's.
    const foreign = await verifyEvidence(
      { ...load(v4), quote: flipped(bytes(v4.quote), 48 + 16 + 48) },
      dcapPolicy(v4),
    );
    assert.ok(
      foreign.reasons.some(
        (x) => x.code === 'COLLATERAL_MISMATCH' && /MRSIGNERSEAM/.test(x.message),
      ),
      JSON.stringify(foreign.reasons),
    );
    // A module ISVSVN (TEE_TCB_SVN[0], v5 body at 54) that TDX_01 lists as OutOfDate: the
    // platform level alone said UpToDate.
    const old = await verifyEvidence(
      { ...load(v5), quote: flipped(bytes(v5.quote), 54, 0x0b ^ 0x05) },
      dcapPolicy(v5),
    );
    assert.equal(old.details.tdxModuleTcbStatus, 'OutOfDate');
  });

  it('tdxModuleStatus and worseTcbStatus on the FMSPC 90C06F000000 TCB info', () => {
    const tcbInfo = json('tdx/fmspc_90C06F000000.collateral.json').tcb_info as string;
    const td = (svn0: number, major: number, signer = 0) => ({
      teeTcbSvn: new Uint8Array([svn0, major, 4, ...new Array<number>(13).fill(0)]),
      mrSignerSeam: new Uint8Array(48).fill(signer),
      seamAttributes: new Uint8Array(8),
    });
    const run = (t: ReturnType<typeof td>) => {
      const reasons = new Reasons();
      const v = tdxModuleStatus(t, tcbInfo, reasons);
      return v ? v.status : reasons.list.map((r) => r.code).join();
    };
    assert.equal(run(td(0x0b, 1)), 'UpToDate');
    assert.equal(run(td(6, 1)), 'UpToDate');
    assert.equal(run(td(5, 1)), 'OutOfDate');
    assert.equal(run(td(1, 1)), 'TCB_NOT_SUPPORTED');
    assert.equal(run(td(3, 3)), 'UpToDate');
    assert.equal(run(td(9, 2)), 'TCB_NOT_SUPPORTED'); // no TDX_02 identity
    assert.equal(run(td(9, 0)), 'UpToDate'); // major 0: tdxModule, no levels
    assert.equal(run(td(0x0b, 1, 1)), 'COLLATERAL_MISMATCH');
    for (const bad of ['null', '[]', '"x"', '{'])
      assert.equal(tdxModuleStatus(td(6, 1), bad, new Reasons()), null, bad);
    assert.equal(worseTcbStatus('UpToDate', 'OutOfDate'), 'OutOfDate');
    assert.equal(
      worseTcbStatus('ConfigurationNeeded', 'OutOfDate'),
      'OutOfDateConfigurationNeeded',
    );
    assert.equal(worseTcbStatus('SWHardeningNeeded', 'UpToDate'), 'SWHardeningNeeded');
    assert.equal(worseTcbStatus('UpToDate', 'Revoked'), 'Revoked');
  });

  it("revocation: a PCK CRL listing the PCK certificate is CERT_REVOKED; another CA's CRL is refused", async () => {
    const s = DCAP_SAMPLES[0]!;
    const c = json(s.collateral);
    const quote = bytes(s.quote);
    const pem = Buffer.from(quote).toString('latin1');
    const pck = new x509.X509Certificate(
      new Uint8Array(
        pemBlocksOf(pem.slice(pem.indexOf('-----BEGIN'), pem.lastIndexOf('-----') + 5) + '\n')[0]!,
      ),
    );
    // A CRL in the PCK CA's name that lists this PCK (signed by a key of ours: the signature
    // is refused too, but the revocation must be read whatever else fails).
    const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
    const keys = (await crypto.subtle.generateKey(alg, false, ['sign', 'verify'])) as CryptoKeyPair;
    const crl = await x509.X509CrlGenerator.create({
      issuer: pck.issuer,
      thisUpdate: new Date((s.now - 86_400) * 1000),
      nextUpdate: new Date((s.now + 86_400) * 1000),
      entries: [
        { serialNumber: pck.serialNumber, revocationDate: new Date((s.now - 3600) * 1000) },
      ],
      signingAlgorithm: alg,
      signingKey: keys.privateKey,
    });
    const revoked = await verifyEvidence(
      { ...load(s), collateral: { ...c, pck_crl: Buffer.from(crl.rawData).toString('hex') } },
      dcapPolicy(s),
    );
    assert.ok(codes(revoked).includes('CERT_REVOKED'), JSON.stringify(revoked.reasons));
    assert.ok(codes(revoked).includes('COLLATERAL_INVALID'));
    // The root CA's CRL served as the PCK CRL (genuine, signed, current, lists nothing of ours).
    const swapped = await verifyEvidence(
      { ...load(s), collateral: { ...c, pck_crl: c.root_ca_crl } },
      dcapPolicy(s),
    );
    assert.ok(codes(swapped).includes('COLLATERAL_MISMATCH'), JSON.stringify(swapped.reasons));
  });

  it('second attack review: TCB info and QE identity signed under any other Intel certificate are refused', async () => {
    // An attacker who extracted a PCK key from an out-of-date platform (what OutOfDate warns
    // of) could sign TCB levels grading that platform UpToDate: the PCK chain ends in the
    // pinned root too. Only the TCB Signing certificate, issued by the root itself, may sign.
    const signer = /issuer chain: the signer is not the Intel SGX TCB Signing certificate/;
    for (const s of DCAP_SAMPLES) {
      const c = json(s.collateral);
      const pem = Buffer.from(bytes(s.quote)).toString('latin1');
      const pckChain = pem.slice(pem.indexOf('-----BEGIN'), pem.lastIndexOf('-----') + 5) + '\n';
      for (const chain of [pckChain, c.pck_crl_issuer_chain as string])
        for (const field of ['tcb_info_issuer_chain', 'qe_identity_issuer_chain']) {
          const r = await verifyEvidence(
            { ...load(s), collateral: { ...c, [field]: chain } },
            dcapPolicy(s),
          );
          assert.equal(r.ok, false);
          assert.ok(
            r.reasons.some((x) => x.code === 'COLLATERAL_INVALID' && signer.test(x.message)),
            `${s.name} ${field}: ${JSON.stringify(r.reasons)}`,
          );
        }
      const genuine = await verifyEvidence(load(s), dcapPolicy(s));
      assert.ok(!genuine.reasons.some((x) => signer.test(x.message)), s.name);
    }
  });

  it('a swapped root (the AWS root pinned instead of Intel), or none, is ROOT_NOT_PINNED', async () => {
    for (const s of DCAP_SAMPLES) {
      const r = await verifyEvidence(
        load(s),
        dcapPolicy(s, { pinnedRoots: { intelSgxRootCa: ROOTS.aws } }),
      );
      assert.equal(r.ok, false);
      assert.ok(codes(r).includes('ROOT_NOT_PINNED'), `${s.name}: ${codes(r)}`);
      const none = await verifyEvidence(load(s), dcapPolicy(s, { pinnedRoots: {} }));
      assert.deepEqual(codes(none), ['ROOT_NOT_PINNED']);
    }
  });

  it('expired or not-yet-valid collateral is COLLATERAL_EXPIRED', async () => {
    for (const s of DCAP_SAMPLES) {
      const after = await verifyEvidence(load(s), dcapPolicy(s, { now: 1798761600 })); // 2027-01-01
      assert.ok(codes(after).includes('COLLATERAL_EXPIRED'), `${s.name}: ${codes(after)}`);
      const tcbInfo = JSON.parse(json(s.collateral).tcb_info as string) as { issueDate: string };
      const before = Date.parse(tcbInfo.issueDate) / 1000 - 86400;
      const early = await verifyEvidence(load(s), dcapPolicy(s, { now: before }));
      assert.ok(codes(early).includes('COLLATERAL_EXPIRED'), `${s.name}: ${codes(early)}`);
    }
  });

  it('a PCK CRL past its nextUpdate is COLLATERAL_EXPIRED even while TCB info is current', async () => {
    // tdx_quote_v5's window is bounded by the PCK CRL nextUpdate 2026-03-20T10:41:15Z.
    const s = DCAP_SAMPLES[2]!;
    const r = await verifyEvidence(
      load(s),
      dcapPolicy(s, { now: Date.parse('2026-03-20T12:00:00Z') / 1000 }),
    );
    assert.ok(codes(r).includes('COLLATERAL_EXPIRED'), String(codes(r)));
  });

  it('collateral tampering: tcb_info whitespace, QE identity signature, CRL signature', async () => {
    const s = DCAP_SAMPLES[0]!;
    const c = json(s.collateral);
    const ws = { ...c, tcb_info: (c.tcb_info as string).replace('{', '{ ') };
    assert.ok(
      codes(await verifyEvidence({ ...load(s), collateral: ws }, dcapPolicy(s))).includes(
        'COLLATERAL_INVALID',
      ),
    );
    const sig = c.qe_identity_signature as string;
    const qe = { ...c, qe_identity_signature: (sig[0] === '0' ? '1' : '0') + sig.slice(1) };
    assert.ok(
      codes(await verifyEvidence({ ...load(s), collateral: qe }, dcapPolicy(s))).includes(
        'COLLATERAL_INVALID',
      ),
    );
    for (const field of ['pck_crl', 'root_ca_crl'] as const) {
      const crl = c[field] as string;
      const at = crl.length - 10; // inside the signature
      const bad = {
        ...c,
        [field]: crl.slice(0, at) + (crl[at] === '0' ? '1' : '0') + crl.slice(at + 1),
      };
      const r = await verifyEvidence({ ...load(s), collateral: bad }, dcapPolicy(s));
      assert.ok(codes(r).includes('COLLATERAL_INVALID'), `${field}: ${codes(r)}`);
    }
    const notJson = await verifyEvidence(
      { ...load(s), collateral: { tcb_info: 1 } },
      dcapPolicy(s),
    );
    assert.deepEqual(codes(notJson), ['COLLATERAL_INVALID']);
    const missing = await verifyEvidence({ kind: s.kind, quote: bytes(s.quote) }, dcapPolicy(s));
    assert.deepEqual(codes(missing), ['COLLATERAL_MISSING']);
  });

  it('collateral of another platform is COLLATERAL_MISMATCH; a quote of another kind is refused', async () => {
    const [sgx, v4, v5] = DCAP_SAMPLES as [DcapSample, DcapSample, DcapSample];
    const fmspc = await verifyEvidence(
      { ...load(v4), collateral: json(v5.collateral) },
      dcapPolicy(v4, { now: MARCH_2026 }),
    );
    assert.ok(codes(fmspc).includes('COLLATERAL_MISMATCH'), String(codes(fmspc)));
    const tee = await verifyEvidence(
      { ...load(sgx), collateral: json(v4.collateral) },
      dcapPolicy(sgx),
    );
    assert.ok(codes(tee).includes('COLLATERAL_MISMATCH'), String(codes(tee)));
    const kind = await verifyEvidence({ ...load(sgx), kind: 'tdx' }, dcapPolicy(sgx));
    assert.deepEqual(codes(kind), ['UNSUPPORTED_EVIDENCE']);
  });
});
