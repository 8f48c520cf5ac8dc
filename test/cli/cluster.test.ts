/**
 * `cloister cluster provide-share` sends a share only to an enclave whose provisioning quote
 * satisfies the operator's own manifest. A host that gave its enclave another manifest (its own
 * cluster id, its own share digests), relabels the quote, runs another build or a simulated
 * machine nobody trusts, gets nothing.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { checkProvisioningQuote } from '../../src/cli/cluster.js';
import { createSimulatedPlatform } from '../../src/enclave/platform/simulated.js';
import { readSimulatedVendorKey } from '../../src/enclave/platform/simulated.js';
import {
  MANIFEST_FORMAT,
  manifestDigest,
  provisioningReportData,
  type Manifest,
} from '../../src/protocol/cluster/cluster.js';
import { bytesToBase64, bytesToHex } from '../../src/protocol/encoding.js';
import { DCAP_SAMPLES, bytes as sampleBytes } from '../attestation/samples.js';

const dir = mkdtempSync(join(tmpdir(), 'cloister-cli-cluster-'));
const platform = createSimulatedPlatform({ dir, codePath: 'package.json' });
const vendorKey = readSimulatedVendorKey(dir);

const manifest: Manifest = {
  format: MANIFEST_FORMAT,
  cluster_id: '11'.repeat(32),
  epoch: 1,
  threshold: 2,
  operators: [
    { name: 'op1', recipient: `age1${'q'.repeat(58)}` },
    { name: 'op2', recipient: `age1${'p'.repeat(58)}` },
  ],
  share_digests: ['aa'.repeat(32), 'bb'.repeat(32)],
  measurements: [platform.measurement],
  platform: { name: 'simulated', allow_debug: true },
  created_at: 1,
};

async function quoteFor(m: Manifest, nonce = 'abcdefghijklmnop') {
  const binding = {
    provisioning_key: bytesToBase64(new Uint8Array(32).fill(5)),
    cluster_id: m.cluster_id,
    manifest_digest: manifestDigest(m),
    nonce,
  };
  const rd = provisioningReportData(binding);
  return {
    phase: 'awaiting_quorum',
    quote: bytesToBase64(await platform.evidence(rd)),
    image_hash: platform.measurement,
    platform: 'simulated',
    report_data: bytesToHex(rd),
    ...binding,
  };
}

const check = (q: unknown, m = manifest, trusted = [vendorKey]) =>
  checkProvisioningQuote(q, m, { nonce: 'abcdefghijklmnop', trustedSimulatedVendorKeys: trusted });

describe('cloister cluster provide-share: the quote check', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('accepts a quote bound to the operator’s manifest', async () => {
    assert.deepEqual((await check(await quoteFor(manifest))).reasons, []);
  });

  it('refuses an enclave given another manifest, a relabelled quote, a stale nonce', async () => {
    const forged = { ...manifest, cluster_id: '22'.repeat(32) };
    assert.ok((await check(await quoteFor(forged))).reasons.length > 0);
    const other = { ...manifest, share_digests: ['cc'.repeat(32), 'dd'.repeat(32)] };
    assert.ok(
      (await check(await quoteFor(other))).reasons.includes(
        'the enclave was given another manifest',
      ),
    );
    // Relabelling the fields to the operator's manifest breaks the report-data binding.
    const q = await quoteFor(forged);
    const relabelled = {
      ...q,
      cluster_id: manifest.cluster_id,
      manifest_digest: manifestDigest(manifest),
    };
    assert.ok((await check(relabelled)).reasons.length > 0);
    assert.ok((await check(await quoteFor(manifest, 'zyxwvutsrqponmlk'))).reasons.length > 0);
  });

  it('refuses another build, an untrusted simulated machine and debug when not allowed', async () => {
    const q = await quoteFor(manifest);
    assert.ok(
      (await check(q, { ...manifest, measurements: ['ab'.repeat(48)] })).reasons.length > 0,
    );
    assert.ok((await check(q, manifest, [])).reasons.length > 0);
    const noDebug = { ...manifest, platform: { name: 'simulated' as const, allow_debug: false } };
    assert.ok((await check(await quoteFor(noDebug), noDebug)).reasons.length > 0);
  });
  it('refuses a TDX quote whatever its evidence: a manifest pins MRTD alone, which any OS and application on that firmware share', async () => {
    // A real TDX quote (recorded), under a TDX manifest listing its MRTD: everything the CLI
    // checks besides the evidence is made to match. Until now it was refused only by accident
    // (the CLI hands the evidence check no Intel root); one that did would have compared MRTD
    // alone, and a guest on the same firmware running the host's own kernel and application
    // would have got the share.
    const sample = DCAP_SAMPLES.find((x) => x.kind === 'tdx')!;
    const tdx: Manifest = {
      ...manifest,
      measurements: [sample.primary],
      platform: { name: 'tdx', allow_debug: false },
    };
    const binding = {
      provisioning_key: bytesToBase64(new Uint8Array(32).fill(5)),
      cluster_id: tdx.cluster_id,
      manifest_digest: manifestDigest(tdx),
      nonce: 'abcdefghijklmnop',
    };
    const q = {
      phase: 'awaiting_quorum',
      quote: bytesToBase64(sampleBytes(sample.quote)),
      image_hash: sample.primary,
      platform: 'tdx',
      report_data: bytesToHex(provisioningReportData(binding)),
      ...binding,
    };
    assert.deepEqual((await check(q, tdx)).reasons, [
      'platform: a cluster manifest cannot pin mrtd, rtmr0, rtmr1, rtmr2 yet; MRTD alone accepts any OS and application on that firmware, so TDX clusters are refused',
    ]);
  });

  it('refuses evidence "signed" by a small-order vendor key, even one a manifest lists', async () => {
    // The identity point as a vendor key: under ZIP-215 rules (R = identity, S = 0) verifies
    // for any document, so a host that slipped it into a manifest's or operator's trusted keys
    // could make up evidence for any measurement and report data.
    const identityPoint = new Uint8Array(32);
    identityPoint[0] = 1;
    const forgedSignature = new Uint8Array(64);
    forgedSignature[0] = 1;
    const q = await quoteFor(manifest);
    const doc = JSON.parse(Buffer.from(q.quote, 'base64').toString('utf8'));
    const forged = {
      ...q,
      quote: Buffer.from(
        JSON.stringify({
          ...doc,
          vendor_key: bytesToBase64(identityPoint),
          signature: bytesToBase64(forgedSignature),
        }),
      ).toString('base64'),
    };
    const reasons = (await check(forged, manifest, [bytesToBase64(identityPoint)])).reasons;
    assert.ok(reasons.includes('evidence: vendor signature does not verify'), reasons.join('; '));
  });
});
