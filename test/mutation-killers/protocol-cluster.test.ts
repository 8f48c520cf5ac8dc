/**
 * src/protocol/cluster/cluster.ts for the mutation run (docs/mutation-testing.md): the wire
 * names and domain-separation strings are the protocol (an edit breaks every other
 * implementation), each digest and report data is recomputed here from its definition in
 * docs/protocol/cluster.md, and each schema rule refuses on its own at its exact bound.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { bytesToHex, concatBytes, hexToBytes, utf8 } from '../../src/protocol/encoding.js';
import { jcsBytes } from '../../src/protocol/jcs.js';
import {
  AgeRecipientSchema,
  approvalMessage,
  FORWARD_FORMAT,
  FORWARD_INFO_PREFIX,
  forwardInfo,
  GENESIS_CONTEXT,
  genesisReportData,
  MANIFEST_FORMAT,
  ManifestSchema,
  OperatorNameSchema,
  PROPOSAL_FORMAT,
  ProposalSchema,
  PROVISIONING_CONTEXT,
  provisioningReportData,
  SHARE_FORMAT,
  SHARE_PROVISION_INFO,
  shareDigest,
  ShareFileSchema,
  type ShareFile,
} from '../../src/protocol/cluster/cluster.js';

const RECIPIENT = `age1${'q'.repeat(58)}`;
/** An operator; its recipient differs per name (no two operators of a split alike). */
const op = (name: string) => ({
  name,
  recipient: `age1${'q'.repeat(58 - name.length)}${[...name].map((c) => 'qpzry9x8gf2tvdw0s3jn54khce6mua7l'[c.charCodeAt(0) % 32]).join('')}`,
});
const hex32 = (b: number) => bytesToHex(new Uint8Array(32).fill(b));
const manifest = (over: Record<string, unknown> = {}) => ({
  format: MANIFEST_FORMAT,
  cluster_id: hex32(1),
  epoch: 1,
  threshold: 2,
  operators: [op('a'), op('b'), op('c')],
  share_digests: [hex32(2), hex32(3), hex32(4)],
  measurements: [hex32(5)],
  platform: { name: 'simulated', allow_debug: true },
  created_at: 0,
  ...over,
});
const proposal = (over: Record<string, unknown> = {}) => ({
  format: PROPOSAL_FORMAT,
  cluster_id: hex32(1),
  from_epoch: 1,
  threshold: 2,
  operators: [op('a'), op('b')],
  measurements: [hex32(5)],
  platform: { name: 'simulated', allow_debug: true },
  ...over,
});
const messages = (r: { success: boolean; error?: { issues: { message: string }[] } }) =>
  r.success ? [] : r.error!.issues.map((i) => i.message);

describe('cluster wire names and domain separation', () => {
  it('are exactly the specified strings', () => {
    assert.equal(MANIFEST_FORMAT, 'cloister-cluster-manifest/v1');
    assert.equal(SHARE_FORMAT, 'cloister-cluster-share/v1');
    assert.equal(PROVISIONING_CONTEXT, 'cloister/provisioning-report-data/v1');
    assert.deepEqual(SHARE_PROVISION_INFO, utf8.encode('cloister/cluster/share-provision/v1'));
    assert.equal(FORWARD_FORMAT, 'cloister-cluster-forward/v1');
    assert.equal(FORWARD_INFO_PREFIX, 'cloister/cluster/forward/v1\n');
    assert.equal(GENESIS_CONTEXT, 'cloister/cluster-genesis-report-data/v1');
    assert.equal(PROPOSAL_FORMAT, 'cloister-cluster-proposal/v1');
  });

  it('each digest and report data is its definition, recomputed', () => {
    const file: ShareFile = {
      format: SHARE_FORMAT,
      cluster_id: hex32(1),
      epoch: 1,
      index: 1,
      threshold: 2,
      operator: 'a',
      share: Buffer.alloc(33, 7).toString('base64'),
    };
    assert.equal(
      shareDigest(file),
      bytesToHex(sha256(concatBytes(utf8.encode('cloister/cluster/share/v1\n'), jcsBytes(file)))),
    );
    const b = {
      provisioning_key: Buffer.alloc(32, 8).toString('base64'),
      cluster_id: hex32(1),
      manifest_digest: hex32(9),
      nonce: 'n'.repeat(43),
    };
    assert.deepEqual(
      provisioningReportData(b),
      sha512(jcsBytes({ context: 'cloister/provisioning-report-data/v1', ...b })),
    );
    const g = { cluster_id: hex32(1), manifest_digest: hex32(9), nonce: 'n'.repeat(43) };
    assert.deepEqual(
      genesisReportData(g),
      sha512(jcsBytes({ context: 'cloister/cluster-genesis-report-data/v1', ...g })),
    );
    // The two contexts never give the same report data for the same fields.
    assert.notDeepEqual(genesisReportData(g), provisioningReportData({ ...b, ...g }));
    const a = 'aa'.repeat(64);
    const m = 'bb'.repeat(64);
    assert.deepEqual(
      forwardInfo(a, m),
      concatBytes(utf8.encode('cloister/cluster/forward/v1\n'), hexToBytes(a), hexToBytes(m)),
    );
    const p = ProposalSchema.parse(proposal());
    assert.deepEqual(
      approvalMessage(p),
      concatBytes(utf8.encode('cloister/cluster/approve/v1\n'), jcsBytes(p)),
    );
  });
});

describe('cluster schemas', () => {
  it('an age recipient and an operator name match whole strings only', () => {
    assert.ok(AgeRecipientSchema.safeParse(RECIPIENT).success);
    for (const bad of [`x${RECIPIENT}`, `${RECIPIENT}q`, `${RECIPIENT} `, RECIPIENT.slice(0, -1)])
      assert.equal(AgeRecipientSchema.safeParse(bad).success, false, bad);
    assert.ok(OperatorNameSchema.safeParse('ops-1.a_b').success);
    assert.ok(OperatorNameSchema.safeParse('a'.repeat(64)).success);
    for (const bad of [' a', 'a ', 'a b', 'a'.repeat(65), '', 'a/b'])
      assert.equal(OperatorNameSchema.safeParse(bad).success, false, JSON.stringify(bad));
  });

  it('a manifest: threshold from 2 up to the operators, one share digest per operator', () => {
    assert.ok(ManifestSchema.safeParse(manifest()).success);
    assert.ok(ManifestSchema.safeParse(manifest({ threshold: 3 })).success, 'threshold = n');
    assert.deepEqual(messages(ManifestSchema.safeParse(manifest({ threshold: 4 }))), [
      'threshold above operators',
    ]);
    assert.equal(ManifestSchema.safeParse(manifest({ threshold: 1 })).success, false);
    assert.deepEqual(
      messages(ManifestSchema.safeParse(manifest({ share_digests: [hex32(2), hex32(3)] }))),
      ['one share digest per operator'],
    );
  });

  it('a share file takes any threshold from 2 to the maximum', () => {
    const file = {
      format: SHARE_FORMAT,
      cluster_id: hex32(1),
      epoch: 1,
      index: 3,
      threshold: 3,
      operator: 'c',
      share: Buffer.alloc(33, 7).toString('base64'),
    };
    assert.ok(ShareFileSchema.safeParse(file).success);
    assert.equal(ShareFileSchema.safeParse({ ...file, threshold: 1 }).success, false);
    assert.equal(ShareFileSchema.safeParse({ ...file, threshold: 33 }).success, false);
  });

  it('a proposal: threshold equal to its operators passes, above them is refused', () => {
    assert.ok(ProposalSchema.safeParse(proposal()).success, 'threshold = n');
    assert.ok(
      ProposalSchema.safeParse(proposal({ threshold: 3, operators: [op('a'), op('b'), op('c')] }))
        .success,
    );
    assert.deepEqual(messages(ProposalSchema.safeParse(proposal({ threshold: 3 }))), [
      'threshold above operators',
    ]);
  });
});
