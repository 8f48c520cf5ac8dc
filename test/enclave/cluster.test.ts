/**
 * The enclave's cluster rules, in process (docs/protocol/cluster.md): a root is adopted only if
 * it derives the cluster id of the manifest; a host that writes its own manifest (its own
 * shares and digests under the real cluster id) gets CLUSTER_ID_MISMATCH, not an enclave
 * serving keys it knows; shares of an older split are refused as superseded; a wrapped keyring
 * does not open before the root is held, nor under another cluster's root; every method runs
 * only in its phase.
 */
import assert from 'node:assert/strict';
import nodeCrypto from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';
import { after, describe, it } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusterApprove, clusterSigningKey } from '../../src/cli/cluster.js';
import * as age from 'age-encryption';
import { split } from 'shamir-secret-sharing';
import { clusterIdOf } from '../../src/enclave/cluster/root.js';
import { isWrapped, wrap, unwrap } from '../../src/enclave/cluster/cluster-sealer.js';
import {
  FORWARD_FORMAT,
  forwardInfo,
  forwardNonce,
  type Proposal,
  SHARE_FORMAT,
  SHARE_PROVISION_INFO,
  manifestDigest,
  shareDigest,
  type Manifest,
  type ShareFile,
} from '../../src/protocol/cluster/cluster.js';
import { base64ToBytes, bytesToBase64, utf8 } from '../../src/protocol/encoding.js';
import { platformSealer } from '../../src/enclave/keyring/seal.js';
import { sealEnvelopeHpke } from '../../src/protocol/envelope/hpke.js';
import type { ProvisioningQuote } from '../../src/protocol/cluster/cluster.js';
import { jcsBytes } from '../../src/protocol/jcs.js';
import { passwordKeySource, type EnclaveState } from '../../src/enclave/state.js';
import { sealPasswordHash, unsealPasswordHash } from '../../src/enclave/auth/tokens.js';
import { readSimulatedVendorKey } from '../../src/enclave/platform/simulated.js';
import { testEnclave } from '../helpers/enclave-state.js';
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

const code = (p: Promise<unknown>, c: string) =>
  assert.rejects(p, (e: { code?: string }) => e.code === c);

const submit = (state: EnclaveState, manifest: Manifest, share: ShareFile) =>
  submitShareBytes(state, manifest, jcsBytes(share));

type Wiped = { bytes: Uint8Array; held: Uint8Array };
/** Every plain byte array wiped (filled with 0) while `run` runs, with what it held just before. */
async function wipedDuring(run: () => Promise<unknown>): Promise<Wiped[]> {
  const wiped: Wiped[] = [];
  const fill = Uint8Array.prototype.fill;
  Uint8Array.prototype.fill = function (this: Uint8Array, ...args: Parameters<typeof fill>) {
    if (args[0] === 0) wiped.push({ bytes: this, held: Uint8Array.from(this) });
    return fill.apply(this, args);
  } as typeof fill;
  try {
    await run();
  } finally {
    Uint8Array.prototype.fill = fill;
  }
  return wiped;
}

describe('enclave cluster rules', () => {
  /** The genesis machine after a restart: the host unlocks it with what genesis gave it. */
  const restartWith = (
    state: EnclaveState,
    g: { local_root: string; manifest: Manifest; manifest_mac: string; wrapped: { carry: string } },
  ) =>
    call(state, 'cluster.unlock', {
      local_root: g.local_root,
      manifest: g.manifest,
      manifest_mac: g.manifest_mac,
      carry: g.wrapped.carry,
    });

  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  async function genesis() {
    const e = testEnclave();
    dirs.push(e.dir);
    await readyForGenesis(e);
    const ops = await operators(3);
    const request = genesisRequest(e.state, ops.map(opOf));
    const g = await call(e.state, 'cluster.genesis', request);
    return { e, g, ops };
  }

  /** An enclave whose genesis names 3 of `n` operators with signing keys (`weak`: small order). */
  async function signedGenesis(n: number, weak?: number) {
    const e = testEnclave();
    dirs.push(e.dir);
    await readyForGenesis(e);
    const keyDir = mkdtempSync(join(tmpdir(), 'cloister-sign-'));
    dirs.push(keyDir);
    const ops = await operators(n);
    // The identity point: under ZIP-215 rules (R = identity, S = 0) verifies for any message.
    const identityPoint = new Uint8Array(32);
    identityPoint[0] = 1;
    const withKeys = ops.map((o, i) => ({
      ...o.op,
      signing_key:
        i === weak
          ? bytesToBase64(identityPoint)
          : clusterSigningKey(join(keyDir, `${o.op.name}.key`)).signing_key,
    }));
    const g = await call(e.state, 'cluster.genesis', genesisRequest(e.state, withKeys.slice(0, 3)));
    /** A proposal (one more measurement) written to keyDir, and an approval helper. */
    const propose = (operators: Proposal['operators']) => {
      const proposal = reshareProposal(g.manifest.cluster_id, operators, [
        e.state.platform.measurement,
        'cd'.repeat(48),
      ]);
      const proposalPath = join(keyDir, 'proposal.json');
      writeFileSync(proposalPath, JSON.stringify(proposal));
      const approve = (name: string, as = name) =>
        clusterApprove({ proposalPath, signingKeyPath: join(keyDir, `${name}.key`), operator: as });
      return { proposal, approve };
    };
    return { e, ops, withKeys, g, propose };
  }

  it('refuses a root the host made up, though its manifest names the real cluster id', async () => {
    const { g } = await genesis();
    const real: Manifest = g.manifest;
    // The host's own root, split into its own shares, committed to in a manifest it wrote.
    const hostRoot = new Uint8Array(32).fill(7);
    const raw = await split(hostRoot, 3, 2);
    const files: ShareFile[] = raw.map((s, i) => ({
      format: SHARE_FORMAT,
      cluster_id: real.cluster_id,
      epoch: 1,
      index: i + 1,
      threshold: 2,
      operator: `op${i + 1}`,
      share: bytesToBase64(s),
    }));
    const forged: Manifest = { ...real, share_digests: files.map(shareDigest) };
    const n = testEnclave();
    dirs.push(n.dir);
    await call(n.state, 'cluster.await_quorum', {
      manifest: forged,
      manifest_mac: g.manifest_mac,
      policy: 'measurement',
    });
    assert.equal((await submit(n.state, forged, files[0]!)).have, 1);
    await code(submit(n.state, forged, files[1]!), 'CLUSTER_ID_MISMATCH');
    assert.equal(n.state.phase, 'awaiting_quorum');
    assert.equal(n.state.cluster, null);
  });

  /** A member `m` (genesis trusting both simulated machines) and a newcomer `n` awaiting it. */
  async function memberAndNewcomer() {
    const n = testEnclave();
    const m = testEnclave();
    dirs.push(n.dir, m.dir);
    await readyForGenesis(m);
    const ops = await operators(3);
    const vendorKeys = [readSimulatedVendorKey(m.dir), readSimulatedVendorKey(n.dir)];
    const request = genesisRequest(m.state, ops.map(opOf), { vendorKeys });
    const g = await call(m.state, 'cluster.genesis', request);
    await call(n.state, 'cluster.await_quorum', {
      manifest: g.manifest,
      manifest_mac: g.manifest_mac,
      policy: 'measurement',
    });
    return { n, m, g, ops };
  }

  /** The member forwards the root for `quote`, and the newcomer takes it: its local root. */
  async function forwardAndAccept(
    m: ReturnType<typeof testEnclave>,
    n: ReturnType<typeof testEnclave>,
    quote: ProvisioningQuote,
  ): Promise<string> {
    const forward = await call(m.state, 'cluster.forward', { quote });
    const done = await call(n.state, 'cluster.accept_forward', {
      forward,
      quote_report_data: quote.report_data,
    });
    return done.local_root;
  }

  it('a join answered by a fake member: a root the host knows is refused, even with real member evidence', async () => {
    const { n, m, g } = await memberAndNewcomer();
    const quote = await call(n.state, 'cluster.quote', { nonce: 'abcdefghijklmnop', join: true });
    // The host asks the real member for an ordinary attestation with the forward nonce (any
    // caller can) and seals a root of its own to the newcomer's public provisioning key.
    const member = await call(m.state, 'attestation.get', {
      nonce: forwardNonce(quote.report_data),
    });
    const sealed = await sealEnvelopeHpke(
      'HPKE-Base-X25519-SHA256-A256GCM',
      base64ToBytes(quote.provisioning_key),
      jcsBytes({
        format: FORWARD_FORMAT,
        cluster_id: g.manifest.cluster_id,
        root: bytesToBase64(new Uint8Array(32).fill(9)),
      }),
      { info: forwardInfo(quote.report_data, member.report_data) },
    );
    const fake = { member, enc: sealed.enc, ciphertext: sealed.ciphertext };
    await code(
      call(n.state, 'cluster.accept_forward', {
        forward: fake,
        quote_report_data: quote.report_data,
      }),
      'CLUSTER_ID_MISMATCH',
    );
    // An answer to a quote this enclave never issued is refused before anything is opened.
    await code(
      call(n.state, 'cluster.accept_forward', {
        forward: fake,
        quote_report_data: 'ab'.repeat(64),
      }),
      'CLUSTER_PEER_REFUSED',
    );
    assert.equal(n.state.phase, 'awaiting_quorum');
    // The real member's forward still works afterwards.
    assert.ok(await forwardAndAccept(m, n, quote));
  });

  it('a member holding the root runs only the cluster’s keyrings: no fresh one, no platform-sealed one', async () => {
    // The genesis machine: its pre-genesis keyrings are platform-sealed, and still in storage.
    const e = testEnclave();
    dirs.push(e.dir);
    const k = await call(e.state, 'keyring.generate', { policy: 'measurement' });
    const a = await call(e.state, 'auth.init', { sealed: null });
    const ops = await operators(3);
    const g = await call(e.state, 'cluster.genesis', genesisRequest(e.state, ops.map(opOf)));
    // After a restart the host unlocks the root (the enclave then attests the cluster id) and
    // would hand it keys clients pinning that id never agreed to: a fresh keyring (its own
    // log key, an empty log), or this machine's platform-sealed one.
    const again = testEnclave({ dir: e.dir });
    await restartWith(again.state, g);
    await code(call(again.state, 'keyring.generate', { policy: 'measurement' }), 'CLUSTER_EXISTS');
    await code(call(again.state, 'keyring.unseal', { sealed: k.sealed }), 'CLUSTER_ID_MISMATCH');
    assert.equal(again.state.phase, 'awaiting_keyring');
    await call(again.state, 'keyring.unseal', { sealed: g.wrapped.credential.sealed });
    await code(call(again.state, 'auth.init', { sealed: null }), 'CLUSTER_EXISTS');
    await code(call(again.state, 'auth.init', { sealed: a.sealed }), 'CLUSTER_ID_MISMATCH');
    assert.equal(again.state.keyrings.auth.active, null);
    await call(again.state, 'auth.init', { sealed: g.wrapped.auth.sealed });
    assert.ok(again.state.keyrings.auth.active);
  });

  it('a rotation prepared before genesis is not activated after it (its blob is platform-sealed)', async () => {
    const e = testEnclave();
    dirs.push(e.dir);
    await readyForGenesis(e);
    const p = await call(e.state, 'keyring.prepare_rotation', {});
    const ops = await operators(3);
    await call(e.state, 'cluster.genesis', genesisRequest(e.state, ops.map(opOf)));
    // Stored, it would be the newest generation, which no member (this one included) opens.
    await code(
      call(e.state, 'keyring.activate', { generation: p.generation, sealed: p.sealed }),
      'GENERATION_MISMATCH',
    );
    const again = await call(e.state, 'keyring.prepare_rotation', {});
    assert.ok(isWrapped(again.sealed));
  });

  it('a member does not forward the root to a stale provisioning quote (a replayed join)', async () => {
    const { n, m } = await memberAndNewcomer();
    const quote = await call(n.state, 'cluster.quote', { nonce: 'abcdefghijklmnop', join: true });
    // A day later the host replays the join request it relayed (its nonce proves nothing to
    // the member, only the evidence time does).
    m.clock.now += 86_400;
    await code(call(m.state, 'cluster.forward', { quote }), 'CLUSTER_PEER_REFUSED');
    // A fresh quote of the same enclave is forwarded.
    n.clock.now += 86_400;
    const fresh = await call(n.state, 'cluster.quote', { nonce: 'abcdefghijklmnoq', join: true });
    assert.ok(await forwardAndAccept(m, n, fresh));
  });

  it('a stale join quote stays stale when the host sets the member’s clock back', async () => {
    const { n, m } = await memberAndNewcomer();
    const quote = await call(n.state, 'cluster.quote', { nonce: 'abcdefghijklmnop', join: true });
    m.clock.now += 86_400;
    await code(call(m.state, 'cluster.forward', { quote }), 'CLUSTER_PEER_REFUSED');
    // The host (which sets a TEE's clock) turns the member's clock back to the quote's time
    // and replays the request: the member has seen a later time in this process.
    m.clock.now -= 86_400;
    await code(call(m.state, 'cluster.forward', { quote }), 'CLUSTER_PEER_REFUSED');
  });

  it('a join that completes after some operators’ shares wipes those shares', async () => {
    const { n, m, g, ops } = await memberAndNewcomer();
    const d = new age.Decrypter();
    d.addIdentity(ops[0]!.identity);
    const share: ShareFile = JSON.parse(
      utf8.decode(await d.decrypt(age.armor.decode(g.shares[0].file))),
    );
    assert.equal((await submit(n.state, g.manifest, share)).have, 1);
    const held = n.state.quorum!.shares.get(1)!;
    const quote = await call(n.state, 'cluster.quote', { nonce: 'abcdefghijklmnop', join: true });
    assert.ok(await forwardAndAccept(m, n, quote));
    assert.equal(n.state.quorum, null);
    assert.ok(
      held.every((b) => b === 0),
      'a share accepted before the join stayed in memory',
    );
  });

  it('quotes served to anyone (GET /attestation/quote) do not push a pending join quote out', async () => {
    const { n, m } = await memberAndNewcomer();
    const quote = await call(n.state, 'cluster.quote', { nonce: 'join-nonce-000001', join: true });
    // While the member answers, anyone asks the locked newcomer for provisioning quotes.
    for (let i = 0; i < 70; i++)
      await call(n.state, 'cluster.quote', { nonce: `anyone-${String(i).padStart(10, '0')}` });
    assert.ok(await forwardAndAccept(m, n, quote));
  });

  it('a replayed share submission counts once; one sealed to an earlier provisioning key is refused', async () => {
    const { g, ops } = await genesis();
    const d = new age.Decrypter();
    d.addIdentity(ops[0]!.identity);
    const share1: ShareFile = JSON.parse(
      new TextDecoder().decode(await d.decrypt(age.armor.decode(g.shares[0].file))),
    );
    let n = testEnclave();
    dirs.push(n.dir);
    const wait = () =>
      call(n.state, 'cluster.await_quorum', {
        manifest: g.manifest,
        manifest_mac: g.manifest_mac,
        policy: 'measurement',
      });
    await wait();
    const q = await call(n.state, 'cluster.quote', { nonce: 'abcdefghijklmnop' });
    const sealed = await sealEnvelopeHpke(
      'HPKE-Base-X25519-SHA256-A256GCM',
      base64ToBytes(q.provisioning_key),
      jcsBytes(share1),
      { info: SHARE_PROVISION_INFO },
    );
    const submission = {
      manifest_digest: manifestDigest(g.manifest),
      provisioning_key: q.provisioning_key,
      enc: sealed.enc,
      ciphertext: sealed.ciphertext,
    };
    assert.equal((await call(n.state, 'cluster.submit_share', submission)).have, 1);
    const first = n.state.quorum!.shares.get(1)!;
    // The host replays the operator's message: still one share, no root; the copy it
    // replaces is wiped, not left in memory.
    assert.equal((await call(n.state, 'cluster.submit_share', submission)).have, 1);
    assert.equal(n.state.phase, 'awaiting_quorum');
    assert.notEqual(n.state.quorum!.shares.get(1), first);
    assert.ok(
      first.every((b) => b === 0),
      'the replaced share was not wiped',
    );
    // The enclave restarts and awaits again under a new provisioning key: the old message
    // opens nowhere.
    n = testEnclave({ dir: n.dir });
    await wait();
    await code(call(n.state, 'cluster.submit_share', submission), 'CLUSTER_SHARE_INVALID');
    await code(
      call(n.state, 'cluster.submit_share', {
        ...submission,
        provisioning_key: (await call(n.state, 'cluster.quote', { nonce: 'abcdefghijklmnop' }))
          .provisioning_key,
      }),
      'CLUSTER_SHARE_INVALID',
    );
  });

  it('refuses shares of a superseded split and shares not in the manifest', async () => {
    const { g, ops } = await genesis();
    const m1: Manifest = g.manifest;
    const d = new age.Decrypter();
    d.addIdentity(ops[0]!.identity);
    const share1: ShareFile = JSON.parse(
      new TextDecoder().decode(await d.decrypt(age.armor.decode(g.shares[0].file))),
    );
    const m2: Manifest = { ...m1, epoch: 2 };
    const n = testEnclave();
    dirs.push(n.dir);
    await call(n.state, 'cluster.await_quorum', {
      manifest: m2,
      manifest_mac: g.manifest_mac,
      policy: 'measurement',
    });
    await code(submit(n.state, m2, share1), 'CLUSTER_SHARE_SUPERSEDED');
    await code(submit(n.state, m2, { ...share1, epoch: 3 }), 'CLUSTER_SHARE_INVALID');
    await code(submit(n.state, m2, { ...share1, epoch: 2, index: 2 }), 'CLUSTER_SHARE_ALTERED');
    await code(submit(n.state, { ...m2, threshold: 3 }, share1), 'CLUSTER_MANIFEST_MISMATCH');
  });

  it('wrapped keyrings open only under the root of their cluster, and only once it is held', async () => {
    const { e, g } = await genesis();
    assert.equal(e.state.cluster!.clusterId, g.manifest.cluster_id);
    assert.equal(clusterIdOf(e.state.cluster!.root), g.manifest.cluster_id);
    const other = new Uint8Array(32).fill(9);
    assert.throws(() => unwrap(other, g.wrapped.credential.sealed), {
      code: 'CLUSTER_ID_MISMATCH',
    } as object);
    const blob = wrap(other, new Uint8Array([1, 2, 3]), 'measurement');
    assert.deepEqual([...unwrap(other, blob).plaintext], [1, 2, 3]);
    // A fresh enclave with a wrapped blob and no root: locked, not "invalid".
    const n = testEnclave();
    dirs.push(n.dir);
    await code(
      call(n.state, 'keyring.unseal', { sealed: g.wrapped.credential.sealed }),
      'CLUSTER_LOCKED',
    );
    // Another machine's local root does not unseal here; a manifest of another cluster is refused.
    await code(
      call(n.state, 'cluster.unlock', {
        local_root: g.local_root,
        manifest: g.manifest,
        manifest_mac: g.manifest_mac,
        carry: g.wrapped.carry,
      }),
      'SEAL_INVALID',
    );
    const again = testEnclave({ dir: e.dir });
    await code(
      call(again.state, 'cluster.unlock', {
        local_root: g.local_root,
        manifest: { ...g.manifest, cluster_id: 'ab'.repeat(32) },
        manifest_mac: g.manifest_mac,
        carry: g.wrapped.carry,
      }),
      'CLUSTER_ID_MISMATCH',
    );
    // A manifest the host made up (one more measurement) has no valid MAC under the root.
    await code(
      call(again.state, 'cluster.unlock', {
        local_root: g.local_root,
        manifest: { ...g.manifest, measurements: [...g.manifest.measurements, 'cd'.repeat(48)] },
        manifest_mac: g.manifest_mac,
        carry: g.wrapped.carry,
      }),
      'CLUSTER_MANIFEST_MISMATCH',
    );
    // A root held from a password operation before the unlock is wiped by the unlock itself.
    passwordKeySource(again.state).sealingKey('measurement');
    const held = again.state.passwordRoots.get('measurement')!;
    await restartWith(again.state, g);
    assert.equal(again.state.passwordRoots.size, 0);
    assert.ok(held.every((b) => b === 0));
    await call(again.state, 'keyring.unseal', { sealed: g.wrapped.credential.sealed });
    assert.equal(again.state.phase, 'ready');
  });

  it('a genesis that fails after copying the password root wipes the copy, the carry and the root', async () => {
    const e = testEnclave();
    dirs.push(e.dir);
    await readyForGenesis(e);
    const request = genesisRequest(e.state, (await operators(3)).map(opOf));
    // The root this genesis draws: a known value, to look for among the wiped arrays.
    const root = new Uint8Array(32).fill(7);
    const randomBytes = nodeCrypto.randomBytes;
    nodeCrypto.randomBytes = ((n: number) =>
      n === 32 ? Buffer.from(root) : randomBytes(n)) as typeof randomBytes;
    syncBuiltinESMExports();
    // The held root (derived here, so genesis copies it without asking the platform again).
    const passwordRoot = Uint8Array.from(passwordKeySource(e.state).sealingKey('measurement'));
    // Sealing the local root, after the copy and the carry are made, fails.
    let sealings = 0;
    e.state.platform.sealingKey = () => {
      sealings++;
      throw new Error('sealing failed');
    };
    let wiped: Wiped[];
    try {
      wiped = await wipedDuring(() => code(call(e.state, 'cluster.genesis', request), 'INTERNAL'));
    } finally {
      nodeCrypto.randomBytes = randomBytes;
      syncBuiltinESMExports();
    }
    assert.equal(sealings, 1);
    assert.equal(e.state.cluster, null);
    const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));
    const held = e.state.passwordRoots.get('measurement')!;
    const copies = wiped.filter((w) => same(w.held, passwordRoot) && w.bytes !== held);
    assert.ok(copies.length > 0, 'the copy of the password root was not wiped');
    for (const c of copies) assert.ok(c.bytes.every((b) => b === 0));
    const carries = wiped.filter((w) => Buffer.from(w.held).includes('"password_key"'));
    assert.ok(carries.length > 0, 'the carry document was not wiped');
    for (const c of carries) assert.ok(c.bytes.every((b) => b === 0));
    // The held root stays: without a cluster, logins still need it.
    assert.ok(same(held, passwordRoot));
    // The cluster root of a genesis that did not complete is nobody's.
    const roots = wiped.filter((w) => same(w.held, root));
    assert.ok(roots.length > 0, 'the root of the failed genesis was not wiped');
    for (const r of roots) assert.ok(r.bytes.every((b) => b === 0));
  });

  it('an unlock wipes its copy of the root when it refuses, and the root it replaces', async () => {
    const { e, g } = await genesis();
    const root = (() => {
      const { plaintext } = platformSealer(e.state.platform).unseal(g.local_root);
      return base64ToBytes(JSON.parse(utf8.decode(plaintext)).root);
    })();
    const again = testEnclave({ dir: e.dir });
    const same = (a: Uint8Array) => Buffer.from(a).equals(Buffer.from(root));
    // The host hands a manifest the root did not MAC (or an older epoch than the local root).
    const wiped = await wipedDuring(() =>
      code(
        restartWith(again.state, { ...g, manifest: { ...g.manifest, created_at: 1 } }),
        'CLUSTER_MANIFEST_MISMATCH',
      ),
    );
    assert.ok(
      wiped.some((w) => same(w.held)),
      'a refused unlock left the root it decoded in memory',
    );
    // Unlocked twice (awaiting_keyring allows it): the first copy is dropped, so wiped.
    await restartWith(again.state, g);
    const first = again.state.cluster!.root;
    await restartWith(again.state, g);
    assert.notEqual(again.state.cluster!.root, first);
    assert.ok(
      first.every((b) => b === 0),
      'the replaced root was not wiped',
    );
    assert.ok(same(again.state.cluster!.root));
  });

  it('two geneses at once (the host opens two connections): one completes, the other is refused', async () => {
    const e = testEnclave();
    dirs.push(e.dir);
    await readyForGenesis(e);
    const ops = (await operators(3)).map(opOf);
    // Both start before either holds a root (each awaits the shares' encryption and evidence).
    const results = await Promise.allSettled([
      call(e.state, 'cluster.genesis', genesisRequest(e.state, ops)),
      call(e.state, 'cluster.genesis', genesisRequest(e.state, ops)),
    ]);
    const done = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    assert.equal(done.length, 1, 'both completed: two roots wrap the same keyrings');
    assert.equal((refused[0] as { code?: string }).code, 'CLUSTER_EXISTS');
    assert.equal(e.state.cluster?.clusterId, done[0]!.manifest.cluster_id);
  });

  it('two reshares of one approved proposal at once: one completes, the other is stale', async () => {
    const { e, withKeys, propose } = await signedGenesis(4);
    const { proposal, approve } = propose([withKeys[0]!, withKeys[1]!, withKeys[3]!]);
    const approvals = [approve('op1'), approve('op3')];
    const results = await Promise.allSettled([
      call(e.state, 'cluster.reshare', { nonce: RESHARE_NONCE, proposal, approvals }),
      call(e.state, 'cluster.reshare', { nonce: RESHARE_NONCE, proposal, approvals }),
    ]);
    const done = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    // Both completing gave two different share sets for one epoch, the enclave keeping the last.
    assert.equal(done.length, 1, 'both reshares completed');
    assert.equal((refused[0] as { code?: string }).code, 'CLUSTER_PROPOSAL_STALE');
    assert.equal(e.state.cluster!.manifest.epoch, 2);
    assert.deepEqual(e.state.cluster!.manifest, done[0]!.manifest);
  });

  it('a second genesis is refused; quorum methods run only in awaiting_quorum', async () => {
    const { e, g } = await genesis();
    await code(
      call(e.state, 'cluster.genesis', genesisRequest(e.state, g.manifest.operators)),
      'CLUSTER_EXISTS',
    );
    await code(call(e.state, 'cluster.quote', { nonce: 'abcdefghijklmnop' }), 'PHASE_FORBIDDEN');
    const n = testEnclave();
    dirs.push(n.dir);
    await call(n.state, 'cluster.await_quorum', {
      manifest: g.manifest,
      manifest_mac: g.manifest_mac,
      policy: 'measurement',
    });
    await code(call(n.state, 'keyring.generate', { policy: 'measurement' }), 'PHASE_FORBIDDEN');
    await code(call(n.state, 'attestation.get', { nonce: 'abcdefghijklmnop' }), 'PHASE_FORBIDDEN');
  });

  it('reshare: approved by a threshold of current operators, new epoch, same root; old shares superseded', async () => {
    const { e, ops, withKeys, g, propose } = await signedGenesis(4);
    // Replace op3 by op4 and accept one more measurement.
    const { proposal, approve } = propose([withKeys[0]!, withKeys[1]!, withKeys[3]!]);
    await code(
      call(e.state, 'cluster.reshare', {
        nonce: RESHARE_NONCE,
        proposal,
        approvals: [approve('op1')],
      }),
      'CLUSTER_APPROVALS_INSUFFICIENT',
    );
    // op4 is not an operator of the current manifest; op2's name with op4's key does not verify;
    // the same operator twice counts once.
    await code(
      call(e.state, 'cluster.reshare', {
        nonce: RESHARE_NONCE,
        proposal,
        approvals: [approve('op1'), approve('op1'), approve('op4'), approve('op4', 'op2')],
      }),
      'CLUSTER_APPROVALS_INSUFFICIENT',
    );
    const r = await call(e.state, 'cluster.reshare', {
      nonce: RESHARE_NONCE,
      proposal,
      approvals: [approve('op1'), approve('op3')],
    });
    assert.equal(r.manifest.epoch, 2);
    assert.equal(r.manifest.cluster_id, g.manifest.cluster_id);
    assert.deepEqual(
      r.manifest.operators.map((o: { name: string }) => o.name),
      ['op1', 'op2', 'op4'],
    );
    await code(
      call(e.state, 'cluster.reshare', {
        nonce: RESHARE_NONCE,
        proposal,
        approvals: [approve('op1'), approve('op2')],
      }),
      'CLUSTER_PROPOSAL_STALE',
    );
    // Restore against the new manifest: an epoch-1 share is superseded, epoch-2 shares work.
    const open = async (file: string, identity: string): Promise<ShareFile> => {
      const d = new age.Decrypter();
      d.addIdentity(identity);
      return JSON.parse(new TextDecoder().decode(await d.decrypt(age.armor.decode(file))));
    };
    const n = testEnclave();
    dirs.push(n.dir);
    await call(n.state, 'cluster.await_quorum', {
      manifest: r.manifest,
      manifest_mac: r.manifest_mac,
      policy: 'measurement',
    });
    await code(
      submit(n.state, r.manifest, await open(g.shares[0].file, ops[0]!.identity)),
      'CLUSTER_SHARE_SUPERSEDED',
    );
    await submit(n.state, r.manifest, await open(r.shares[0].file, ops[0]!.identity));
    const done = await submit(n.state, r.manifest, await open(r.shares[2].file, ops[3]!.identity));
    assert.ok(done.local_root);
    assert.equal(n.state.phase, 'awaiting_keyring');
    // The resharing machine's new local copy refuses the older manifest (rollback by the host).
    const restarted = testEnclave({ dir: e.dir });
    await code(
      call(restarted.state, 'cluster.unlock', {
        local_root: r.local_root,
        manifest: g.manifest,
        manifest_mac: g.manifest_mac,
        carry: g.wrapped.carry,
      }),
      'CLUSTER_MANIFEST_MISMATCH',
    );
    await call(restarted.state, 'cluster.unlock', {
      local_root: r.local_root,
      manifest: r.manifest,
      manifest_mac: r.manifest_mac,
      carry: g.wrapped.carry,
    });
    // Open (SECURITY.md): the host keeps DATA_DIR, and the epoch-1 local root is the same root
    // sealed to the same machine; with the epoch-1 manifest it unlocks (no monotonic state).
    const rolledBack = testEnclave({ dir: e.dir });
    await restartWith(rolledBack.state, g);
    assert.equal(rolledBack.state.cluster!.manifest.epoch, 1);
  });
  it('reshare: a small-order signing key does not make every signature an approval', async () => {
    // op2's key is the identity point: whoever relays approvals could stand in for op2.
    const { e, g, propose } = await signedGenesis(3, 1);
    const { proposal, approve } = propose(g.manifest.operators);
    const forged = new Uint8Array(64);
    forged[0] = 1;
    await code(
      call(e.state, 'cluster.reshare', {
        nonce: RESHARE_NONCE,
        proposal,
        approvals: [approve('op1'), { operator: 'op2', signature: bytesToBase64(forged) }],
      }),
      'CLUSTER_APPROVALS_INSUFFICIENT',
    );
  });
});

/**
 * The measured genesis policy (src/enclave/cluster/genesis-policy.ts): under `fresh-only` a host
 * relaying `cluster.genesis` with recipients of its own learns a root that wraps no stored key,
 * because genesis runs only on keyrings generated in this process and a log that started empty.
 */
describe('genesis policy', () => {
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  async function genesisParams(state: EnclaveState) {
    const ops = await operators(2);
    return genesisRequest(state, ops.map(opOf), { nonce: 'genesis-nonce-0002' });
  }

  /** A first boot of a deployment: keyrings generated, an empty log, one entry appended. */
  async function firstBoot(genesisPolicy: 'convert' | 'fresh-only') {
    const e = testEnclave({ genesisPolicy });
    dirs.push(e.dir);
    const k = await call(e.state, 'keyring.generate', { policy: 'measurement' });
    const a = await call(e.state, 'auth.init', { sealed: null });
    await call(e.state, 'log.init', { checkpoint: null, frontier: [] });
    const appended = await call(e.state, 'log.append', {
      entries: [{ v: 1, type: 'keyring.rotated', subject: 'k1', time: e.clock.now }],
    });
    return { e, credential: k.sealed as string, auth: a.sealed as string, appended };
  }

  /** The same machine after a restart: what the host stored is unsealed. */
  async function restart(
    dir: string,
    genesisPolicy: 'convert' | 'fresh-only',
    stored: { credential: string; auth: string | null },
  ) {
    const e = testEnclave({ dir, genesisPolicy });
    await call(e.state, 'keyring.unseal', { sealed: stored.credential });
    await call(e.state, 'auth.init', { sealed: stored.auth });
    return e;
  }

  it('fresh-only: genesis runs on a fresh enclave (keyrings generated here, log started empty)', async () => {
    const { e } = await firstBoot('fresh-only');
    const g = await call(e.state, 'cluster.genesis', await genesisParams(e.state));
    assert.equal(g.manifest.epoch, 1);
  });

  it('fresh-only: what genesis carries is not the platform sealing key; password hashes sealed before keep opening', async () => {
    const { e } = await firstBoot('fresh-only');
    const before = sealPasswordHash(passwordKeySource(e.state), 'measurement', 'u1', '$argon2id$x');
    const held = e.state.passwordRoots.get('measurement')!;
    await call(e.state, 'cluster.genesis', await genesisParams(e.state));
    // The cluster root carries the password root now: the held one is wiped at once, not at
    // the next login.
    assert.equal(e.state.passwordRoots.size, 0);
    assert.ok(held.every((b) => b === 0));
    const platformKey = e.state.platform.sealingKey('measurement');
    // A host running its own genesis on a fresh enclave of this machine learns the carry: it
    // must not be the key that seals this machine's stored keyrings (keyring/seal.ts).
    assert.notDeepEqual(e.state.cluster!.passwordKey, platformKey);
    assert.equal(
      unsealPasswordHash(passwordKeySource(e.state), 'measurement', 'u1', before),
      '$argon2id$x',
    );
    // Under convert the carry stays the platform key, as before (existing hashes keep opening).
    const c = await firstBoot('convert');
    await call(c.e.state, 'cluster.genesis', await genesisParams(c.e.state));
    assert.deepEqual(c.e.state.cluster!.passwordKey, c.e.state.platform.sealingKey('measurement'));
  });

  it('fresh-only: refused once a stored keyring was unsealed (conversion in place, or a rollback)', async () => {
    const first = await firstBoot('fresh-only');
    const e = await restart(first.e.dir, 'fresh-only', first);
    await call(e.state, 'log.init', { checkpoint: null, frontier: [] });
    await code(
      call(e.state, 'cluster.genesis', await genesisParams(e.state)),
      'CLUSTER_GENESIS_REFUSED',
    );
    assert.equal(e.state.cluster, null);
    // One unsealed purpose is enough: here only the credential keyring, auth made anew.
    const partly = await restart(first.e.dir, 'fresh-only', { ...first, auth: null });
    await call(partly.state, 'log.init', { checkpoint: null, frontier: [] });
    await code(
      call(partly.state, 'cluster.genesis', await genesisParams(partly.state)),
      'CLUSTER_GENESIS_REFUSED',
    );
  });

  it('fresh-only: refused when the log started non-empty, or was never started', async () => {
    const first = await firstBoot('fresh-only');
    // The stored log (size 1) resumed on the same machine.
    const resumed = await restart(first.e.dir, 'convert', first);
    const log = await call(resumed.state, 'log.init', {
      checkpoint: first.appended.checkpoint,
      frontier: first.appended.leaf_hashes,
    });
    assert.equal(log.size, 1);
    // A fresh enclave (keyrings generated) whose log was opened from stored state.
    const e = testEnclave({ genesisPolicy: 'fresh-only' });
    dirs.push(e.dir);
    await readyForGenesis(e);
    const params = await genesisParams(e.state);
    await code(call(e.state, 'cluster.genesis', params), 'CLUSTER_GENESIS_REFUSED');
    e.state.log = resumed.state.log;
    await code(call(e.state, 'cluster.genesis', params), 'CLUSTER_GENESIS_REFUSED');
  });

  it('convert: genesis converts in place after an unseal, as before', async () => {
    const first = await firstBoot('convert');
    const e = await restart(first.e.dir, 'convert', first);
    const g = await call(e.state, 'cluster.genesis', await genesisParams(e.state));
    // The keyring in use is wrapped as it is: same generation, the stored one.
    assert.equal(g.wrapped.credential.generation, 1);
    // Source runs (no build define) are `convert`.
    const plain = testEnclave();
    dirs.push(plain.dir);
    assert.equal(plain.state.genesisPolicy, 'convert');
  });
});
