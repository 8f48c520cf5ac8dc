/**
 * Mutation killers for `src/enclave/methods/cluster.ts` (docs/mutation-testing.md), in process
 * through the real dispatcher: the share checks against a manifest the host wrote itself, the
 * MAC check on the quorum and join paths, the bound on remembered quotes, the wiping and
 * clearing of held shares, the refusals of a forward and of a reshare, and what genesis and
 * unlock return and keep.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import * as age from 'age-encryption';
import { ed25519 } from '@noble/curves/ed25519.js';
import { unwrap, wrap } from '../../src/enclave/cluster/cluster-sealer.js';
import { clusterQuote } from '../../src/enclave/methods/cluster.js';
import { platformSealer } from '../../src/enclave/keyring/seal.js';
import { readSimulatedVendorKey } from '../../src/enclave/platform/simulated.js';
import type { EnclaveState } from '../../src/enclave/state.js';
import {
  approvalMessage,
  FORWARD_FORMAT,
  forwardInfo,
  forwardNonce,
  genesisReportData,
  manifestDigest,
  MANIFEST_FORMAT,
  SHARE_FORMAT,
  shareDigest,
  type Manifest,
  type ShareFile,
} from '../../src/protocol/cluster/cluster.js';
import { base64ToBytes, bytesToBase64, bytesToHex, utf8 } from '../../src/protocol/encoding.js';
import { sealEnvelopeHpke } from '../../src/protocol/envelope/hpke.js';
import { jcsBytes } from '../../src/protocol/jcs.js';
import { testEnclave, type TestEnclave } from '../helpers/enclave-state.js';
import {
  call,
  genesisRequest,
  opOf,
  operators,
  readyForGenesis,
  reshareProposal,
  submitShareBytes,
  RESHARE_NONCE,
} from '../helpers/cluster-calls.js';
import { rmSync } from 'node:fs';

/** 'ok' or the error code: every refusal is checked by its exact code. */
async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
}

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function enclave(opts: Parameters<typeof testEnclave>[0] = {}): TestEnclave {
  const e = testEnclave(opts);
  dirs.push(e.dir);
  return e;
}

/** A 2-of-3 genesis on `e`; `vendorKeysOf` are the enclaves whose simulated evidence it trusts. */
async function genesis(e: TestEnclave, vendorKeysOf: TestEnclave[] = []) {
  await readyForGenesis(e);
  const ops = await operators(3);
  const vendorKeys = vendorKeysOf.map((x) => readSimulatedVendorKey(x.dir));
  const g = await call(
    e.state,
    'cluster.genesis',
    genesisRequest(e.state, ops.map(opOf), { vendorKeys }),
  );
  const files: ShareFile[] = [];
  for (let i = 0; i < 3; i++) {
    const d = new age.Decrypter();
    d.addIdentity(ops[i]!.identity);
    files.push(JSON.parse(utf8.decode(await d.decrypt(age.armor.decode(g.shares[i].file)))));
  }
  return { g, ops, files, manifest: g.manifest as Manifest };
}

async function sealTo(provisioningKey: string, bytes: Uint8Array, info: Uint8Array) {
  return sealEnvelopeHpke(
    'HPKE-Base-X25519-SHA256-A256GCM',
    base64ToBytes(provisioningKey),
    bytes,
    {
      info,
    },
  );
}

const submit = (state: EnclaveState, manifest: Manifest, share: ShareFile) =>
  submitShareBytes(state, manifest, jcsBytes(share));

async function awaiting(manifest: Manifest, mac: string, opts = {}) {
  const n = enclave(opts);
  const r = await call(n.state, 'cluster.await_quorum', {
    manifest,
    manifest_mac: mac,
    policy: 'measurement',
  });
  return { n, provisioningKey: r.provisioning_key as string };
}

describe('cluster.genesis: what it returns and keeps', () => {
  it('the manifest, its digest, the attestation binding them, and share files for each operator', async () => {
    const e = enclave();
    const { g, files, manifest } = await genesis(e);
    assert.equal(manifest.format, MANIFEST_FORMAT);
    assert.equal(manifest.epoch, 1);
    assert.equal(manifest.threshold, 2);
    assert.equal(manifest.created_at, e.clock.now);
    assert.deepEqual(manifest.measurements, [e.state.platform.measurement]);
    assert.equal(g.manifest_digest, manifestDigest(manifest));
    const rd = genesisReportData({
      cluster_id: manifest.cluster_id,
      manifest_digest: g.manifest_digest,
      nonce: 'genesis-nonce-0001',
    });
    assert.equal(g.attestation.report_data, bytesToHex(rd));
    assert.equal(g.attestation.nonce, 'genesis-nonce-0001');
    assert.equal(g.attestation.image_hash, e.state.platform.measurement);
    assert.equal(g.attestation.platform, 'simulated');
    assert.ok(g.attestation.quote.length > 0);
    assert.deepEqual(
      g.shares.map((s: { operator: string; index: number }) => [s.operator, s.index]),
      [
        ['op1', 1],
        ['op2', 2],
        ['op3', 3],
      ],
    );
    files.forEach((f, i) => {
      assert.equal(f.format, SHARE_FORMAT);
      assert.equal(f.cluster_id, manifest.cluster_id);
      assert.equal(f.epoch, 1);
      assert.equal(f.index, i + 1);
      assert.equal(f.threshold, 2);
      assert.equal(f.operator, `op${i + 1}`);
      assert.equal(manifest.share_digests[i], shareDigest(f));
    });
    // No wallet keyring yet: none is wrapped.
    assert.equal(g.wrapped.wallet, null);
    assert.equal(e.state.cluster!.clusterId, manifest.cluster_id);
  });

  it('refused before auth.init (AUTH_NOT_READY) and for another platform (PARAMS_INVALID)', async () => {
    const e = enclave();
    await call(e.state, 'keyring.generate', { policy: 'measurement' });
    const ops = await operators(2);
    const params = genesisRequest(e.state, ops.map(opOf));
    assert.equal(await codeOf(call(e.state, 'cluster.genesis', params)), 'AUTH_NOT_READY');
    await call(e.state, 'auth.init', { sealed: null });
    assert.equal(
      await codeOf(
        call(e.state, 'cluster.genesis', {
          ...params,
          platform: { name: 'tdx', allow_debug: false },
        }),
      ),
      'PARAMS_INVALID',
    );
    assert.equal(e.state.cluster, null);
  });
});

describe('cluster.genesis: the wallet keyring', () => {
  it('is wrapped under the root when the enclave has one', async () => {
    const e = enclave();
    await readyForGenesis(e);
    const init = await call(e.state, 'wallet.init', { sealed: null });
    const ops = await operators(2);
    const g = await call(e.state, 'cluster.genesis', genesisRequest(e.state, ops.map(opOf)));
    assert.equal(g.wrapped.wallet.generation, init.generation);
    const opened = unwrap(e.state.cluster!.root, g.wrapped.wallet.sealed).plaintext;
    assert.ok(opened.length > 0);
  });
});

describe('cluster.unlock: the local copy and the carry', () => {
  it('a local copy that does not parse, or a carry that does not, is SEAL_INVALID; a good one answers the cluster id', async () => {
    const e = enclave();
    const { g, manifest } = await genesis(e);
    const root = e.state.cluster!.root.slice();
    const again = enclave({ dir: e.dir });
    const bad = platformSealer(again.state.platform).seal(
      jcsBytes({ format: 'cloister-cluster-local-root/v1', cluster_id: manifest.cluster_id }),
      'measurement',
    );
    const params = {
      local_root: g.local_root,
      manifest,
      manifest_mac: g.manifest_mac,
      carry: g.wrapped.carry,
    };
    assert.equal(
      await codeOf(call(again.state, 'cluster.unlock', { ...params, local_root: bad })),
      'SEAL_INVALID',
    );
    const badCarry = wrap(root, utf8.encode('{"format":"x"}'), 'measurement');
    assert.equal(
      await codeOf(call(again.state, 'cluster.unlock', { ...params, carry: badCarry })),
      'SEAL_INVALID',
    );
    assert.equal(again.state.cluster, null);
    // A local copy and a carry written with the formats' fixed texts (as earlier builds did).
    const fixedLocal = platformSealer(again.state.platform).seal(
      jcsBytes({
        format: 'cloister-cluster-local-root/v1',
        cluster_id: manifest.cluster_id,
        epoch: 1,
        root: bytesToBase64(root),
      }),
      'measurement',
    );
    const fixedCarry = wrap(
      root,
      jcsBytes({
        format: 'cloister-cluster-carry/v1',
        password_key: bytesToBase64(new Uint8Array(32).fill(5)),
      }),
      'measurement',
    );
    await call(again.state, 'cluster.unlock', {
      ...params,
      local_root: fixedLocal,
      carry: fixedCarry,
    });
    assert.deepEqual([...again.state.cluster!.passwordKey], [...new Uint8Array(32).fill(5)]);
    again.state.cluster = null;
    const r = await call(again.state, 'cluster.unlock', params);
    assert.equal(r.cluster_id, manifest.cluster_id);
    assert.equal(again.state.cluster!.clusterId, manifest.cluster_id);
    assert.deepEqual([...again.state.cluster!.root], [...root]);
  });
});

describe('cluster.submit_share: checks against a manifest the host wrote', () => {
  it('a share of another cluster is CLUSTER_ID_MISMATCH; one that is not JSON, or not a share file, is CLUSTER_SHARE_INVALID', async () => {
    const { g, files, manifest } = await genesis(enclave());
    const { n } = await awaiting(manifest, g.manifest_mac);
    assert.equal(
      await codeOf(submit(n.state, manifest, { ...files[0]!, cluster_id: 'ab'.repeat(32) })),
      'CLUSTER_ID_MISMATCH',
    );
    assert.equal(
      await codeOf(submitShareBytes(n.state, manifest, utf8.encode('not json'))),
      'CLUSTER_SHARE_INVALID',
    );
    assert.equal(
      await codeOf(submitShareBytes(n.state, manifest, jcsBytes({ format: 'x' }))),
      'CLUSTER_SHARE_INVALID',
    );
    // A share of this epoch is not "superseded".
    assert.equal((await submit(n.state, manifest, files[0]!)).have, 1);
  });

  it('digests committed in the manifest do not excuse another threshold, another operator, or a share no operator holds', async () => {
    const { g, files, manifest } = await genesis(enclave());
    // The host lists digests of altered files: each must still be refused as ALTERED.
    const otherThreshold = { ...files[0]!, threshold: 3 };
    const otherName = { ...files[1]!, operator: 'mallory' };
    const fourth = { ...files[2]!, index: 4, operator: 'op4' };
    const forged: Manifest = {
      ...manifest,
      share_digests: [otherThreshold, otherName, files[2]!].map(shareDigest),
    };
    const { n } = await awaiting(forged, g.manifest_mac);
    assert.equal(await codeOf(submit(n.state, forged, otherThreshold)), 'CLUSTER_SHARE_ALTERED');
    assert.equal(await codeOf(submit(n.state, forged, otherName)), 'CLUSTER_SHARE_ALTERED');
    // Index 4: no digest, no operator (the manifest schema wants one digest per operator).
    assert.equal(await codeOf(submit(n.state, forged, fourth)), 'CLUSTER_SHARE_ALTERED');
    assert.equal(n.state.quorum!.shares.size, 0);
  });

  it('real shares under a manifest with a changed measurement: CLUSTER_MANIFEST_MISMATCH, shares wiped and dropped', async () => {
    const { g, files, manifest } = await genesis(enclave());
    const forged: Manifest = {
      ...manifest,
      measurements: [...manifest.measurements, 'cd'.repeat(48)],
    };
    const { n } = await awaiting(forged, g.manifest_mac);
    const first = await submit(n.state, forged, files[0]!);
    assert.deepEqual(
      {
        index: first.index,
        operator: first.operator,
        have: first.have,
        threshold: first.threshold,
      },
      { index: 1, operator: 'op1', have: 1, threshold: 2 },
    );
    assert.equal(first.local_root, null);
    const held = [...n.state.quorum!.shares.values()];
    assert.equal(await codeOf(submit(n.state, forged, files[1]!)), 'CLUSTER_MANIFEST_MISMATCH');
    for (const s of held)
      assert.ok(
        s.every((b) => b === 0),
        'a held share is wiped',
      );
    assert.equal(n.state.quorum!.shares.size, 0);
    assert.equal(n.state.phase, 'awaiting_quorum');
    // Counting starts again.
    assert.equal((await submit(n.state, forged, files[2]!)).have, 1);
  });

  it('at the threshold: a local copy, the quorum state dropped, awaiting the keyring', async () => {
    const { g, files, manifest } = await genesis(enclave());
    const { n } = await awaiting(manifest, g.manifest_mac);
    await submit(n.state, manifest, files[2]!);
    const done = await submit(n.state, manifest, files[0]!);
    assert.deepEqual(
      { index: done.index, operator: done.operator, have: done.have, threshold: done.threshold },
      { index: 1, operator: 'op1', have: 2, threshold: 2 },
    );
    assert.ok(done.local_root);
    assert.equal(n.state.quorum, null);
    assert.equal(n.state.phase, 'awaiting_keyring');
    const r = await call(n.state, 'cluster.unlock', {
      local_root: done.local_root,
      manifest,
      manifest_mac: g.manifest_mac,
      carry: g.wrapped.carry,
    });
    assert.equal(r.cluster_id, manifest.cluster_id);
  });
});

describe('cluster.quote: what it binds and how many it remembers', () => {
  it('answers with the provisioning key of await_quorum, the binding and the report data', async () => {
    const { g, manifest } = await genesis(enclave());
    const { n, provisioningKey } = await awaiting(manifest, g.manifest_mac);
    const q = await call(n.state, 'cluster.quote', { nonce: 'abcdefghijklmnop', join: true });
    assert.equal(q.phase, 'awaiting_quorum');
    assert.equal(q.provisioning_key, provisioningKey);
    assert.equal(q.cluster_id, manifest.cluster_id);
    assert.equal(q.manifest_digest, manifestDigest(manifest));
    assert.equal(q.nonce, 'abcdefghijklmnop');
    assert.equal(q.image_hash, n.state.platform.measurement);
    assert.equal(q.platform, 'simulated');
    assert.ok(n.state.quorum!.issued.has(q.report_data));
  });

  it('remembers the last 64 quotes: the 64th still, and then only the newest', async () => {
    const { g, manifest } = await genesis(enclave());
    const { n } = await awaiting(manifest, g.manifest_mac);
    const issued = n.state.quorum!.issued;
    const rds: string[] = [];
    for (let i = 0; i < 64; i++) {
      rds.push(
        (
          await call(n.state, 'cluster.quote', {
            nonce: `nonce-${String(i).padStart(10, '0')}`,
            join: true,
          })
        ).report_data,
      );
    }
    assert.equal(issued.size, 64);
    assert.ok(issued.has(rds[0]!) && issued.has(rds[63]!));
    const last = (await call(n.state, 'cluster.quote', { nonce: 'nonce-final-0001', join: true }))
      .report_data;
    assert.deepEqual([...issued], [last]);
  });

  it('outside awaiting_quorum the method itself refuses (no quorum state)', async () => {
    const e = enclave();
    await assert.rejects(clusterQuote(e.state, { nonce: 'abcdefghijklmnop' }), /no quorum state/);
  });
});

describe('cluster.forward / cluster.accept_forward: refusals', () => {
  /** `lone`: an enclave the manifest trusts (vendor key, measurement) that holds no cluster. */
  /** `forge`: the manifest the newcomer awaits instead of the cluster's. */
  async function joinSetup(forge: (m: Manifest) => Manifest = (x) => x) {
    const m = enclave();
    const n = enclave();
    const lone = enclave();
    const { g, manifest } = await genesis(m, [m, n, lone]);
    await readyForGenesis(lone);
    await call(n.state, 'cluster.await_quorum', {
      manifest: forge(manifest),
      manifest_mac: g.manifest_mac,
      policy: 'measurement',
    });
    const quote = await call(n.state, 'cluster.quote', { nonce: 'abcdefghijklmnop', join: true });
    return { m, n, lone, g, manifest, quote };
  }

  it('a member refuses a quote of another cluster or another manifest; an enclave without a cluster is locked', async () => {
    const { m, n, lone, quote } = await joinSetup();
    assert.equal(
      await codeOf(
        call(m.state, 'cluster.forward', { quote: { ...quote, cluster_id: 'ab'.repeat(32) } }),
      ),
      'CLUSTER_PEER_REFUSED',
    );
    assert.equal(
      await codeOf(
        call(m.state, 'cluster.forward', { quote: { ...quote, manifest_digest: 'ab'.repeat(32) } }),
      ),
      'CLUSTER_PEER_REFUSED',
    );
    assert.equal(await codeOf(call(lone.state, 'cluster.forward', { quote })), 'CLUSTER_LOCKED');
    assert.equal(n.state.phase, 'awaiting_quorum');
  });

  it('the newcomer refuses a member answering with another nonce, or of no cluster, or a forward that does not open or parse', async () => {
    const { m, n, lone, manifest, quote } = await joinSetup();
    const root = m.state.cluster!.root;
    const doc = (r: Uint8Array) =>
      jcsBytes({ format: FORWARD_FORMAT, cluster_id: manifest.cluster_id, root: bytesToBase64(r) });
    const accept = async (
      member: { report_data: string },
      bytes: Uint8Array,
      info?: Uint8Array,
    ) => {
      const sealed = await sealTo(
        quote.provisioning_key,
        bytes,
        info ?? forwardInfo(quote.report_data, member.report_data),
      );
      return codeOf(
        call(n.state, 'cluster.accept_forward', {
          forward: { member, enc: sealed.enc, ciphertext: sealed.ciphertext },
          quote_report_data: quote.report_data,
        }),
      );
    };
    // The real member, asked for another nonce.
    const otherNonce = await call(m.state, 'attestation.get', { nonce: 'abcdefghijklmnop' });
    assert.equal(await accept(otherNonce, doc(root)), 'CLUSTER_PEER_REFUSED');
    // A trusted enclave that is no member, asked with the right nonce.
    const noCluster = await call(lone.state, 'attestation.get', {
      nonce: forwardNonce(quote.report_data),
    });
    assert.equal(await accept(noCluster, doc(root)), 'CLUSTER_PEER_REFUSED');
    // The real member with the right nonce: a forward sealed under other info, or not a forward.
    const member = await call(m.state, 'attestation.get', {
      nonce: forwardNonce(quote.report_data),
    });
    assert.equal(await accept(member, doc(root), utf8.encode('other')), 'CLUSTER_PEER_REFUSED');
    assert.equal(await accept(member, utf8.encode('not json')), 'CLUSTER_PEER_REFUSED');
    assert.equal(n.state.phase, 'awaiting_quorum');
    // The same member and root, properly sealed: accepted, quorum state dropped.
    assert.equal(await accept(member, doc(root)), 'ok');
    assert.equal(n.state.quorum, null);
    assert.equal(n.state.phase, 'awaiting_keyring');
  });

  const laterManifest = (x: Manifest) => ({ ...x, created_at: x.created_at + 1 });

  it('a member refuses a genuine quote of a newcomer awaiting another manifest of its cluster', async () => {
    const { m, quote } = await joinSetup(laterManifest);
    assert.equal(await codeOf(call(m.state, 'cluster.forward', { quote })), 'CLUSTER_PEER_REFUSED');
  });

  it('even the real root is refused under a manifest the cluster did not make', async () => {
    const { m, n, manifest, quote } = await joinSetup(laterManifest);
    const member = await call(m.state, 'attestation.get', {
      nonce: forwardNonce(quote.report_data),
    });
    const sealed = await sealTo(
      quote.provisioning_key,
      jcsBytes({
        format: FORWARD_FORMAT,
        cluster_id: manifest.cluster_id,
        root: bytesToBase64(m.state.cluster!.root),
      }),
      forwardInfo(quote.report_data, member.report_data),
    );
    assert.equal(
      await codeOf(
        call(n.state, 'cluster.accept_forward', {
          forward: { member, enc: sealed.enc, ciphertext: sealed.ciphertext },
          quote_report_data: quote.report_data,
        }),
      ),
      'CLUSTER_MANIFEST_MISMATCH',
    );
    assert.equal(n.state.phase, 'awaiting_quorum');
  });
});

describe('cluster.reshare: refusals before any approval is counted', () => {
  it('locked without a cluster; another cluster id is stale; another platform is PARAMS_INVALID', async () => {
    const e = enclave();
    const { manifest } = await genesis(e);
    const proposal = reshareProposal(
      manifest.cluster_id,
      manifest.operators,
      manifest.measurements,
    );
    const approvals = [{ operator: 'op1', signature: bytesToBase64(new Uint8Array(64)) }];
    const lone = enclave();
    await readyForGenesis(lone);
    assert.equal(
      await codeOf(
        call(lone.state, 'cluster.reshare', { nonce: RESHARE_NONCE, proposal, approvals }),
      ),
      'CLUSTER_LOCKED',
    );
    assert.equal(
      await codeOf(
        call(e.state, 'cluster.reshare', {
          nonce: RESHARE_NONCE,
          proposal: { ...proposal, cluster_id: 'ab'.repeat(32) },
          approvals,
        }),
      ),
      'CLUSTER_PROPOSAL_STALE',
    );
    assert.equal(
      await codeOf(
        call(e.state, 'cluster.reshare', {
          nonce: RESHARE_NONCE,
          proposal: { ...proposal, platform: { name: 'tdx', allow_debug: false } },
          approvals,
        }),
      ),
      'PARAMS_INVALID',
    );
    assert.equal(
      await codeOf(call(e.state, 'cluster.reshare', { nonce: RESHARE_NONCE, proposal, approvals })),
      'CLUSTER_APPROVALS_INSUFFICIENT',
    );
  });
});

describe('cluster.reshare: the new local copy', () => {
  it('is sealed under the policy in force: a signer-sealed copy opens after an update of the code', async () => {
    const e = await readyForGenesis(enclave(), 'signer');
    const ops = await operators(3);
    const keys = ops.map(() => ed25519.utils.randomSecretKey());
    const withKeys = ops.map((o, i) => ({
      ...o.op,
      signing_key: bytesToBase64(ed25519.getPublicKey(keys[i]!)),
    }));
    const g = await call(e.state, 'cluster.genesis', genesisRequest(e.state, withKeys));
    const proposal = reshareProposal(g.manifest.cluster_id, withKeys, [
      e.state.platform.measurement,
    ]);
    const approve = (i: number) => ({
      operator: `op${i + 1}`,
      signature: bytesToBase64(ed25519.sign(approvalMessage(proposal), keys[i]!)),
    });
    const r = await call(e.state, 'cluster.reshare', {
      nonce: RESHARE_NONCE,
      proposal,
      approvals: [approve(0), approve(2)],
    });
    assert.equal(r.manifest.epoch, 2);
    assert.equal(r.manifest_digest, manifestDigest(r.manifest));
    // The same machine after a code update (another measurement, the same signer).
    const updated = enclave({ dir: e.dir, codePath: 'tsconfig.json' });
    assert.notEqual(updated.state.platform.measurement, e.state.platform.measurement);
    const u = await call(updated.state, 'cluster.unlock', {
      local_root: r.local_root,
      manifest: r.manifest,
      manifest_mac: r.manifest_mac,
      carry: g.wrapped.carry,
    });
    assert.equal(u.cluster_id, g.manifest.cluster_id);
  });
});
