/**
 * `cloister cluster …` (docs/operations/cluster.md, docs/protocol/cluster.md):
 *   init          --operators ops.json --threshold K --expect-measurement H [--out DIR]   genesis, attested: one .age per operator + manifest.json
 *   signing-key   --out op1-sign.key                              an operator's Ed25519 approval key
 *   approve       --proposal P --signing-key K --operator NAME      prints one approval (JSON)
 *   reshare       --proposal P --approval A1 --approval A2 --manifest M [--out DIR]   a manifest change: new split, attested
 *   check-share   --share op1.age --identity op1-key.txt --manifest manifest.json   offline: the file is this split's
 *   provide-share --share op1.age --identity op1-key.txt --manifest manifest.json [trust options]
 * provide-share decrypts the share locally with the operator's age identity, checks it against
 * the manifest, verifies the new enclave's provisioning quote against the manifest (platform,
 * measurement, debug policy, cluster id, manifest digest, the nonce it sent) and only then
 * seals the share to the quote's provisioning key. The host never sees the share in the clear.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Decrypter, armor } from 'age-encryption';
import { z } from 'zod';
import { PLATFORM_EVIDENCE, TDX_REQUIRED_PINS } from '../client/verify/verify-attestation.js';
import { verifyEvidence } from '../client/index.js';
import { ed25519 } from '@noble/curves/ed25519.js';
import {
  ApprovalSchema,
  GenesisAttestationSchema,
  ProposalSchema,
  genesisReportData,
  approvalMessage,
  type Approval,
  ManifestSchema,
  operatorListSchema,
  ProvisioningQuoteSchema,
  SHARE_PROVISION_INFO,
  ShareFileSchema,
  manifestDigest,
  provisioningReportData,
  shareDigest,
  type Manifest,
  type ShareFile,
} from '../protocol/cluster/cluster.js';
import type { PlatformName } from '../protocol/attestation/response.js';
import {
  base64ToBytes,
  bytesEqual,
  bytesToBase64,
  bytesToHex,
  utf8,
} from '../protocol/encoding.js';
import { sealEnvelopeHpke } from '../protocol/envelope/hpke.js';
import { jcsBytes } from '../protocol/jcs.js';
import { requestJson } from './http.js';

export class ClusterUsageError extends Error {}

const OperatorsFileSchema = operatorListSchema(2);

/** Equal as canonical JSON. */
const same = (x: unknown, y: unknown) => bytesEqual(jcsBytes(x), jcsBytes(y));

const GenesisResponseSchema = z.object({
  manifest: ManifestSchema,
  attestation: GenesisAttestationSchema,
  shares: z.array(z.object({ operator: z.string(), file: z.string() })),
});

export async function clusterInit(o: {
  url: string;
  operatorsFile: string;
  threshold: number;
  outDir: string;
  measurements?: string[];
  trustedSimulatedVendorKeys: string[];
}): Promise<{ manifest: Manifest; files: string[] }> {
  let parsed: ReturnType<typeof OperatorsFileSchema.safeParse> | undefined;
  try {
    parsed = OperatorsFileSchema.safeParse(JSON.parse(readFileSync(o.operatorsFile, 'utf8')));
  } catch {
    parsed = undefined;
  }
  if (!parsed?.success) {
    const twice = parsed?.error.issues.find((i) => i.code === 'custom');
    throw new ClusterUsageError(
      twice
        ? `${o.operatorsFile}: entry ${Number(twice.path[0]) + 1}: ${twice.message}; nothing sent`
        : `${o.operatorsFile}: expected a JSON array of {"name", "recipient": "age1…"}, at least two`,
    );
  }
  const operators = parsed.data;
  // The build is the operators' to name: a genesis by another build (genuine evidence of its
  // own measurement) would hold the root and could forward it to the real build later.
  if (!o.measurements?.length)
    throw new ClusterUsageError(
      'cluster init needs --expect-measurement H (repeatable): the enclave builds the cluster accepts',
    );
  refuseOverwrite(o.outDir, operators);
  const request = { operators, threshold: o.threshold, measurements: o.measurements };
  return attestedCeremony(o, 'genesis', request, (res, trust) => checkGenesis(res, request, trust));
}

type CeremonyAnswer = z.infer<typeof GenesisResponseSchema>;

/**
 * An attested ceremony (genesis, reshare): the request with a fresh nonce of ours; the answer
 * is written (never over other files) only if `check` finds no reason against it.
 */
async function attestedCeremony(
  o: { url: string; outDir: string; trustedSimulatedVendorKeys: string[] },
  step: 'genesis' | 'reshare',
  body: object,
  check: (
    res: unknown,
    trust: { nonce: string; trustedSimulatedVendorKeys: string[] },
  ) => Promise<{ reasons: string[]; response: CeremonyAnswer | null }>,
): Promise<{ manifest: Manifest; files: string[] }> {
  const nonce = randomBytes(32).toString('base64url');
  const res = await requestJson(`${o.url}/cluster/${step}`, {
    auth: true,
    method: 'POST',
    body: { ...body, nonce },
  });
  const checked = await check(res, {
    nonce,
    trustedSimulatedVendorKeys: o.trustedSimulatedVendorKeys,
  });
  if (checked.reasons.length > 0 || !checked.response)
    throw new Error(`${step} answer refused, nothing written:\n  ${checked.reasons.join('\n  ')}`);
  return writeCeremony(o.outDir, checked.response);
}

/**
 * Every reason not to keep a genesis answer; empty means the enclave itself made this manifest
 * from this request. The host relays the request, so it could have run genesis with its own
 * recipients (it would then hold every share) and handed back a manifest naming ours: the
 * evidence of the genesis context binds the manifest digest, and the manifest must say exactly
 * what the operators asked for (operators, threshold, measurements, no debug on hardware, no
 * simulated machine they did not name).
 */
export async function checkGenesis(
  response: unknown,
  request: { operators: Manifest['operators']; threshold: number; measurements: string[] },
  o: { nonce: string; trustedSimulatedVendorKeys: string[]; now?: number },
): Promise<{ reasons: string[]; response: CeremonyAnswer | null }> {
  const parsed = GenesisResponseSchema.safeParse(response);
  if (!parsed.success) return { reasons: ['response: not a genesis answer'], response: null };
  const { manifest, attestation: a, shares } = parsed.data;
  const reasons: string[] = [];
  if (!same(manifest.operators, request.operators))
    reasons.push('manifest: operators differ from the operators file');
  if (manifest.threshold !== request.threshold) reasons.push('manifest: threshold differs');
  if (manifest.epoch !== 1) reasons.push('manifest: a genesis manifest is epoch 1');
  if (!same([...manifest.measurements].sort(), [...request.measurements].sort()))
    reasons.push('manifest: measurements differ from the ones asked for');
  if (manifest.platform.name !== a.platform)
    reasons.push('manifest: platform is not the enclave’s');
  if (manifest.platform.allow_debug !== (a.platform === 'simulated'))
    reasons.push('manifest: debug policy differs from the default');
  if (manifest.platform.simulated_vendor_keys !== undefined)
    reasons.push('manifest: names simulated machines nobody asked for');
  if (
    !same(
      shares.map((s) => s.operator),
      request.operators.map((op) => op.name),
    )
  )
    reasons.push('shares: not one per operator');
  reasons.push(...(await splitEvidenceReasons(parsed.data, manifest, o)));
  return { reasons, response: parsed.data };
}

/**
 * The evidence of a split's answer (genesis, reshare): our nonce, the genesis context over the
 * answer's manifest, and an enclave `admitting` (a manifest) accepts.
 */
async function splitEvidenceReasons(
  answer: CeremonyAnswer,
  admitting: Manifest,
  o: { nonce: string; trustedSimulatedVendorKeys: string[]; now?: number },
): Promise<string[]> {
  const { manifest, attestation: a } = answer;
  const reasons = a.nonce !== o.nonce ? ['nonce differs from the one sent'] : [];
  const reportData = genesisReportData({
    cluster_id: manifest.cluster_id,
    manifest_digest: manifestDigest(manifest),
    nonce: o.nonce,
  });
  return [...reasons, ...(await evidenceReasons(a, reportData, admitting, o))];
}

/** The evidence of `q` against the manifest's policy and the report data it must bind. */
async function evidenceReasons(
  q: { platform: PlatformName; quote: string; image_hash: string; report_data: string },
  reportData: Uint8Array,
  manifest: Manifest,
  o: { trustedSimulatedVendorKeys: string[]; now?: number },
): Promise<string[]> {
  // A manifest entry is a plain measurement: on TDX that is MRTD, the virtual firmware alone,
  // which any OS and application on it share (they are measured in RTMR0–2). Until a manifest
  // can pin those, a TDX quote gets no genesis and no share (a guest on that firmware running
  // the host's own code would otherwise hold the cluster root).
  if (q.platform === 'tdx')
    return [
      `platform: a cluster manifest cannot pin ${TDX_REQUIRED_PINS.join(', ')} yet; MRTD alone accepts any OS and application on that firmware, so TDX clusters are refused`,
    ];
  const reasons: string[] = [];
  const map = PLATFORM_EVIDENCE[q.platform];
  const ev = await verifyEvidence(
    { kind: map.kind, quote: base64ToBytes(q.quote) },
    {
      acceptedMeasurements: manifest.measurements,
      expectedReportData: reportData,
      allowDebug: manifest.platform.allow_debug,
      pinnedRoots: { simulatedVendorKeys: o.trustedSimulatedVendorKeys },
      ...(o.now !== undefined ? { now: o.now } : {}),
    },
  );
  for (const r of ev.reasons) reasons.push(`evidence: ${r.message}`);
  const measurement = ev.measurements[map.measurement];
  if (!measurement || !manifest.measurements.includes(measurement))
    reasons.push('measurement is not accepted by the manifest');
  if (measurement !== q.image_hash) reasons.push('measurement differs from image_hash');
  if (ev.reportData !== bytesToHex(reportData) || q.report_data !== bytesToHex(reportData))
    reasons.push('report data does not bind the fields of the answer');
  return reasons;
}

/** The share file inside an age file, opened with an age identity file (`age-keygen` output). */
export async function decryptShare(ageFile: string, identityFile: string): Promise<ShareFile> {
  const identities = readFileSync(identityFile, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('AGE-SECRET-KEY-'));
  if (identities.length === 0) throw new ClusterUsageError(`${identityFile}: no age identity`);
  const d = new Decrypter();
  for (const id of identities) d.addIdentity(id);
  const text = readFileSync(ageFile, 'utf8');
  const bytes = text.startsWith('-----BEGIN AGE') ? armor.decode(text) : readFileSync(ageFile);
  const plain = await d.decrypt(bytes);
  try {
    return ShareFileSchema.parse(JSON.parse(utf8.decode(plain)));
  } finally {
    plain.fill(0);
  }
}

export function readManifest(path: string): Manifest {
  return ManifestSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
}

/** Every reason the quote must not get the share; empty means it may. */
export async function checkProvisioningQuote(
  quote: unknown,
  manifest: Manifest,
  o: { nonce: string; trustedSimulatedVendorKeys: string[]; now?: number },
): Promise<{ reasons: string[]; quote: z.infer<typeof ProvisioningQuoteSchema> | null }> {
  const parsed = ProvisioningQuoteSchema.safeParse(quote);
  if (!parsed.success) return { reasons: ['response: not a provisioning quote'], quote: null };
  const q = parsed.data;
  const reasons: string[] = [];
  if (q.platform !== manifest.platform.name) reasons.push('platform is not the manifest’s');
  if (q.cluster_id !== manifest.cluster_id) reasons.push('cluster id is not the manifest’s');
  if (q.manifest_digest !== manifestDigest(manifest))
    reasons.push('the enclave was given another manifest');
  if (q.nonce !== o.nonce) reasons.push('nonce differs from the one sent');
  reasons.push(...(await evidenceReasons(q, provisioningReportData(q), manifest, o)));
  return { reasons, quote: q };
}

export async function provideShare(o: {
  url: string;
  sharePath: string;
  identityPath: string;
  manifestPath: string;
  trustedSimulatedVendorKeys: string[];
}): Promise<{ index: number; operator: string; have: number; threshold: number }> {
  const manifest = readManifest(o.manifestPath);
  const share = await decryptShare(o.sharePath, o.identityPath);
  return submitShareFile({ url: o.url, share, manifest, trust: o.trustedSimulatedVendorKeys });
}

/** Why `share` is not a share of `manifest`'s split (null: it is, by the manifest's digest). */
export function shareMismatch(share: ShareFile, manifest: Manifest): string | null {
  if (share.cluster_id !== manifest.cluster_id)
    return 'the share belongs to another cluster than the manifest';
  if (share.epoch !== manifest.epoch)
    return `the share is of split epoch ${share.epoch}; the manifest's is ${manifest.epoch}`;
  if (manifest.share_digests[share.index - 1] !== shareDigest(share))
    return `share ${share.index} (${share.operator}) does not match the manifest`;
  return null;
}

/**
 * `cloister cluster check-share`: right after a ceremony, each operator opens its own file and
 * checks it against the attested manifest, offline. The files reach the operators through the
 * host, which cannot make one that matches the manifest's digest, but can hand over garbage that
 * only a restore would otherwise reveal.
 */
export async function clusterCheckShare(o: {
  sharePath: string;
  identityPath: string;
  manifestPath: string;
}): Promise<{ index: number; operator: string; epoch: number; cluster_id: string }> {
  const manifest = readManifest(o.manifestPath);
  const share = await decryptShare(o.sharePath, o.identityPath);
  const mismatch = shareMismatch(share, manifest);
  if (mismatch) throw new Error(mismatch);
  return {
    index: share.index,
    operator: share.operator,
    epoch: share.epoch,
    cluster_id: share.cluster_id,
  };
}

/** Checks one decrypted share file and the instance's quote, then sends the sealed share. */
export async function submitShareFile(o: {
  url: string;
  share: ShareFile;
  manifest: Manifest;
  trust: string[];
}): Promise<{ index: number; operator: string; have: number; threshold: number }> {
  const { share, manifest } = o;
  // Checked before anything is sent: the wrong cluster, an old split or a damaged file.
  const mismatch = shareMismatch(share, manifest);
  if (mismatch) throw new Error(mismatch);
  const nonce = randomBytes(32).toString('base64url');
  const quote = await requestJson(`${o.url}/attestation/quote?nonce=${nonce}`);
  const checked = await checkProvisioningQuote(quote, manifest, {
    nonce,
    trustedSimulatedVendorKeys: o.trust,
  });
  if (checked.reasons.length > 0 || !checked.quote)
    throw new Error(`provisioning quote refused, nothing sent:\n  ${checked.reasons.join('\n  ')}`);
  const bytes = jcsBytes(share);
  const sealed = await sealEnvelopeHpke(
    'HPKE-Base-X25519-SHA256-A256GCM',
    base64ToBytes(checked.quote.provisioning_key),
    bytes,
    { info: SHARE_PROVISION_INFO },
  );
  bytes.fill(0);
  return z
    .object({ index: z.number(), operator: z.string(), have: z.number(), threshold: z.number() })
    .parse(
      await requestJson(`${o.url}/cluster/shares`, {
        auth: true,
        method: 'POST',
        body: {
          manifest_digest: manifestDigest(manifest),
          provisioning_key: checked.quote.provisioning_key,
          enc: sealed.enc,
          ciphertext: sealed.ciphertext,
        },
      }),
    );
}

/** `cloister cluster signing-key --out F`: a new Ed25519 operator signing key (seed, base64). */
export function clusterSigningKey(outPath: string): { signing_key: string } {
  const seed = randomBytes(32);
  writeFileSync(outPath, `${seed.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  const pub = ed25519.getPublicKey(seed);
  seed.fill(0);
  return { signing_key: bytesToBase64(pub) };
}

/** `cloister cluster approve --proposal P --signing-key K --operator NAME`: one approval. */
export function clusterApprove(o: {
  proposalPath: string;
  signingKeyPath: string;
  operator: string;
}): Approval {
  const proposal = ProposalSchema.parse(JSON.parse(readFileSync(o.proposalPath, 'utf8')));
  const seed = base64ToBytes(readFileSync(o.signingKeyPath, 'utf8').trim());
  if (seed.length !== 32) throw new ClusterUsageError(`${o.signingKeyPath}: not a signing key`);
  const signature = ed25519.sign(approvalMessage(proposal), seed);
  seed.fill(0);
  return { operator: o.operator, signature: bytesToBase64(signature) };
}

/**
 * `cloister cluster reshare --proposal P --approval A… --manifest M --out DIR`: the new split's
 * files, kept only if the evidence shows a member admitted by the current manifest `M` made
 * exactly the approved split.
 */
export async function clusterReshare(o: {
  url: string;
  proposalPath: string;
  approvalPaths: string[];
  manifestPath: string;
  outDir: string;
  trustedSimulatedVendorKeys: string[];
}): Promise<{ manifest: Manifest; files: string[] }> {
  const proposal = ProposalSchema.parse(JSON.parse(readFileSync(o.proposalPath, 'utf8')));
  const approvals = o.approvalPaths.map((p) =>
    ApprovalSchema.parse(JSON.parse(readFileSync(p, 'utf8'))),
  );
  const current = readManifest(o.manifestPath);
  if (proposal.cluster_id !== current.cluster_id || proposal.from_epoch !== current.epoch)
    throw new ClusterUsageError(
      `${o.proposalPath} does not change ${o.manifestPath} (another cluster or epoch); nothing sent`,
    );
  // The enclave resplits before its answer is checked: what would fail the check for sure is
  // refused before the request, not after the old split is superseded.
  if (current.platform.name === 'simulated' && o.trustedSimulatedVendorKeys.length === 0)
    throw new ClusterUsageError(
      'a simulated cluster: name the machines you trust (--trust-simulated-key[-file]); nothing sent',
    );
  refuseOverwrite(o.outDir, proposal.operators);
  return attestedCeremony(o, 'reshare', { proposal, approvals }, (res, trust) =>
    checkReshare(res, proposal, current, trust),
  );
}

/**
 * Every reason not to keep a reshare answer: it must be the approved proposal, and carry
 * evidence (the genesis context, over the new manifest's digest and our nonce) of an enclave
 * the current manifest admits. Without it, a host could answer with a manifest equal to the
 * proposal whose digests commit to share files of its own making (garbage that passes every
 * later check, until a restore fails).
 */
export async function checkReshare(
  response: unknown,
  proposal: z.infer<typeof ProposalSchema>,
  current: Manifest,
  o: { nonce: string; trustedSimulatedVendorKeys: string[]; now?: number },
): Promise<{ reasons: string[]; response: CeremonyAnswer | null }> {
  const parsed = GenesisResponseSchema.safeParse(response);
  if (!parsed.success) return { reasons: ['response: not a reshare answer'], response: null };
  const reasons = reshareReasons(parsed.data, proposal);
  reasons.push(...(await splitEvidenceReasons(parsed.data, current, o)));
  return { reasons, response: parsed.data };
}

/**
 * The new manifest must be the approved proposal: operators keep it as their manifest.json and
 * check every later quote against it, so a host that added its own build's measurement (or a
 * simulated vendor key, or debug) would be sent their shares.
 */
export function reshareReasons(
  res: { manifest: Manifest; shares: { operator: string }[] },
  proposal: z.infer<typeof ProposalSchema>,
): string[] {
  const m = res.manifest;
  const reasons: string[] = [];
  if (m.cluster_id !== proposal.cluster_id) reasons.push('manifest: another cluster');
  if (m.epoch !== proposal.from_epoch + 1) reasons.push('manifest: not the next epoch');
  if (m.threshold !== proposal.threshold) reasons.push('manifest: threshold differs');
  if (!same(m.operators, proposal.operators)) reasons.push('manifest: operators differ');
  if (!same(m.measurements, proposal.measurements)) reasons.push('manifest: measurements differ');
  if (!same(m.platform, proposal.platform)) reasons.push('manifest: platform policy differs');
  if (
    !same(
      res.shares.map((x) => x.operator),
      proposal.operators.map((op) => op.name),
    )
  )
    reasons.push('shares: not one per operator');
  return reasons;
}

/** The files a ceremony writes: one `<name>.age` per operator and `manifest.json`. */
const ceremonyPaths = (outDir: string, names: string[]) => [
  ...names.map((name) => join(outDir, `${name}.age`)),
  join(outDir, 'manifest.json'),
];

/**
 * Checked before the request: an earlier ceremony's files (the previous split, the backup until
 * the new one is known good) are never overwritten, and the enclave is not asked to resplit
 * when its answer could not be written (it hands the new shares out once only).
 */
function refuseOverwrite(outDir: string, operators: { name: string }[]): void {
  const taken = ceremonyPaths(
    outDir,
    operators.map((op) => op.name),
  ).filter((p) => existsSync(p));
  if (taken.length > 0)
    throw new ClusterUsageError(
      `${taken.join(', ')} exists: write each ceremony to a new --out directory (nothing was sent)`,
    );
}

function writeCeremony(
  outDir: string,
  res: { manifest: Manifest; shares: { operator: string; file: string }[] },
): { manifest: Manifest; files: string[] } {
  mkdirSync(outDir, { recursive: true });
  const paths = ceremonyPaths(
    outDir,
    res.shares.map((s) => s.operator),
  );
  const files = paths.slice(0, -1);
  // 'wx': never over an existing file (refuseOverwrite checked before the request).
  res.shares.forEach((s, i) => writeFileSync(files[i]!, s.file, { mode: 0o600, flag: 'wx' }));
  writeFileSync(paths[paths.length - 1]!, `${JSON.stringify(res.manifest, null, 2)}\n`, {
    flag: 'wx',
  });
  return { manifest: res.manifest, files };
}
