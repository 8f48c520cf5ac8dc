/**
 * Cluster methods (docs/protocol/cluster.md). The root is born in `cluster.genesis` and leaves
 * the enclave only as age-encrypted share files (one per operator) and, sealed to this
 * platform, as the local copy the host keeps in DATA_DIR. An enclave without it
 * (`cluster.await_quorum`) binds a one-time provisioning key into its quote and accepts shares
 * HPKE-sealed to that key; at the threshold it combines them and keeps the root only if it
 * derives the manifest's cluster id. `cluster.unlock` is the one way a root is adopted.
 */
import { generateKeyPairSync } from 'node:crypto';
import { Encrypter, armor } from 'age-encryption';
import { z } from 'zod';
import { ed25519 } from '@noble/curves/ed25519.js';
import {
  approvalMessage,
  FORWARD_FORMAT,
  forwardInfo,
  genesisReportData,
  forwardNonce,
  MANIFEST_FORMAT,
  SHARE_FORMAT,
  SHARE_PROVISION_INFO,
  ShareFileSchema,
  manifestDigest,
  provisioningReportData,
  shareDigest,
  type Manifest,
  type ShareFile,
} from '../../protocol/cluster/cluster.js';
import {
  base64Bytes,
  base64ToBytes,
  bytesEqual,
  bytesToBase64,
  bytesToHex,
  hexToBytes,
  utf8,
} from '../../protocol/encoding.js';
import { openEnvelopeHpke, sealEnvelopeHpke } from '../../protocol/envelope/hpke.js';
import type { X25519Recipient } from '../../protocol/envelope/primitives.js';
import { computeReportData } from '../../protocol/attestation/report-data.js';
import { checkPeerEvidence } from '../cluster/peer-evidence.js';
import type { QuorumState } from '../cluster/cluster-state.js';
import { attestation } from './attestation.js';
import { jcsBytes } from '../../protocol/jcs.js';
import { RpcError } from '../../protocol/rpc/errors.js';
import type { MethodParams, MethodResult, SealPolicy } from '../../protocol/rpc/methods.js';
import { unwrap, wrap } from '../cluster/cluster-sealer.js';
import {
  checkClusterId,
  checkManifestMac,
  clusterIdOf,
  generateRoot,
  manifestMac,
} from '../cluster/root.js';
import { checkGenesisPolicy } from '../cluster/genesis-policy.js';
import { combineShares, splitRoot } from '../cluster/shamir.js';
import { x25519RawPrivate, x25519RawPublic } from '../crypto/node-primitives.js';
import { platformSealer } from '../keyring/seal.js';
import type { SealableKeyring } from '../keyring/keyring-slot.js';
import { dropPasswordRoots, passwordKeySource, readyKeyring, type EnclaveState } from '../state.js';

const LOCAL_ROOT_FORMAT = 'cloister-cluster-local-root/v1';
const CARRY_FORMAT = 'cloister-cluster-carry/v1';
const LocalRootSchema = z
  .object({
    format: z.literal(LOCAL_ROOT_FORMAT),
    cluster_id: z.string(),
    /** The newest manifest epoch this machine has seen: an older manifest is refused. */
    epoch: z.number().int().positive(),
    root: base64Bytes(32),
  })
  .strict();
const CarrySchema = z
  .object({ format: z.literal(CARRY_FORMAT), password_key: base64Bytes(32) })
  .strict();

function wrapKeyring(root: Uint8Array, keyring: SealableKeyring, policy: SealPolicy) {
  const bytes = keyring.serialize();
  try {
    return { generation: keyring.generation, sealed: wrap(root, bytes, policy) };
  } finally {
    bytes.fill(0);
  }
}

/** The root sealed to this platform, for this machine's next start (no quorum needed). */
function sealLocalRoot(
  state: EnclaveState,
  root: Uint8Array,
  policy: SealPolicy,
  epoch: number,
): string {
  const doc = jcsBytes({
    format: LOCAL_ROOT_FORMAT,
    cluster_id: clusterIdOf(root),
    epoch,
    root: bytesToBase64(root),
  });
  try {
    return platformSealer(state.platform).seal(doc, policy);
  } finally {
    doc.fill(0);
  }
}

async function ageEncrypt(recipient: string, plaintext: Uint8Array): Promise<string> {
  const e = new Encrypter();
  e.addRecipient(recipient);
  return armor.encode(await e.encrypt(plaintext));
}

type SplitSpec = Pick<Manifest, 'operators' | 'threshold' | 'measurements' | 'platform'>;

/** A split of `root` for epoch `epoch`: the manifest committing to it and the age files. */
async function splitToManifest(
  state: EnclaveState,
  root: Uint8Array,
  epoch: number,
  spec: SplitSpec,
): Promise<{ manifest: Manifest; shares: { operator: string; index: number; file: string }[] }> {
  const clusterId = clusterIdOf(root);
  const raw = await splitRoot(root, spec.operators.length, spec.threshold);
  const files: ShareFile[] = spec.operators.map((op, i) => ({
    format: SHARE_FORMAT,
    cluster_id: clusterId,
    epoch,
    index: i + 1,
    threshold: spec.threshold,
    operator: op.name,
    share: bytesToBase64(raw[i]!),
  }));
  for (const s of raw) s.fill(0);
  const manifest: Manifest = {
    format: MANIFEST_FORMAT,
    cluster_id: clusterId,
    epoch,
    threshold: spec.threshold,
    operators: spec.operators,
    share_digests: files.map(shareDigest),
    measurements: spec.measurements,
    platform: spec.platform,
    created_at: state.now(),
  };
  const shares = await Promise.all(
    files.map(async (f, i) => {
      const bytes = jcsBytes(f);
      try {
        return {
          operator: f.operator,
          index: f.index,
          file: await ageEncrypt(spec.operators[i]!.recipient, bytes),
        };
      } finally {
        bytes.fill(0);
      }
    }),
  );
  return { manifest, shares };
}

/**
 * Evidence that this enclave made the split whose manifest has `digest` (genesis and reshare):
 * its own report-data context, so no ordinary attestation (of a nonce the host picks) stands
 * for it, and the operator's nonce.
 */
async function splitAttestation(
  state: EnclaveState,
  clusterId: string,
  digest: string,
  nonce: string,
) {
  const reportData = genesisReportData({ cluster_id: clusterId, manifest_digest: digest, nonce });
  return {
    quote: bytesToBase64(await state.platform.evidence(reportData)),
    image_hash: state.platform.measurement,
    platform: state.platform.name,
    report_data: bytesToHex(reportData),
    nonce,
  };
}

export async function clusterGenesis(
  state: EnclaveState,
  params: MethodParams<'cluster.genesis'>,
): Promise<MethodResult<'cluster.genesis'>> {
  if (state.cluster) throw new RpcError('CLUSTER_EXISTS');
  checkGenesisPolicy(state);
  const credential = readyKeyring(state);
  const auth = state.keyrings.auth.active;
  if (!auth || !state.policy) throw new RpcError('AUTH_NOT_READY');
  if (params.platform.name !== state.platform.name) throw new RpcError('PARAMS_INVALID');
  const policy = state.policy;
  const wallet = state.keyrings.wallet.active;
  const root = generateRoot();
  // Kept only by the genesis that completes: a failed or a concurrent one's root is nobody's.
  try {
    const clusterId = clusterIdOf(root);
    const { nonce, ...spec } = params;
    const { manifest, shares } = await splitToManifest(state, root, 1, spec);
    const digest = manifestDigest(manifest);
    // The operators accept this manifest only with evidence of its own context binding it: a
    // host that ran genesis with its own recipients cannot pass a manifest off as this one.
    const attestation = await splitAttestation(state, clusterId, digest, nonce);
    // Another genesis (the host relays on several connections) may have completed during the
    // awaits above: two roots would wrap the same keyrings, one of them the host's. From here on
    // nothing awaits, so this check and the root's assignment below are one step.
    if (state.cluster) throw new RpcError('CLUSTER_EXISTS');
    // Conversion in place: the keyrings in use are wrapped as they are, not regenerated; so is
    // the password-sealing root, so stored password hashes keep opening on every member.
    // The copy is kept only by a genesis that completes: every other path wipes it.
    const passwordKey = passwordKeySource(state).sealingKey(policy);
    let carryDoc: Uint8Array | undefined;
    try {
      carryDoc = jcsBytes({ format: CARRY_FORMAT, password_key: bytesToBase64(passwordKey) });
      const result = {
        manifest,
        manifest_digest: digest,
        attestation,
        wrapped: {
          credential: wrapKeyring(root, credential, policy),
          auth: wrapKeyring(root, auth, policy),
          // Wallet records and server shares depend on this keyring: a member must open it too.
          wallet: wallet ? wrapKeyring(root, wallet, policy) : null,
          carry: wrap(root, carryDoc, policy),
        },
        local_root: sealLocalRoot(state, root, policy, manifest.epoch),
        manifest_mac: manifestMac(root, manifest),
        shares,
      };
      state.cluster = { root, clusterId, manifest, passwordKey };
      dropPasswordRoots(state);
      // A rotation prepared before is platform-sealed: stored and activated, it would be the
      // newest generation, which no member opens (a member opens wrapped blobs only).
      for (const slot of Object.values(state.keyrings)) slot.dropPending();
      return result;
    } finally {
      carryDoc?.fill(0);
      if (state.cluster?.passwordKey !== passwordKey) passwordKey.fill(0);
    }
  } finally {
    if (state.cluster?.root !== root) root.fill(0);
  }
}

export function clusterUnlock(
  state: EnclaveState,
  params: MethodParams<'cluster.unlock'>,
): MethodResult<'cluster.unlock'> {
  const { plaintext } = platformSealer(state.platform).unseal(params.local_root);
  let root: Uint8Array;
  let epoch: number;
  try {
    const doc = LocalRootSchema.parse(JSON.parse(utf8.decode(plaintext)));
    root = base64ToBytes(doc.root);
    epoch = doc.epoch;
  } catch {
    throw new RpcError('SEAL_INVALID');
  } finally {
    plaintext.fill(0);
  }
  let passwordKey: Uint8Array;
  try {
    checkClusterId(root, params.manifest.cluster_id);
    // The host keeps the manifest: it must be one this cluster made, and not older than this
    // machine has seen (a rollback could re-admit a measurement that was removed).
    checkManifestMac(root, params.manifest, params.manifest_mac);
    if (params.manifest.epoch < epoch) throw new RpcError('CLUSTER_MANIFEST_MISMATCH');
    passwordKey = openCarry(root, params.carry);
  } catch (err) {
    // Refused: this copy of the root is nobody's.
    root.fill(0);
    throw err;
  }
  // Unlocked again before the keyrings load (awaiting_keyring allows it): drop the old copy.
  const previous = state.cluster;
  state.cluster = {
    root,
    clusterId: params.manifest.cluster_id,
    manifest: params.manifest,
    passwordKey,
  };
  if (previous) {
    previous.root.fill(0);
    previous.passwordKey.fill(0);
  }
  dropPasswordRoots(state);
  return { cluster_id: params.manifest.cluster_id };
}

/** The password-sealing root carried under the cluster root (`cloister-cluster-carry/v1`). */
function openCarry(root: Uint8Array, carry: string): Uint8Array {
  const { plaintext } = unwrap(root, carry);
  try {
    return base64ToBytes(CarrySchema.parse(JSON.parse(utf8.decode(plaintext))).password_key);
  } catch {
    throw new RpcError('SEAL_INVALID');
  } finally {
    plaintext.fill(0);
  }
}

export function clusterAwaitQuorum(
  state: EnclaveState,
  params: MethodParams<'cluster.await_quorum'>,
): MethodResult<'cluster.await_quorum'> {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  const pub = x25519RawPublic(publicKey);
  state.quorum = {
    manifest: params.manifest,
    manifestDigest: manifestDigest(params.manifest),
    manifestMac: params.manifest_mac,
    policy: params.policy,
    provisioning: { privateKey, publicKey: pub },
    issued: new Set(),
    shares: new Map(),
  };
  state.phase = 'awaiting_quorum';
  return { provisioning_key: bytesToBase64(pub) };
}

/** The provisioning key as an HPKE recipient (the raw private scalar is wiped after use). */
function provisioningRecipient(q: QuorumState): X25519Recipient {
  return {
    keyId: '',
    publicKey: q.provisioning.publicKey,
    agree: () => {
      throw new Error('HPKE only');
    },
    privateKey: () => x25519RawPrivate(q.provisioning.privateKey),
  };
}

function quorumOf(state: EnclaveState) {
  if (!state.quorum) throw new Error('no quorum state in awaiting_quorum');
  return state.quorum;
}

export async function clusterQuote(
  state: EnclaveState,
  params: MethodParams<'cluster.quote'>,
): Promise<MethodResult<'cluster.quote'>> {
  const q = quorumOf(state);
  const binding = {
    provisioning_key: bytesToBase64(q.provisioning.publicKey),
    cluster_id: q.manifest.cluster_id,
    manifest_digest: q.manifestDigest,
    nonce: params.nonce,
  };
  const reportData = provisioningReportData(binding);
  // Remember the host's recent join quotes: a forwarded root must answer one of them (bounded).
  // Only those: quotes for operators are served to anyone, and would push a join's out.
  if (params.join) {
    if (q.issued.size >= 64) q.issued.clear();
    q.issued.add(bytesToHex(reportData));
  }
  return {
    phase: 'awaiting_quorum',
    quote: bytesToBase64(await state.platform.evidence(reportData)),
    image_hash: state.platform.measurement,
    platform: state.platform.name,
    report_data: bytesToHex(reportData),
    ...binding,
  };
}

function wipeShares(q: QuorumState): void {
  for (const s of q.shares.values()) s.fill(0);
  q.shares.clear();
}

/** The root is known (shares or a member): no share accepted so far is needed any more. */
function quorumDone(state: EnclaveState, q: QuorumState): void {
  wipeShares(q);
  state.quorum = null;
  state.phase = 'awaiting_keyring';
}

async function openShare(state: EnclaveState, sub: MethodParams<'cluster.submit_share'>) {
  const q = quorumOf(state);
  if (sub.manifest_digest !== q.manifestDigest) throw new RpcError('CLUSTER_MANIFEST_MISMATCH');
  // Sealed to an earlier provisioning key (e.g. before a restart): it cannot open here.
  if (sub.provisioning_key !== bytesToBase64(q.provisioning.publicKey))
    throw new RpcError('CLUSTER_SHARE_INVALID');
  let bytes: Uint8Array;
  try {
    bytes = await openEnvelopeHpke(
      provisioningRecipient(q),
      { alg: 'HPKE-Base-X25519-SHA256-A256GCM', enc: sub.enc, ciphertext: sub.ciphertext },
      SHARE_PROVISION_INFO,
    );
  } catch {
    throw new RpcError('CLUSTER_SHARE_INVALID');
  }
  try {
    const parsed = ShareFileSchema.safeParse(JSON.parse(utf8.decode(bytes)));
    if (!parsed.success) throw new RpcError('CLUSTER_SHARE_INVALID');
    return parsed.data;
  } catch (err) {
    throw err instanceof RpcError ? err : new RpcError('CLUSTER_SHARE_INVALID');
  } finally {
    bytes.fill(0);
  }
}

export async function clusterSubmitShare(
  state: EnclaveState,
  params: MethodParams<'cluster.submit_share'>,
): Promise<MethodResult<'cluster.submit_share'>> {
  const q = quorumOf(state);
  const m = q.manifest;
  const file = await openShare(state, params);
  if (file.cluster_id !== m.cluster_id) throw new RpcError('CLUSTER_ID_MISMATCH');
  if (file.epoch < m.epoch) throw new RpcError('CLUSTER_SHARE_SUPERSEDED');
  if (file.epoch !== m.epoch) throw new RpcError('CLUSTER_SHARE_INVALID');
  // Each share is committed to in the manifest: an altered one is named, not just "no root".
  const expected = m.share_digests[file.index - 1];
  if (
    expected === undefined ||
    file.threshold !== m.threshold ||
    m.operators[file.index - 1]?.name !== file.operator ||
    !bytesEqual(hexToBytes(shareDigest(file)), hexToBytes(expected))
  )
    throw new RpcError('CLUSTER_SHARE_ALTERED');
  // A replayed submission replaces the same share: wipe the copy it replaces.
  q.shares.get(file.index)?.fill(0);
  q.shares.set(file.index, base64ToBytes(file.share));
  const base = { index: file.index, operator: file.operator, have: q.shares.size };
  if (q.shares.size < m.threshold) return { ...base, threshold: m.threshold, local_root: null };
  const root = await combineShares([...q.shares.values()]);
  try {
    wipeShares(q);
    checkClusterId(root, m.cluster_id);
    checkManifestMac(root, m, q.manifestMac);
    const localRoot = sealLocalRoot(state, root, q.policy, m.epoch);
    // The root is adopted only through `cluster.unlock`, the same path as a restart.
    quorumDone(state, q);
    return { ...base, threshold: m.threshold, local_root: localRoot };
  } finally {
    root.fill(0);
  }
}

/**
 * Join, member side: the newcomer's provisioning quote must satisfy this enclave's manifest;
 * the answer is this enclave's own attestation, whose nonce binds the newcomer's report data,
 * and the root HPKE-sealed to the newcomer's provisioning key with both report datas as info.
 */
export async function clusterForward(
  state: EnclaveState,
  params: MethodParams<'cluster.forward'>,
): Promise<MethodResult<'cluster.forward'>> {
  const c = state.cluster;
  if (!c) throw new RpcError('CLUSTER_LOCKED');
  const q = params.quote;
  if (q.cluster_id !== c.clusterId || q.manifest_digest !== manifestDigest(c.manifest))
    throw new RpcError('CLUSTER_PEER_REFUSED');
  // The clock that never goes back in this process: the host sets a TEE's clock, and turning
  // it back would make a join request it kept fresh again.
  const now = state.monotonicNow();
  await checkPeerEvidence(c.manifest, q, provisioningReportData(q), params.collateral, now);
  const member = await attestation(state, { nonce: forwardNonce(q.report_data) });
  const doc = jcsBytes({
    format: FORWARD_FORMAT,
    cluster_id: c.clusterId,
    root: bytesToBase64(c.root),
  });
  try {
    const sealed = await sealEnvelopeHpke(
      'HPKE-Base-X25519-SHA256-A256GCM',
      base64ToBytes(q.provisioning_key),
      doc,
      { info: forwardInfo(q.report_data, member.report_data) },
    );
    return { member, enc: sealed.enc, ciphertext: sealed.ciphertext };
  } finally {
    doc.fill(0);
  }
}

const ForwardDocSchema = z
  .object({ format: z.literal(FORWARD_FORMAT), cluster_id: z.string(), root: base64Bytes(32) })
  .strict();

/** Join, newcomer side: the member must satisfy the manifest and answer one of our quotes. */
export async function clusterAcceptForward(
  state: EnclaveState,
  params: MethodParams<'cluster.accept_forward'>,
): Promise<MethodResult<'cluster.accept_forward'>> {
  const q = quorumOf(state);
  const m = params.forward.member;
  if (
    !q.issued.has(params.quote_report_data) ||
    m.cluster_id !== q.manifest.cluster_id ||
    m.nonce !== forwardNonce(params.quote_report_data)
  )
    throw new RpcError('CLUSTER_PEER_REFUSED');
  await checkPeerEvidence(q.manifest, m, computeReportData(m), params.collateral, state.now());
  let bytes: Uint8Array;
  try {
    bytes = await openEnvelopeHpke(
      provisioningRecipient(q),
      {
        alg: 'HPKE-Base-X25519-SHA256-A256GCM',
        enc: params.forward.enc,
        ciphertext: params.forward.ciphertext,
      },
      forwardInfo(params.quote_report_data, m.report_data),
    );
  } catch {
    throw new RpcError('CLUSTER_PEER_REFUSED');
  }
  let root: Uint8Array;
  try {
    root = base64ToBytes(ForwardDocSchema.parse(JSON.parse(utf8.decode(bytes))).root);
  } catch {
    throw new RpcError('CLUSTER_PEER_REFUSED');
  } finally {
    bytes.fill(0);
  }
  try {
    checkClusterId(root, q.manifest.cluster_id);
    checkManifestMac(root, q.manifest, q.manifestMac);
    const localRoot = sealLocalRoot(state, root, q.policy, q.manifest.epoch);
    quorumDone(state, q);
    return { local_root: localRoot };
  } finally {
    root.fill(0);
  }
}

/**
 * Reshare (also how any manifest change is made): approvals by `threshold` distinct operators
 * of the CURRENT manifest, each an Ed25519 signature under that operator's `signing_key`; then
 * a new split of the same root, epoch + 1. Shares of older epochs are refused from then on.
 */
export async function clusterReshare(
  state: EnclaveState,
  params: MethodParams<'cluster.reshare'>,
): Promise<MethodResult<'cluster.reshare'>> {
  const c = state.cluster;
  if (!c) throw new RpcError('CLUSTER_LOCKED');
  const { proposal, approvals } = params;
  if (proposal.cluster_id !== c.clusterId || proposal.from_epoch !== c.manifest.epoch)
    throw new RpcError('CLUSTER_PROPOSAL_STALE');
  if (proposal.platform.name !== state.platform.name) throw new RpcError('PARAMS_INVALID');
  const message = approvalMessage(proposal);
  const approvedBy = new Set<string>();
  for (const a of approvals) {
    const op = c.manifest.operators.find((o) => o.name === a.operator);
    if (!op?.signing_key) continue;
    let ok = false;
    try {
      // RFC 8032 rules, not ZIP-215: a small-order key would make (identity, 0) verify for
      // any message, so whoever relays approvals could approve for that operator.
      ok = ed25519.verify(base64ToBytes(a.signature), message, base64ToBytes(op.signing_key), {
        zip215: false,
      });
    } catch {
      ok = false;
    }
    if (ok) approvedBy.add(op.name);
  }
  if (approvedBy.size < c.manifest.threshold) throw new RpcError('CLUSTER_APPROVALS_INSUFFICIENT');
  const { manifest, shares } = await splitToManifest(state, c.root, c.manifest.epoch + 1, proposal);
  const digest = manifestDigest(manifest);
  // The answer reaches the operators through the host: without evidence, a manifest equal to
  // the proposal with digests of garbage share files would pass for the new backup.
  const attestation = await splitAttestation(state, c.clusterId, digest, params.nonce);
  // Another reshare of the same proposal (the host relays on several connections) may have
  // completed during the awaits: two share sets of one epoch, the enclave keeping the last. From
  // here on nothing awaits, so this check and the new manifest's assignment are one step.
  if (state.cluster !== c) throw new RpcError('CLUSTER_PROPOSAL_STALE');
  state.cluster = { ...c, manifest };
  return {
    manifest,
    manifest_digest: digest,
    attestation,
    manifest_mac: manifestMac(c.root, manifest),
    // This machine's copy now remembers the new epoch (older manifests are refused at unlock).
    local_root: sealLocalRoot(state, c.root, state.policy ?? 'measurement', manifest.epoch),
    shares,
  };
}
