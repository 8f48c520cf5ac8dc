/**
 * AMD SEV-SNP attestation reports recorded on Milan hardware, with the VCEKs AMD KDS issued for
 * them (google/go-sev-guest `verify/testdata`, virtee/sev `tests/certs_data`; see
 * test/vectors/data/attestation/PROVENANCE.md), verified at 2025-01-01 (EXPECTED.md) against the
 * pinned Milan ARK.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { verifyEvidence, type EvidencePolicy } from '../../src/client/index.js';
import { JAN_2025, ROOTS, bytes, codes, flipped, pemBlocks, text } from './samples.js';

const MILAN_CHAIN = text('roots/amd_milan_ask_ark.pem');
const GENOA_CHAIN = text('roots/amd_genoa_ask_ark.pem');

const SAMPLES = {
  gosev: {
    report: bytes('sev-snp/snp_milan_gosev_report.bin'),
    vcek: bytes('sev-snp/snp_milan_gosev_vcek.der'),
    measurement:
      'b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b01',
    reportData: '0102030405' + '00'.repeat(59),
    policy: '0x00000000000b0000',
    tcb: { bootloader: 2, tee: 0, snp: 5, microcode: 68 },
    chipId:
      '3ac3fe21e13fb0990eb28a802e3fb6a29483a6b0753590c951bdd3b8e53786184ca39e359669a2b76a1936776b564ea464cdce40c05f63c9b610c5068b006b5d',
    firmware: { build: 3, minor: 49, major: 1 },
    debug: true,
  },
  virtee: {
    report: bytes('sev-snp/snp_milan_virtee_report.bin'),
    vcek: bytes('sev-snp/snp_milan_virtee_vcek.der'),
    measurement:
      '7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f',
    reportData:
      'd447b55d197491bfe15cf298f9de9986b7a7c4be2468b4f6e2d53b71d7c645810b0f2cdfca0040433be063fc1a8293f0f3f8dae7b79fecb3d1cd82bd6a93ebfd',
    policy: '0x0000000000030000',
    tcb: { bootloader: 3, tee: 0, snp: 8, microcode: 115 },
    chipId:
      'd49554ec717f4e5b0fe6b143bcf0405bd7ae304727edf46603f2a76aef6a3abc15d7af38db757039029f0efacfd08e244324884738c72b082e2f87a44d541eb6',
    firmware: { build: 4, minor: 52, major: 1 },
    debug: false,
  },
};
type Sample = (typeof SAMPLES)[keyof typeof SAMPLES];

const ev = (
  s: Sample,
  report = s.report,
  collateral: unknown = { vcek: s.vcek, chain: MILAN_CHAIN },
) => ({
  kind: 'sev-snp' as const,
  quote: report,
  collateral,
});
const policy = (s: Sample, extra: Partial<EvidencePolicy> = {}): EvidencePolicy => ({
  acceptedMeasurements: [s.measurement],
  pinnedRoots: { amdArk: [ROOTS.milanArk] },
  now: JAN_2025,
  ...extra,
});

describe('sev-snp samples: genuine reports verify with the EXPECTED.md fields', () => {
  for (const [name, s] of Object.entries(SAMPLES)) {
    it(`snp_milan_${name}: signature, chain and VCEK binding valid; fields as recorded`, async () => {
      const r = await verifyEvidence(ev(s), policy(s, { allowDebug: true }));
      assert.deepEqual(r.reasons, []);
      assert.equal(r.measurements.measurement, s.measurement);
      assert.equal(r.reportData, s.reportData);
      assert.equal(r.debug, s.debug);
      assert.equal(r.details.policy, s.policy);
      assert.deepEqual(r.details.reportedTcb, s.tcb);
      assert.equal(r.details.chipId, s.chipId);
      assert.deepEqual(r.details.firmware, s.firmware);
      assert.equal(r.details.productName, 'Milan-B0');
      assert.equal(r.details.version, 2);
      assert.equal(r.details.vmpl, 0);
      assert.equal(r.measurements.host_data, '00'.repeat(32));
      assert.equal(r.tcbStatus, null);
      assert.equal(r.evidenceTime, null);
    });
  }

  it('snp_milan_virtee is valid under a production policy; the .hex copy gives the same result', async () => {
    const s = SAMPLES.virtee;
    const r = await verifyEvidence(ev(s), policy(s));
    assert.equal(r.ok, true);
    const fromHex = new Uint8Array(Buffer.from(text('sev-snp/snp_milan_virtee_report.hex'), 'hex'));
    assert.deepEqual(await verifyEvidence(ev(s, fromHex), policy(s)), r);
  });

  it('snp_milan_gosev allows DEBUG (policy bit 19): DEBUG_NOT_ALLOWED under a production policy', async () => {
    const s = SAMPLES.gosev;
    assert.deepEqual(codes(await verifyEvidence(ev(s), policy(s))), ['DEBUG_NOT_ALLOWED']);
  });

  it('the ASK alone (without the ARK copy) and a DER VCEK as PEM work as collateral', async () => {
    const s = SAMPLES.virtee;
    const [ask] = pemBlocks('roots/amd_milan_ask_ark.pem');
    const pemVcek = `-----BEGIN CERTIFICATE-----\n${Buffer.from(s.vcek)
      .toString('base64')
      .replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE-----\n`;
    const r = await verifyEvidence(ev(s, s.report, { vcek: pemVcek, ask }), policy(s));
    assert.deepEqual(r.reasons, []);
  });
});

describe('sev-snp samples: policy', () => {
  const s = SAMPLES.virtee;
  it('report data, measurement list and minimum TCB', async () => {
    assert.equal(
      (await verifyEvidence(ev(s), policy(s, { expectedReportData: s.reportData }))).ok,
      true,
    );
    assert.deepEqual(codes(await verifyEvidence(ev(s), policy(s, { expectedReportData: 'ff' }))), [
      'REPORT_DATA_MISMATCH',
    ]);
    assert.deepEqual(
      codes(await verifyEvidence(ev(s), policy(s, { acceptedMeasurements: ['ab'.repeat(48)] }))),
      ['MEASUREMENT_NOT_ACCEPTED'],
    );
    assert.equal(
      (await verifyEvidence(ev(s), policy(s, { minSnpTcb: { snp: 8, microcode: 115 } }))).ok,
      true,
    );
    assert.deepEqual(
      codes(await verifyEvidence(ev(s), policy(s, { minSnpTcb: { microcode: 116 } }))),
      ['TCB_STATUS_BELOW_MINIMUM'],
    );
    // SNP has no Intel-style TCB status: a policy demanding one cannot be met.
    assert.deepEqual(codes(await verifyEvidence(ev(s), policy(s, { minTcbStatus: 'UpToDate' }))), [
      'TCB_STATUS_BELOW_MINIMUM',
    ]);
  });

  it('no ARK pinned is ROOT_NOT_PINNED; no VCEK and no KDS is COLLATERAL_MISSING', async () => {
    assert.deepEqual(codes(await verifyEvidence(ev(s), policy(s, { pinnedRoots: {} }))), [
      'ROOT_NOT_PINNED',
    ]);
    assert.deepEqual(codes(await verifyEvidence({ kind: 'sev-snp', quote: s.report }, policy(s))), [
      'COLLATERAL_MISSING',
    ]);
    assert.deepEqual(codes(await verifyEvidence(ev(s, s.report, { vcek: 'nope' }), policy(s))), [
      'COLLATERAL_INVALID',
    ]);
  });
});

describe('sev-snp samples: tampering is refused with a distinct reason (EXPECTED.md table)', () => {
  it('every single-byte flip of either report is refused', async () => {
    for (const s of Object.values(SAMPLES)) {
      for (let at = 0; at < s.report.length; at += 4) {
        const r = await verifyEvidence(
          ev(s, flipped(s.report, at)),
          policy(s, { allowDebug: true }),
        );
        assert.equal(r.ok, false, `flip at ${at} accepted`);
      }
    }
  });

  it('report_data[0], measurement[0] and the debug bit (0x0A, 0x08) are SIGNATURE_INVALID', async () => {
    for (const s of Object.values(SAMPLES)) {
      for (const [at, mask] of [
        [0x50, 1],
        [0x90, 1],
        [0x0a, 0x08],
      ] as const) {
        const r = await verifyEvidence(
          ev(s, flipped(s.report, at, mask)),
          policy(s, { allowDebug: true, acceptedMeasurements: [] }),
        );
        assert.ok(codes(r).includes('SIGNATURE_INVALID'), `${at}: ${codes(r)}`);
      }
    }
    const toggled = await verifyEvidence(
      ev(SAMPLES.virtee, flipped(SAMPLES.virtee.report, 0x0a, 0x08)),
      policy(SAMPLES.virtee),
    );
    assert.equal(toggled.debug, true);
    assert.ok(codes(toggled).includes('DEBUG_NOT_ALLOWED'));
  });

  it('a guest policy that allows a migration agent (MIGRATE_MA, bit 18) is refused (attack review)', async () => {
    // The hypervisor picks the guest policy at launch (it is not in MEASUREMENT) and may then
    // bind a migration agent of its own, which reads the guest's memory: such evidence is
    // refused whatever the signature says (the flip also breaks it here).
    const s = SAMPLES.virtee;
    const r = await verifyEvidence(ev(s, flipped(s.report, 0x0a, 0x04)), policy(s));
    assert.ok(
      r.reasons.some((x) => x.code === 'UNSUPPORTED_EVIDENCE' && /migration agent/.test(x.message)),
      JSON.stringify(r.reasons),
    );
    assert.equal(r.ok, false);
  });

  it('second attack review: minSnpTcb also holds for LAUNCH_TCB (firmware updated under a running guest)', async () => {
    // Launch (and measure) the guest on firmware below the minimum, then load the fixed
    // firmware while it runs: REPORTED_TCB and the VCEK show the new one, LAUNCH_TCB (0x1F0,
    // set by the firmware) the old. Here the lowered byte also breaks the signature.
    const s = SAMPLES.virtee;
    const launchSnp = 0x1f0 + 6;
    assert.equal(s.report[launchSnp], 8);
    const r = await verifyEvidence(
      ev(s, flipped(s.report, launchSnp, 8 ^ 5)),
      policy(s, { minSnpTcb: { snp: 8 } }),
    );
    assert.ok(
      r.reasons.some(
        (x) => x.code === 'TCB_STATUS_BELOW_MINIMUM' && x.message === 'launch snp SPL 5 is below 8',
      ),
      JSON.stringify(r.reasons),
    );
    assert.equal(r.ok, false);
  });

  it('a report truncated to 0x2A0 bytes (signature dropped) is PARSE_ERROR', async () => {
    const s = SAMPLES.virtee;
    assert.deepEqual(codes(await verifyEvidence(ev(s, s.report.subarray(0, 0x2a0)), policy(s))), [
      'PARSE_ERROR',
    ]);
  });

  it("the other sample's VCEK: SIGNATURE_INVALID and COLLATERAL_MISMATCH (hwID, TCB)", async () => {
    const s = SAMPLES.virtee;
    const r = await verifyEvidence(
      ev(s, s.report, { vcek: SAMPLES.gosev.vcek, chain: MILAN_CHAIN }),
      policy(s),
    );
    assert.deepEqual([...new Set(codes(r))].sort(), ['COLLATERAL_MISMATCH', 'SIGNATURE_INVALID']);
  });

  it('Genoa ASK/ARK: with the Genoa ARK pinned CERT_CHAIN_INVALID, with Milan pinned ROOT_NOT_PINNED', async () => {
    const s = SAMPLES.virtee;
    const genoa = ev(s, s.report, { vcek: s.vcek, chain: GENOA_CHAIN });
    const pinnedGenoa = await verifyEvidence(
      genoa,
      policy(s, { pinnedRoots: { amdArk: [ROOTS.genoaArk] } }),
    );
    assert.deepEqual(codes(pinnedGenoa), ['CERT_CHAIN_INVALID']);
    assert.deepEqual(codes(await verifyEvidence(genoa, policy(s))), ['ROOT_NOT_PINNED']);
    const [genoaAsk] = pemBlocks('roots/amd_genoa_ask_ark.pem');
    const askOnly = await verifyEvidence(
      ev(s, s.report, { vcek: s.vcek, ask: genoaAsk }),
      policy(s),
    );
    assert.deepEqual(codes(askOnly), ['ROOT_NOT_PINNED']);
  });

  it('outside the VCEK validity window is CERT_EXPIRED', async () => {
    const s = SAMPLES.gosev;
    for (const iso of ['2022-09-24T00:55:00Z', '2029-09-25T00:00:00Z']) {
      const r = await verifyEvidence(
        ev(s),
        policy(s, { allowDebug: true, now: Date.parse(iso) / 1000 }),
      );
      assert.deepEqual(codes(r), ['CERT_EXPIRED'], iso);
    }
  });

  it('non-zero bytes in the unsigned signature padding are PARSE_ERROR', async () => {
    const s = SAMPLES.virtee;
    for (const at of [0x2a0 + 50, 0x2e8 + 60, 0x400]) {
      assert.deepEqual(codes(await verifyEvidence(ev(s, flipped(s.report, at)), policy(s))), [
        'PARSE_ERROR',
      ]);
    }
  });
});
