/**
 * Issue 13, another instance joins: A converts to a cluster; B starts with an empty data folder
 * on the same PostgreSQL and CLUSTER_JOIN=A. A's enclave checks B's provisioning quote against
 * the manifest and forwards the root over HPKE bound to both reports; B then serves the same
 * users with the same keys. An enclave whose measurement the manifest does not accept gets
 * nothing, and A logs the refusal. Separate data folders = separate simulated machines.
 */
import { cliSetOperator } from '../auth/operator-helper.js';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { clusterApprove, clusterSigningKey } from '../../src/cli/cluster.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import * as age from 'age-encryption';
import { createLocalJWKSet, jwtVerify } from 'jose';
import {
  PROPOSAL_FORMAT,
  type Proposal,
  ManifestSchema,
  manifestDigest,
  provisioningReportData,
  type Manifest,
} from '../../src/protocol/cluster/cluster.js';
import { bytesToBase64, bytesToHex } from '../../src/protocol/encoding.js';
import { submit, uniqueCredentials, verifiedAttestation } from '../helpers/client.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { recoverMessageAddress, type Hex } from 'viem';
import { api, newUser, openBoth, reply, withShare, type User } from '../wallet/service-helpers.js';
import { inject, machine, ready } from './cluster-helpers.js';

describe(
  'cluster: an instance joins through an attested member',
  {
    skip:
      !process.env.TEST_DATABASE_URL && 'needs TEST_DATABASE_URL (two instances, one PostgreSQL)',
  },
  () => {
    let a: TestService;
    let b: TestService;
    let manifest: Manifest;
    let urlA: string;
    const password = 'cluster-password-0123';
    const bMachine = machine();
    const rogue = machine('package.json'); // another build: another measurement
    let sessionId: string;
    let tokenA: string;
    let opToken: string;
    const keyDir = mkdtempSync(join(tmpdir(), 'cloister-sign-'));
    let walletUser: User;
    let wallet: { id: string; device: Uint8Array; eth: string };

    /** B on its own machine and A's database, joining through A; resolves once B is ready. */
    const startB = async () =>
      ready(
        await startTestService(
          'postgres',
          { AUTH_DISABLED_FOR_DEVELOPMENT: 'true', CLUSTER_JOIN: urlA },
          { dataDir: bMachine.dir, database: { url: a.databaseUrl!, drop: async () => undefined } },
        ),
      );

    before(async () => {
      a = await startTestService('postgres');
      await inject(a, 'POST', '/auth/register', { email: 'op@example.com', password });
      await cliSetOperator(a, 'grant', 'op@example.com');
      const op = (
        await inject(a, 'POST', '/auth/login', { email: 'op@example.com', password })
      ).json();
      opToken = op.access_token;
      const { verification } = await verifiedAttestation(a);
      const res = await submit(
        a.service.app,
        verification.enclavePubkey!,
        uniqueCredentials('join'),
      );
      assert.equal(res.statusCode, 200, res.body);
      sessionId = res.json().session_id;
      // A wallet made before genesis: its keyring was sealed to A's platform then.
      walletUser = await newUser(a);
      const kp = reply();
      const created = await api(a, walletUser)('POST', '/wallets', {
        label: 'pre-genesis',
        reply_pub: kp.replyPub,
      });
      assert.equal(created.statusCode, 201, created.body);
      wallet = {
        id: created.json().wallet_id,
        device: openBoth(created.json(), kp.privateKey).device,
        eth: created.json().accounts[0].address,
      };
      const operators = [];
      for (const name of ['op1', 'op2']) {
        const { signing_key } = clusterSigningKey(join(keyDir, `${name}.key`));
        operators.push({
          name,
          recipient: await age.identityToRecipient(await age.generateX25519Identity()),
          signing_key,
        });
      }
      const g = await inject(
        a,
        'POST',
        '/cluster/genesis',
        {
          operators,
          threshold: 2,
          simulated_vendor_keys: [a.vendorKey, bMachine.vendorKey, rogue.vendorKey],
        },
        op.access_token,
      );
      assert.equal(g.statusCode, 200, g.body);
      manifest = ManifestSchema.parse(g.json().manifest);
      await a.service.app.listen({ port: 0, host: '127.0.0.1' });
      const addr = a.service.app.server.address();
      urlA = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;

      b = await startB();
      await inject(a, 'POST', '/auth/register', { email: 'user@example.com', password });
      tokenA = (
        await inject(a, 'POST', '/auth/login', { email: 'user@example.com', password })
      ).json().access_token;
    });
    after(async () => {
      await b?.stop();
      await a?.stop();
    });

    it('B serves A’s sessions, users and tokens with the same keys', async () => {
      const status = await inject(b, 'GET', `/enclave/sessions/${sessionId}`);
      assert.equal(status.statusCode, 200, status.body);
      assert.equal(status.json().credential, 'ok');
      const login = await inject(b, 'POST', '/auth/login', { email: 'user@example.com', password });
      assert.equal(login.statusCode, 200, login.body);
      const jwksA = JSON.parse((await inject(a, 'GET', '/.well-known/jwks.json')).body);
      const jwksB = JSON.parse((await inject(b, 'GET', '/.well-known/jwks.json')).body);
      assert.deepEqual(jwksB, jwksA);
      await jwtVerify(tokenA, createLocalJWKSet(jwksB));
      await jwtVerify(login.json().access_token, createLocalJWKSet(jwksA));
      const attA = (await verifiedAttestation(a)).attestation;
      const attB = (await verifiedAttestation(b)).attestation;
      for (const k of ['enclave_pubkey', 'key_id', 'signing_keys', 'cluster_id'])
        assert.deepEqual(attB[k], attA[k], k);
      assert.equal(attB.cluster_id, manifest.cluster_id);
      const { rows } = await a.service.db.query<{ type: string }>(
        "SELECT event_type AS type FROM ops_logs WHERE event_type = 'cluster.member_joined'",
      );
      assert.equal(rows.length, 1);
    });

    it('an enclave whose measurement the manifest does not accept gets nothing; A logs it', async () => {
      const binding = {
        provisioning_key: bytesToBase64(randomBytes(32)),
        cluster_id: manifest.cluster_id,
        manifest_digest: manifestDigest(manifest),
        nonce: 'abcdefghijklmnop',
      };
      const reportData = provisioningReportData(binding);
      const quote = {
        phase: 'awaiting_quorum',
        quote: bytesToBase64(await rogue.platform.evidence(reportData)),
        image_hash: rogue.platform.measurement,
        platform: 'simulated',
        report_data: bytesToHex(reportData),
        ...binding,
      };
      assert.notEqual(rogue.platform.measurement, a.measurement);
      const res = await inject(a, 'POST', '/cluster/join', { quote });
      assert.equal(res.statusCode, 403, res.body);
      assert.equal(res.json().error.code, 'CLUSTER_PEER_REFUSED');
      assert.equal(res.body.includes('"enc"'), false);
      // The same quote claiming the accepted measurement fails the evidence signature binding.
      const lying = await inject(a, 'POST', '/cluster/join', {
        quote: { ...quote, image_hash: a.measurement },
      });
      assert.equal(lying.json().error.code, 'CLUSTER_PEER_REFUSED');
      const { rows } = await a.service.db.query<{ type: string }>(
        "SELECT event_type AS type FROM merkle_logs WHERE event_type = 'cluster.join_refused'",
      );
      assert.equal(rows.length, 2);
    });

    it('a manifest change (upgrade: one more measurement) needs a threshold of approvals and is logged', async () => {
      const proposal: Proposal = {
        format: PROPOSAL_FORMAT,
        cluster_id: manifest.cluster_id,
        from_epoch: manifest.epoch,
        threshold: 2,
        operators: manifest.operators,
        measurements: [...manifest.measurements, 'cd'.repeat(48)],
        platform: manifest.platform,
      };
      const proposalPath = join(keyDir, 'proposal.json');
      writeFileSync(proposalPath, JSON.stringify(proposal));
      const approvals = ['op1', 'op2'].map((name) =>
        clusterApprove({
          proposalPath,
          signingKeyPath: join(keyDir, `${name}.key`),
          operator: name,
        }),
      );
      assert.equal(
        (await inject(a, 'POST', '/cluster/reshare', { proposal, approvals })).statusCode,
        401,
      );
      const one = await inject(
        a,
        'POST',
        '/cluster/reshare',
        { proposal, approvals: approvals.slice(0, 1) },
        opToken,
      );
      assert.equal(one.json().error.code, 'CLUSTER_APPROVALS_INSUFFICIENT');
      const r = await inject(a, 'POST', '/cluster/reshare', { proposal, approvals }, opToken);
      assert.equal(r.statusCode, 200, r.body);
      assert.equal(r.json().manifest.epoch, 2);
      const current = (await inject(b, 'GET', '/cluster/manifest')).json();
      assert.equal(current.manifest.epoch, 2);
      assert.equal(current.digest, manifestDigest(r.json().manifest));
      const { rows } = await a.service.db.query<{ subject: string; entry: string }>(
        "SELECT subject, entry FROM merkle_logs WHERE event_type = 'cluster.manifest_changed'",
      );
      assert.equal(rows.length, 1);
      assert.equal(JSON.parse(rows[0]!.entry).digests.payload, current.digest);
    });

    it('a wallet created through A before genesis signs through A and, after the join, through B', async () => {
      const signThrough = async (ts: TestService, message: string) => {
        const body = await withShare(ts, wallet.id, 'device', wallet.device, 'sign', {
          address: wallet.eth,
          request: { type: 'eth_personal_sign', message },
        });
        const res = await api(ts, walletUser)('POST', `/wallets/${wallet.id}/sign`, body);
        assert.equal(res.statusCode, 200, res.body);
        const signature = res.json().signature as Hex;
        assert.equal(await recoverMessageAddress({ message, signature }), wallet.eth);
      };
      await signThrough(a, 'hello from A');
      // And after B restarts (same machine, same database): its local root, no operator.
      b = await ready(await b.restart()); // same machine (data folder), same database
      await signThrough(b, 'hello from B');
    });
  },
);
