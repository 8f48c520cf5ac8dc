/** Cluster calls through the real dispatcher on an in-process enclave, shared by the cluster tests. */
import * as age from 'age-encryption';
import { dispatchFrame } from '../../src/enclave/dispatcher.js';
import type { EnclaveState } from '../../src/enclave/state.js';
import {
  SHARE_PROVISION_INFO,
  manifestDigest,
  type Manifest,
} from '../../src/protocol/cluster/cluster.js';
import { base64ToBytes } from '../../src/protocol/encoding.js';
import { sealEnvelopeHpke } from '../../src/protocol/envelope/hpke.js';

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
