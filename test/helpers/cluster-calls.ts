/**
 * Cluster calls through the real dispatcher on an in-process enclave, and the genesis and
 * reshare setup they repeat, shared by the cluster tests (test/enclave/cluster.test.ts,
 * test/mutation-killers/enclave-cluster.test.ts, test/cli/cluster-genesis.test.ts).
 */
import * as age from 'age-encryption';
import { dispatchFrame } from '../../src/enclave/dispatcher.js';
import type { EnclaveState } from '../../src/enclave/state.js';
import {
  PROPOSAL_FORMAT,
  SHARE_PROVISION_INFO,
  manifestDigest,
  type Manifest,
  type Proposal,
} from '../../src/protocol/cluster/cluster.js';
import { base64ToBytes } from '../../src/protocol/encoding.js';
import { sealEnvelopeHpke } from '../../src/protocol/envelope/hpke.js';
import type { TestEnclave } from './enclave-state.js';

let nextId = 1;
/** The result, or a throw whose `code` is the enclave's error code. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- results are checked by the dispatcher's schemas
export async function call(state: EnclaveState, method: string, params: unknown): Promise<any> {
  const frame = await dispatchFrame(state, { calls: [{ id: nextId++, method, params }] });
  if (!('results' in frame)) throw new Error(frame.error.code);
  const r = frame.results[0]!;
  if (!r.ok) throw Object.assign(new Error(r.error.code), { code: r.error.code });
  return r.result;
}

/** `n` operators `op1`..`opN`, each with a fresh age identity. */
export async function operators(n: number) {
  const out = [];
  for (let i = 1; i <= n; i++) {
    const id = await age.generateX25519Identity();
    out.push({
      identity: id,
      op: { name: `op${i}`, recipient: await age.identityToRecipient(id) },
    });
  }
  return out;
}

/** An entry of `operators()` as the genesis request names it. */
export const opOf = (o: { op: { name: string; recipient: string } }) => o.op;

/** `bytes` (a share file, or not) submitted as an operator would: sealed to a fresh quote's key. */
export async function submitShareBytes(state: EnclaveState, manifest: Manifest, bytes: Uint8Array) {
  const q = await call(state, 'cluster.quote', { nonce: 'abcdefghijklmnop' });
  const sealed = await sealEnvelopeHpke(
    'HPKE-Base-X25519-SHA256-A256GCM',
    base64ToBytes(q.provisioning_key),
    bytes,
    { info: SHARE_PROVISION_INFO },
  );
  return call(state, 'cluster.submit_share', {
    manifest_digest: manifestDigest(manifest),
    provisioning_key: q.provisioning_key,
    enc: sealed.enc,
    ciphertext: sealed.ciphertext,
  });
}

/** Readies `e` for genesis: a fresh keyring sealed under `policy`, and the auth keyring. */
export async function readyForGenesis(
  e: TestEnclave,
  policy: 'measurement' | 'signer' = 'measurement',
): Promise<TestEnclave> {
  await call(e.state, 'keyring.generate', { policy });
  await call(e.state, 'auth.init', { sealed: null });
  return e;
}

/**
 * `cluster.genesis` params: 2 of `operators`, the enclave's own measurement, the simulated
 * platform with debug allowed (trusting the simulated machines of `vendorKeys` too, if any).
 */
export function genesisRequest(
  state: EnclaveState,
  operators: unknown[],
  opts: { vendorKeys?: string[]; nonce?: string } = {},
) {
  return {
    operators,
    threshold: 2,
    measurements: [state.platform.measurement],
    platform: {
      name: 'simulated',
      allow_debug: true,
      ...(opts.vendorKeys?.length ? { simulated_vendor_keys: opts.vendorKeys } : {}),
    },
    nonce: opts.nonce ?? 'genesis-nonce-0001',
  };
}

/** The operator's nonce `cluster.reshare` binds into its evidence (tests that do not check it). */
export const RESHARE_NONCE = 'reshare-nonce-0001';

/** A proposal to reshare the cluster's first epoch: 2 of `operators`, simulated with debug. */
export function reshareProposal(
  clusterId: string,
  operators: Proposal['operators'],
  measurements: string[],
): Proposal {
  return {
    format: PROPOSAL_FORMAT,
    cluster_id: clusterId,
    from_epoch: 1,
    threshold: 2,
    operators,
    measurements,
    platform: { name: 'simulated', allow_debug: true },
  };
}
