/**
 * Isomorphism in a real browser: the SDK's `verifyEvidence`, bundled by esbuild for the browser
 * (test/browser/entry.ts), run in headless Chromium (playwright-core, the system /usr/bin/chromium)
 * on every recorded sample of test/vectors/data/attestation with its EXPECTED.md policy and clock,
 * plus tamperings (a flipped signed byte, wrong report data or nonce, a swapped root). The page
 * fetches the bundle, the case list and the sample files from a local node:http server. The same
 * cases run in Node through the same runner (cases.ts); the browser's results must equal Node's
 * in full, and both must give EXPECTED.md's verdicts, reason codes and measurements.
 *
 * Without /usr/bin/chromium the test fails when CI is set (CI installs it, see .ci/run) and is
 * skipped otherwise.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { build } from 'esbuild';
import { verifyEvidence } from '../../src/client/index.js';
import { DCAP_SAMPLES, JAN_2025, MARCH_2026 } from '../attestation/samples.js';
import { runCases, type CaseSpec, type Normalized } from './cases.js';

const CHROMIUM = '/usr/bin/chromium';
const DATA = fileURLToPath(new URL('../vectors/data/attestation/', import.meta.url));
const ENTRY = fileURLToPath(new URL('./entry.ts', import.meta.url));

interface Expect {
  ok: boolean;
  /** The reason codes exactly, or (`includes`) codes that must be among them. */
  codes?: string[];
  includes?: string[];
  measurement?: [string, string];
  reportData?: string;
  tcbStatus?: string | null;
  advisories?: string[];
  debug?: boolean;
}
interface Case {
  spec: CaseSpec;
  expect: Expect;
}

const INTEL = { file: 'roots/intel_sgx_root_ca.der' };
const AWS = { file: 'roots/aws_nitro_enclaves_root_g1.pem' };
const MILAN_ARK = { file: 'roots/amd_milan_ask_ark.pem', pemBlock: 1 };
const GENOA_ARK = { file: 'roots/amd_genoa_ask_ark.pem', pemBlock: 1 };
const OTHER_DATA = 'ab'.repeat(32);

function dcapCases(): Case[] {
  const out: Case[] = [];
  for (const s of DCAP_SAMPLES) {
    const base: CaseSpec = {
      name: s.name,
      kind: s.kind,
      quote: s.quote,
      collateral: { dcap: s.collateral },
      policy: {
        acceptedMeasurements: [s.primary],
        now: s.now,
        roots: { intelSgxRootCa: INTEL },
        expectedReportData: s.reportData,
      },
    };
    const name = s.kind === 'tdx' ? 'mrtd' : 'mrenclave';
    out.push(
      {
        spec: base,
        expect: {
          ok: true,
          codes: [],
          measurement: [name, s.primary],
          reportData: s.reportData,
          tcbStatus: s.status,
          advisories: s.advisories,
          debug: false,
        },
      },
      {
        spec: { ...base, name: `${s.name}: report_data[0] flipped`, flip: { at: s.reportDataAt } },
        expect: { ok: false, includes: ['SIGNATURE_INVALID'] },
      },
      {
        spec: { ...base, name: `${s.name}: signature flipped`, flip: { at: s.signedLength + 14 } },
        expect: { ok: false, includes: ['SIGNATURE_INVALID'] },
      },
      {
        spec: {
          ...base,
          name: `${s.name}: other report data expected`,
          policy: { ...base.policy, expectedReportData: OTHER_DATA },
        },
        expect: { ok: false, codes: ['REPORT_DATA_MISMATCH'] },
      },
      {
        spec: {
          ...base,
          name: `${s.name}: AWS root pinned as the Intel root`,
          policy: { ...base.policy, roots: { intelSgxRootCa: AWS } },
        },
        expect: { ok: false, includes: ['ROOT_NOT_PINNED'] },
      },
    );
  }
  out.push({
    spec: {
      name: 'tdx_quote_v5_no_tcb_level',
      kind: 'tdx',
      quote: 'tdx/tdx_quote_v5_no_tcb_level.bin',
      collateral: { dcap: 'tdx/fmspc_90C06F000000.collateral.json' },
      policy: {
        acceptedMeasurements: [
          '273828c46252fcbdd8ad2dd907130222b03466d52a2911d70c1a5950895d6bd1ae451d382d5a9b1b4c0ed0e5ae9a3dbd',
        ],
        now: MARCH_2026,
        roots: { intelSgxRootCa: INTEL },
      },
    },
    expect: { ok: false, codes: ['TCB_NOT_SUPPORTED'] },
  });
  return out;
}

const NITRO = [
  {
    file: 'nitro_2024-09-07',
    now: 1725719859,
    pcr0: 'e72a46ca80a260fb044a125442f0c7e331813bcbaf9724d9f3857758992766f2d65710a27aa94ae3949dd54e7c9fe86a',
  },
  {
    file: 'nitro_2022-10-13',
    now: 1665651482,
    pcr0: 'f4d48b81a460c9916d1e685119074bf24660afd3e34fae9fca0a0d28d9d5599936332687e6f66fc890ac8cf150142d8b',
  },
  { file: 'nitro_debug_2023-09-18', now: 1695049410, pcr0: '00'.repeat(48) },
  { file: 'nitro_debug_2022-10-12', now: 1665582606, pcr0: '00'.repeat(48) },
];

function nitroCases(): Case[] {
  const out: Case[] = [];
  for (const s of NITRO) {
    const debug = s.file.includes('debug');
    const base: CaseSpec = {
      name: s.file,
      kind: 'nitro',
      quote: `nitro/${s.file}.bin`,
      policy: { acceptedMeasurements: [s.pcr0], now: s.now, roots: { awsNitroRoot: AWS } },
    };
    out.push({
      spec: base,
      expect: debug
        ? { ok: false, codes: ['DEBUG_NOT_ALLOWED'], debug: true, measurement: ['pcr0', s.pcr0] }
        : { ok: true, codes: [], debug: false, measurement: ['pcr0', s.pcr0], tcbStatus: null },
    });
    if (debug) continue;
    out.push(
      {
        // The last bytes of the document are the ES384 signature.
        spec: { ...base, name: `${s.file}: signature flipped`, flip: { at: -5 } },
        expect: { ok: false, includes: ['SIGNATURE_INVALID'] },
      },
      {
        spec: {
          ...base,
          name: `${s.file}: Intel root pinned as the AWS root`,
          policy: { ...base.policy, roots: { awsNitroRoot: INTEL } },
        },
        expect: { ok: false, includes: ['ROOT_NOT_PINNED'] },
      },
    );
  }
  const s = NITRO[0]!;
  const base = { acceptedMeasurements: [s.pcr0], now: s.now, roots: { awsNitroRoot: AWS } };
  out.push(
    {
      spec: {
        name: `${s.file}: the recorded nonce expected`,
        kind: 'nitro',
        quote: `nitro/${s.file}.bin`,
        policy: { ...base, expectedNonce: '01'.repeat(1024) },
      },
      expect: { ok: true, codes: [] },
    },
    {
      spec: {
        name: `${s.file}: another nonce expected`,
        kind: 'nitro',
        quote: `nitro/${s.file}.bin`,
        policy: { ...base, expectedNonce: OTHER_DATA },
      },
      expect: { ok: false, codes: ['NONCE_MISMATCH'] },
    },
  );
  return out;
}

const SNP = [
  {
    name: 'gosev',
    measurement:
      'b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b01',
    reportData: '0102030405' + '00'.repeat(59),
    debug: true,
  },
  {
    name: 'virtee',
    measurement:
      '7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f',
    reportData:
      'd447b55d197491bfe15cf298f9de9986b7a7c4be2468b4f6e2d53b71d7c645810b0f2cdfca0040433be063fc1a8293f0f3f8dae7b79fecb3d1cd82bd6a93ebfd',
    debug: false,
  },
];

function snpCases(): Case[] {
  const out: Case[] = [];
  for (const s of SNP) {
    const base: CaseSpec = {
      name: `snp_milan_${s.name}`,
      kind: 'sev-snp',
      quote: `sev-snp/snp_milan_${s.name}_report.bin`,
      collateral: {
        vcek: `sev-snp/snp_milan_${s.name}_vcek.der`,
        chain: 'roots/amd_milan_ask_ark.pem',
      },
      policy: {
        acceptedMeasurements: [s.measurement],
        now: JAN_2025,
        roots: { amdArk: [MILAN_ARK] },
        expectedReportData: s.reportData,
      },
    };
    const fields = { measurement: ['measurement', s.measurement] as [string, string] };
    out.push({
      spec: base,
      expect: s.debug
        ? { ok: false, codes: ['DEBUG_NOT_ALLOWED'], debug: true, ...fields }
        : { ok: true, codes: [], debug: false, reportData: s.reportData, ...fields },
    });
    if (s.debug) {
      out.push({
        spec: {
          ...base,
          name: `${base.name}: debug allowed`,
          policy: { ...base.policy, allowDebug: true },
        },
        expect: { ok: true, codes: [], debug: true, reportData: s.reportData, ...fields },
      });
    }
    out.push(
      {
        spec: { ...base, name: `${base.name}: report_data[0] flipped`, flip: { at: 0x50 } },
        expect: { ok: false, includes: ['SIGNATURE_INVALID'] },
      },
      {
        spec: {
          ...base,
          name: `${base.name}: other report data expected`,
          policy: { ...base.policy, allowDebug: true, expectedReportData: OTHER_DATA },
        },
        expect: { ok: false, codes: ['REPORT_DATA_MISMATCH'] },
      },
      {
        spec: {
          ...base,
          name: `${base.name}: Genoa ARK pinned`,
          policy: { ...base.policy, allowDebug: true, roots: { amdArk: [GENOA_ARK] } },
        },
        expect: { ok: false, includes: ['ROOT_NOT_PINNED'] },
      },
    );
  }
  return out;
}

const CASES: Case[] = [...dcapCases(), ...nitroCases(), ...snpCases()];
const SPECS = CASES.map((c) => c.spec);

function checkExpected(results: readonly Normalized[], where: string): void {
  assert.deepEqual(
    results.map((r) => r.name),
    SPECS.map((s) => s.name),
    where,
  );
  CASES.forEach(({ spec, expect: e }, i) => {
    const r = results[i]!;
    const at = `${where}: ${spec.name}: ${r.codes.join(',')}`;
    assert.equal(r.ok, e.ok, at);
    if (e.codes) assert.deepEqual(r.codes, e.codes, at);
    for (const code of e.includes ?? []) assert.ok(r.codes.includes(code), `${at} (${code})`);
    if (e.measurement) assert.equal(r.measurements[e.measurement[0]], e.measurement[1], at);
    if (e.reportData !== undefined) assert.equal(r.reportData, e.reportData, at);
    if (e.tcbStatus !== undefined) assert.equal(r.tcbStatus, e.tcbStatus, at);
    if (e.debug !== undefined) assert.equal(r.debug, e.debug, at);
    if (e.advisories) {
      assert.deepEqual((r.details as { advisoryIds?: unknown }).advisoryIds, e.advisories, at);
    }
  });
}

async function bundle(): Promise<string> {
  const out = await build({
    entryPoints: [ENTRY],
    bundle: true,
    platform: 'browser',
    format: 'iife',
    write: false,
    logLevel: 'silent',
  });
  return out.outputFiles[0]!.text;
}

const PAGE =
  '<!doctype html><meta charset="utf-8"><title>verifyEvidence</title>' +
  '<script src="/bundle.js"></script>';

/** Serves the page, the bundle, the case list and (read-only, inside DATA) the sample files. */
function serve(js: string): Promise<Server> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const send = (type: string, body: string | Buffer) => {
      res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (path === '/') return send('text/html', PAGE);
    if (path === '/bundle.js') return send('text/javascript', js);
    if (path === '/cases.json') return send('application/json', JSON.stringify(SPECS));
    const file = resolve(DATA, `.${path.slice('/data'.length)}`);
    if (path.startsWith('/data/') && file.startsWith(DATA.replace(/[\\/]$/, '') + sep)) {
      try {
        return send('application/octet-stream', readFileSync(file));
      } catch {
        // fall through to 404
      }
    }
    res.writeHead(404).end();
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

async function inChromium(js: string): Promise<{ results: Normalized[]; agent: string }> {
  const { chromium } = await import('playwright-core');
  const server = await serve(js);
  // launch() gives every run a fresh temporary profile (user-data dir) and removes it on close.
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    const { port } = server.address() as AddressInfo;
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForFunction(() => 'runEvidenceCases' in globalThis, null, { timeout: 10_000 });
    const results = await page.evaluate(() =>
      (globalThis as unknown as { runEvidenceCases: () => Promise<unknown> }).runEvidenceCases(),
    );
    assert.deepEqual(errors, [], 'page errors');
    return {
      results: results as Normalized[],
      agent: await page.evaluate(() => navigator.userAgent),
    };
  } finally {
    await browser.close();
    await new Promise((ok) => server.close(ok));
  }
}

async function nodeLoad(file: string): Promise<Uint8Array> {
  return new Uint8Array(readFileSync(DATA + file));
}

describe('verifyEvidence in headless Chromium', () => {
  const missing = !existsSync(CHROMIUM);
  const skip = missing && !process.env.CI ? `${CHROMIUM} not found (set CI to fail)` : false;

  it(
    'gives the same results as in Node, and EXPECTED.md verdicts',
    { skip, timeout: 90_000 },
    async (t) => {
      assert.ok(
        !missing,
        `${CHROMIUM} is missing: install the chromium package (.ci/run does) to run the browser test`,
      );
      const js = await bundle();
      assert.doesNotMatch(
        js,
        /require\(["']node:/,
        'the browser bundle must not need node: modules',
      );
      const node = await runCases(verifyEvidence, SPECS, nodeLoad);
      checkExpected(node, 'node');
      const { results: browser, agent } = await inChromium(js);
      assert.match(agent, /HeadlessChrome\//, 'ran in headless Chromium');
      checkExpected(browser, 'chromium');
      assert.deepEqual(browser, node);
      t.diagnostic(
        `${agent.match(/HeadlessChrome\/\S+/)![0]}: ${browser.length} cases, equal to Node`,
      );
      for (const r of browser) t.diagnostic(`${r.name}: ok=${r.ok} [${r.codes.join(',')}]`);
    },
  );
});
