/**
 * Isomorphism: the SDK's evidence verifier bundled for the browser (esbuild, platform
 * "browser": no node: modules, dcap-qvl's browser crypto path), run with `window` defined, gives
 * the EXPECTED.md verdicts on the recorded samples of every kind, and still refuses tampering.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { build } from 'esbuild';

const ENTRY = fileURLToPath(new URL('../../src/client/attestation/index.ts', import.meta.url));
const DATA = fileURLToPath(new URL('../vectors/data/attestation/', import.meta.url));

/** Runs in the child, against the browser bundle; prints one JSON line of verdicts. */
const RUNNER = `
globalThis.window = globalThis;
const { verifyEvidence } = await import(process.argv[2]);
const { readFileSync } = await import('node:fs');
const D = process.argv[3];
const b = (p) => new Uint8Array(readFileSync(D + p));
const t = (p) => readFileSync(D + p, 'utf8');
const pem = t('roots/amd_milan_ask_ark.pem');
const roots = {
  intelSgxRootCa: b('roots/intel_sgx_root_ca.der'),
  awsNitroRoot: b('roots/aws_nitro_enclaves_root_g1.pem'),
  amdArk: [new TextEncoder().encode(pem.slice(pem.lastIndexOf('-----BEGIN')))],
};
const cases = [
  ['sgx', 'sgx-dcap', 'sgx/sgx_quote_v3.bin', JSON.parse(t('sgx/sgx_quote_v3.collateral.json')), 1751328000, '33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb', 368],
  ['tdx4', 'tdx', 'tdx/tdx_quote_v4.bin', JSON.parse(t('tdx/tdx_quote_v4.collateral.json')), 1751328000, '91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7', 568],
  ['tdx5', 'tdx', 'tdx/tdx_quote_v5.bin', JSON.parse(t('tdx/fmspc_90C06F000000.collateral.json')), 1772323200, '7348651a34b2d2d3462822e3a750ec6110125f36757c78480bbfc69cc0d21fb001a1ced3ee19747dda8f750c3bc8f876', 574],
  ['nitro', 'nitro', 'nitro/nitro_2024-09-07.bin', undefined, 1725719859, 'e72a46ca80a260fb044a125442f0c7e331813bcbaf9724d9f3857758992766f2d65710a27aa94ae3949dd54e7c9fe86a', -5],
  ['snp', 'sev-snp', 'sev-snp/snp_milan_virtee_report.bin', { vcek: b('sev-snp/snp_milan_virtee_vcek.der'), chain: pem }, 1735689600, '7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f', 0x50],
];
const out = {};
for (const [name, kind, file, collateral, now, m, flipAt] of cases) {
  const policy = { acceptedMeasurements: [m], pinnedRoots: roots, now };
  const ok = await verifyEvidence({ kind, quote: b(file), collateral }, policy);
  const q = b(file); q[flipAt < 0 ? q.length + flipAt : flipAt] ^= 1;
  const flipped = await verifyEvidence({ kind, quote: q, collateral }, policy);
  const late = await verifyEvidence({ kind, quote: b(file), collateral }, { ...policy, now: 1950000000 });
  out[name] = { ok: ok.ok, reasons: ok.reasons, tcbStatus: ok.tcbStatus, flipped: flipped.reasons.map((r) => r.code), late: late.reasons.map((r) => r.code) };
}
console.log(JSON.stringify(out));
`;

describe('browser bundle of verifyEvidence', () => {
  it('bundles without node: modules and verifies every kind as in Node', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cloister-browser-'));
    try {
      const bundle = join(dir, 'bundle.mjs');
      await build({
        entryPoints: [ENTRY],
        bundle: true,
        platform: 'browser',
        format: 'esm',
        outfile: bundle,
        logLevel: 'silent',
      });
      writeFileSync(join(dir, 'run.mjs'), RUNNER);
      const out = JSON.parse(
        execFileSync(process.execPath, [join(dir, 'run.mjs'), bundle, DATA], { encoding: 'utf8' }),
      ) as Record<
        string,
        {
          ok: boolean;
          reasons: unknown[];
          tcbStatus: string | null;
          flipped: string[];
          late: string[];
        }
      >;
      assert.deepEqual(Object.keys(out), ['sgx', 'tdx4', 'tdx5', 'nitro', 'snp']);
      for (const [name, r] of Object.entries(out)) {
        assert.deepEqual(r.reasons, [], name);
        assert.equal(r.ok, true, name);
        assert.ok(r.flipped.includes('SIGNATURE_INVALID'), `${name}: ${r.flipped}`);
        assert.ok(
          r.late.some((c) => c === 'COLLATERAL_EXPIRED' || c === 'CERT_EXPIRED'),
          `${name}: ${r.late}`,
        );
      }
      assert.equal(out.sgx!.tcbStatus, 'ConfigurationAndSWHardeningNeeded');
      assert.equal(out.tdx5!.tcbStatus, 'UpToDate');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
