/**
 * `cloister attest verify <file|url> --policy <policy.json>` and `cloister attest measure`.
 *
 * verify: runs the SDK's `verifyEvidence` and prints its normalized result as JSON; exit 0 only
 * when it is ok. The input is
 *   - a URL: the service's `GET /attestation/quote` (a base URL gets that path appended), asked
 *     with a fresh nonce; the CLI then also requires the response to echo that nonce and the
 *     evidence's report data to be SHA-512(JCS(keys, nonce)) of the response
 *     (docs/protocol/attestation-response.md), so the keys printed are the attested ones;
 *   - a file holding such a response (JSON), or an evidence file
 *     `{ "kind", "quote": base64, "collateral"? }`, or raw evidence bytes with `--kind`.
 * The policy file is JSON (docs/platforms/README.md "Verifying"): EvidencePolicy's fields, with
 * `now` as seconds or an ISO date, and pinned roots as file paths relative to the policy file.
 *
 * measure: builds the enclave bundle exactly as `npm run build:enclave` does (the same script,
 * into a temporary folder) and prints its SHA-384, the `simulated` measurement. Hardware
 * measurements (MRENCLAVE, MRTD, PCR0) wrap this bundle: docs/platforms/<platform>.md.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import {
  CryptoHelper,
  EVIDENCE_KINDS,
  TCB_STATUS_ORDER,
  verifyEvidence,
  type Evidence,
  type EvidenceKind,
  type EvidencePolicy,
  type EvidenceResult,
} from '../client/index.js';
import { computeReportData } from '../protocol/attestation/report-data.js';
import {
  AttestationResponseSchema,
  type AttestationResponse,
} from '../protocol/attestation/response.js';
import { base64ToBytes, bytesToHex } from '../protocol/encoding.js';
import {
  PLATFORM_EVIDENCE,
  TDX_PINS_MISSING,
  defaultMinTcbStatus,
  pinsTdxApplication,
} from '../client/verify/verify-attestation.js';
import { measurementAccepted } from '../client/attestation/policy.js';
import { requestJson } from './http.js';

/** A usage or input error: exit code 2, message printed as is. */
export class AttestUsageError extends Error {
  override readonly name = 'AttestUsageError';
}

const hex = z.string().regex(/^(?:[0-9a-fA-F]{2})+$/, { message: 'must be hex' });
const PolicyFileSchema = z
  .object({
    acceptedMeasurements: z.array(z.string().min(1)).min(1),
    minTcbStatus: z.enum(TCB_STATUS_ORDER).optional(),
    minSnpTcb: z
      .object({
        bootloader: z.number().int().min(0).max(255).optional(),
        tee: z.number().int().min(0).max(255).optional(),
        snp: z.number().int().min(0).max(255).optional(),
        microcode: z.number().int().min(0).max(255).optional(),
      })
      .strict()
      .optional(),
    maxAgeSeconds: z.number().int().positive().optional(),
    expectedReportData: hex.optional(),
    expectedNonce: hex.optional(),
    expectedPublicKey: hex.optional(),
    allowDebug: z.boolean().optional(),
    now: z.union([z.number().int().nonnegative(), z.iso.datetime()]).optional(),
    pinnedRoots: z
      .object({
        intelSgxRootCa: z.string().min(1).optional(),
        awsNitroRoot: z.string().min(1).optional(),
        amdArk: z.array(z.string().min(1)).optional(),
        simulatedVendorKeys: z.array(z.string().min(1)).optional(),
        simulatedVendorKeyFiles: z.array(z.string().min(1)).optional(),
      })
      .strict()
      .optional(),
    collateralSource: z
      .object({ pccsUrl: z.url().optional(), amdKdsUrl: z.url().optional() })
      .strict()
      .optional(),
  })
  .strict();

function readInput(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new AttestUsageError(
      `${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
}

function parseJson(bytes: Buffer, what: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new AttestUsageError(`${what}: not JSON`);
  }
}

function issues(err: z.ZodError): string {
  return err.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
}

/** Reads a policy file into an EvidencePolicy; root paths resolve against its folder. */
export function loadPolicy(path: string): EvidencePolicy {
  const parsed = PolicyFileSchema.safeParse(parseJson(readInput(path, '--policy'), '--policy'));
  if (!parsed.success) throw new AttestUsageError(`--policy: ${issues(parsed.error)}`);
  const p = parsed.data;
  const at = (f: string) => new Uint8Array(readInput(resolve(dirname(path), f), 'pinned root'));
  const roots = p.pinnedRoots;
  return {
    ...p,
    now: typeof p.now === 'string' ? Math.floor(Date.parse(p.now) / 1000) : p.now,
    pinnedRoots: roots && {
      ...(roots.intelSgxRootCa ? { intelSgxRootCa: at(roots.intelSgxRootCa) } : {}),
      ...(roots.awsNitroRoot ? { awsNitroRoot: at(roots.awsNitroRoot) } : {}),
      ...(roots.amdArk ? { amdArk: roots.amdArk.map(at) } : {}),
      simulatedVendorKeys: [
        ...(roots.simulatedVendorKeys ?? []),
        ...(roots.simulatedVendorKeyFiles ?? []).map((f) => new TextDecoder().decode(at(f)).trim()),
      ],
    },
  } as EvidencePolicy;
}

const EvidenceFileSchema = z
  .object({
    kind: z.enum(EVIDENCE_KINDS),
    quote: z.base64().min(1),
    collateral: z.unknown().optional(),
  })
  .strict();

interface Loaded {
  evidence: Evidence;
  /** Present when the input was a service response: the binding is checked too. */
  response?: AttestationResponse;
  /** The nonce the CLI sent (URL input only). */
  nonce?: string;
}

function fromResponse(response: AttestationResponse): Evidence {
  return { kind: PLATFORM_EVIDENCE[response.platform].kind, quote: base64ToBytes(response.quote) };
}

async function loadFromUrl(target: string): Promise<Loaded> {
  const url = new URL(target);
  if (!url.pathname.endsWith('/attestation/quote'))
    url.pathname = `${url.pathname.replace(/\/+$/, '')}/attestation/quote`;
  const nonce = CryptoHelper.newNonce();
  url.searchParams.set('nonce', nonce);
  const parsed = AttestationResponseSchema.safeParse(await requestJson(url.toString()));
  if (!parsed.success) throw new Error(`${url.origin}: not an attestation response`);
  return { evidence: fromResponse(parsed.data), response: parsed.data, nonce };
}

function loadFromFile(path: string, kind: string | undefined, collateral?: string): Loaded {
  const bytes = readInput(path, 'evidence');
  const extra = collateral ? parseJson(readInput(collateral, '--collateral'), '--collateral') : {};
  if (kind !== undefined) {
    if (!(EVIDENCE_KINDS as readonly string[]).includes(kind))
      throw new AttestUsageError(`--kind must be one of ${EVIDENCE_KINDS.join(', ')}`);
    return {
      evidence: {
        kind: kind as EvidenceKind,
        quote: new Uint8Array(bytes),
        ...(collateral ? { collateral: extra } : {}),
      },
    };
  }
  const json = parseJson(bytes, `${path} (raw evidence needs --kind)`);
  const response = AttestationResponseSchema.safeParse(json);
  if (response.success)
    return {
      evidence: { ...fromResponse(response.data), ...(collateral ? { collateral: extra } : {}) },
      response: response.data,
    };
  const file = EvidenceFileSchema.safeParse(json);
  if (!file.success)
    throw new AttestUsageError(`${path}: neither an attestation response nor an evidence file`);
  return {
    evidence: {
      kind: file.data.kind,
      quote: base64ToBytes(file.data.quote),
      ...(file.data.collateral !== undefined ? { collateral: file.data.collateral } : {}),
      ...(collateral ? { collateral: extra } : {}),
    },
  };
}

type ExtraReason = {
  code: 'REPORT_DATA_MISMATCH' | 'NONCE_MISMATCH' | 'MEASUREMENT_NOT_ACCEPTED';
  message: string;
};

/**
 * The policy file with the SDK's trust defaults (those of `verifyAttestationResponse`): an
 * exit 0 is a verdict users act on, so an Intel TCB status of `OutOfDate*` is refused unless
 * the file names a `minTcbStatus` that accepts it.
 */
export function cliEvidencePolicy(policy: EvidencePolicy, kind: EvidenceKind): EvidencePolicy {
  return { ...policy, minTcbStatus: policy.minTcbStatus ?? defaultMinTcbStatus(kind) };
}

/**
 * `result` with `extra` reasons, and the rule `verifyAttestationResponse` applies on TDX: the
 * accepted entry that matched must pin MRTD and RTMR0–2, since MRTD measures only the firmware.
 */
function withTrustRules(
  result: EvidenceResult,
  policy: EvidencePolicy,
  extra: ExtraReason[] = [],
): EvidenceResult {
  const reasons: EvidenceResult['reasons'] = [...result.reasons, ...extra];
  const matching = policy.acceptedMeasurements.filter((e) =>
    measurementAccepted(e, result.measurements, 'mrtd'),
  );
  if (result.platform === 'tdx' && matching.length > 0 && !pinsTdxApplication(matching))
    reasons.push({ code: 'MEASUREMENT_NOT_ACCEPTED', message: TDX_PINS_MISSING });
  return { ...result, ok: result.ok && reasons.length === result.reasons.length, reasons };
}

export interface VerifyOutput {
  result: EvidenceResult;
  /** For a service response: the keys the evidence binds, once the binding was checked. */
  binding?: { enclave_pubkey: string; key_id: string; nonce: string; image_hash: string };
}

export async function attestVerify(opts: {
  target: string;
  policyPath: string;
  kind?: string;
  collateralPath?: string;
}): Promise<VerifyOutput> {
  const file = loadPolicy(opts.policyPath);
  const loaded = /^https?:\/\//i.test(opts.target)
    ? await loadFromUrl(opts.target)
    : loadFromFile(opts.target, opts.kind, opts.collateralPath);
  const policy = cliEvidencePolicy(file, loaded.evidence.kind);
  const { response } = loaded;
  if (!response)
    return { result: withTrustRules(await verifyEvidence(loaded.evidence, policy), policy) };
  // The evidence must bind exactly these keys and this nonce: make that part of the policy.
  const bound = bytesToHex(computeReportData(response));
  const extra: ExtraReason[] = [];
  if (response.report_data !== bound)
    extra.push({
      code: 'REPORT_DATA_MISMATCH',
      message: 'response report_data is not SHA-512 of its keys and nonce',
    });
  if (
    policy.expectedReportData !== undefined &&
    String(policy.expectedReportData).toLowerCase() !== bound
  )
    extra.push({
      code: 'REPORT_DATA_MISMATCH',
      message: 'policy expectedReportData differs from the response binding',
    });
  if (loaded.nonce !== undefined && response.nonce !== loaded.nonce)
    extra.push({ code: 'NONCE_MISMATCH', message: 'the service did not bind the nonce sent' });
  const result = await verifyEvidence(loaded.evidence, { ...policy, expectedReportData: bound });
  // image_hash is outside the report data: the binding printed below must not carry a claim.
  if (result.measurements[PLATFORM_EVIDENCE[response.platform].measurement] !== response.image_hash)
    extra.push({
      code: 'MEASUREMENT_NOT_ACCEPTED',
      message: 'response image_hash is not the evidence measurement',
    });
  return {
    result: withTrustRules(result, policy, extra),
    binding: {
      enclave_pubkey: response.enclave_pubkey,
      key_id: response.key_id,
      nonce: response.nonce,
      image_hash: response.image_hash,
    },
  };
}

/** The checkout the CLI runs from: the folder holding scripts/build-enclave.mjs. */
function repositoryRoot(start: string): string {
  for (let dir = resolve(start); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'scripts/build-enclave.mjs'))) return dir;
    if (dirname(dir) === dir)
      throw new AttestUsageError('attest measure: run it inside a Cloister checkout');
  }
}

export function attestMeasure(cwd = process.cwd()): { measurement: string; root: string } {
  const root = repositoryRoot(cwd);
  const out = mkdtempSync(join(tmpdir(), 'cloister-measure-'));
  try {
    const run = spawnSync(
      process.execPath,
      ['scripts/build-enclave.mjs', '--outdir', out, '--json'],
      { cwd: root, encoding: 'utf8', timeout: 120_000 },
    );
    if (run.status !== 0) throw new Error(`enclave build failed:\n${run.stderr.slice(0, 2000)}`);
    const { measurement } = JSON.parse(run.stdout.trim().split('\n').pop()!) as {
      measurement: string;
    };
    if (!/^[0-9a-f]{96}$/.test(measurement))
      throw new Error('enclave build printed no measurement');
    return { measurement, root };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
