/**
 * Browser entry of verify-evidence.browser.test.ts: the SDK's `verifyEvidence` (bundled by
 * esbuild, platform "browser") run on the cases the page's server hands out, with the sample
 * files fetched over HTTP. Exposes `runEvidenceCases()` for the test to call.
 */
import { verifyEvidence } from '../../src/client/index.js';
import { runCases, type CaseSpec, type Normalized } from './cases.js';

async function load(file: string): Promise<Uint8Array> {
  const res = await fetch(`/data/${file}`);
  if (!res.ok) throw new Error(`GET /data/${file}: ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

async function runEvidenceCases(): Promise<Normalized[]> {
  const cases = (await (await fetch('/cases.json')).json()) as CaseSpec[];
  return runCases(verifyEvidence, cases, load);
}

(globalThis as { runEvidenceCases?: typeof runEvidenceCases }).runEvidenceCases = runEvidenceCases;
