/**
 * The cross-runtime evidence cases: a JSON description of each verification (sample files,
 * tampering, policy, clock; test/vectors/data/attestation/EXPECTED.md) and the one runner that
 * turns it into `verifyEvidence` calls. The same code runs in Node and, bundled by esbuild for
 * the browser, in Chromium, so any difference in the verdicts comes from the runtime, not from
 * how the cases were built. No `node:` imports here: this file goes into the browser bundle.
 */
import type {
  Evidence,
  EvidenceKind,
  EvidencePolicy,
  EvidenceResult,
} from '../../src/client/index.js';

/** A file under test/vectors/data/attestation/; `pemBlock`: the DER of that PEM certificate. */
export interface FileRef {
  file: string;
  pemBlock?: number;
}

export interface CaseSpec {
  name: string;
  kind: EvidenceKind;
  quote: string;
  /** Tampering: XOR `mask` (default 1) into the byte at `at` (negative: from the end). */
  flip?: { at: number; mask?: number };
  /** DCAP: the collateral JSON file; SEV-SNP: the VCEK and the ASK/ARK chain (PEM). */
  collateral?: { dcap: string } | { vcek: string; chain: string };
  policy: {
    acceptedMeasurements: string[];
    now: number;
    roots: { intelSgxRootCa?: FileRef; awsNitroRoot?: FileRef; amdArk?: FileRef[] };
    expectedReportData?: string;
    expectedNonce?: string;
    allowDebug?: boolean;
  };
}

/** What is compared across runtimes: the whole result, as JSON. */
export interface Normalized {
  name: string;
  ok: boolean;
  codes: string[];
  messages: string[];
  platform: string;
  measurements: Record<string, string>;
  reportData: string | null;
  tcbStatus: string | null;
  debug: boolean | null;
  evidenceTime: number | null;
  details: unknown;
}

export type Loader = (file: string) => Promise<Uint8Array>;
export type Verify = (evidence: Evidence, policy: EvidencePolicy) => Promise<EvidenceResult>;

const utf8 = (b: Uint8Array): string => new TextDecoder().decode(b);

function pemBlock(pem: string, index: number): Uint8Array {
  const blocks = [
    ...pem.matchAll(/-----BEGIN CERTIFICATE-----([^-]+)-----END CERTIFICATE-----/g),
  ].map((m) => m[1]!.replace(/\s+/g, ''));
  const b64 = blocks[index];
  if (b64 === undefined) throw new Error(`no PEM block ${index}`);
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

async function root(load: Loader, ref: FileRef): Promise<Uint8Array> {
  const b = await load(ref.file);
  return ref.pemBlock === undefined ? b : pemBlock(utf8(b), ref.pemBlock);
}

async function evidence(load: Loader, c: CaseSpec): Promise<Evidence> {
  const quote = (await load(c.quote)).slice();
  if (c.flip) quote[c.flip.at < 0 ? quote.length + c.flip.at : c.flip.at]! ^= c.flip.mask ?? 1;
  if (c.collateral === undefined) return { kind: c.kind, quote };
  if ('dcap' in c.collateral) {
    return { kind: c.kind, quote, collateral: JSON.parse(utf8(await load(c.collateral.dcap))) };
  }
  const collateral = {
    vcek: await load(c.collateral.vcek),
    chain: utf8(await load(c.collateral.chain)),
  };
  return { kind: c.kind, quote, collateral };
}

async function policy(load: Loader, c: CaseSpec): Promise<EvidencePolicy> {
  const { roots, ...rest } = c.policy;
  const pinnedRoots: NonNullable<EvidencePolicy['pinnedRoots']> = {};
  if (roots.intelSgxRootCa) pinnedRoots.intelSgxRootCa = await root(load, roots.intelSgxRootCa);
  if (roots.awsNitroRoot) pinnedRoots.awsNitroRoot = await root(load, roots.awsNitroRoot);
  if (roots.amdArk) pinnedRoots.amdArk = await Promise.all(roots.amdArk.map((r) => root(load, r)));
  return { ...rest, pinnedRoots };
}

/** Runs every case in order; a case that throws is recorded as such (the verifier must not). */
export async function runCases(
  verify: Verify,
  cases: readonly CaseSpec[],
  load: Loader,
): Promise<Normalized[]> {
  const out: Normalized[] = [];
  for (const c of cases) {
    const r = await verify(await evidence(load, c), await policy(load, c));
    // Through JSON so that both runtimes hand over exactly what a page can return.
    out.push(
      JSON.parse(
        JSON.stringify({
          name: c.name,
          ok: r.ok,
          codes: r.reasons.map((x) => x.code),
          messages: r.reasons.map((x) => x.message),
          platform: r.platform,
          measurements: r.measurements,
          reportData: r.reportData,
          tcbStatus: r.tcbStatus,
          debug: r.debug,
          evidenceTime: r.evidenceTime,
          details: r.details,
        }),
      ) as Normalized,
    );
  }
  return out;
}
