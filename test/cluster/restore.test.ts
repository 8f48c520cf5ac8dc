/**
 * Issue 13, machine loss: genesis on instance A (converting its keyring in place), then A's data
 * folder is gone and instance B starts on the same PostgreSQL with an empty one. B waits in
 * `awaiting_quorum` (readyz says so, secret routes 503 CLUSTER_LOCKED, the quote binds a
 * provisioning key); one share is not enough, an altered share and a foreign cluster's share are
 * refused by name; two shares (one decrypted by the real `age` binary) restore it, after which
 * every old session reads `ok`, users log in, old tokens verify against the same JWKS and the
 * attested keys and cluster id are A's. The root and the shares are in no table, log or file.
 * Two instances = two data folders (two simulated sealing keys), one database.
 */
import { cliSetOperator } from '../auth/operator-helper.js';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as age from 'age-encryption';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { combine } from 'shamir-secret-sharing';
import {
  ManifestSchema,
  SHARE_PROVISION_INFO,
  ShareFileSchema,
  manifestDigest,
  type Manifest,
  type ShareFile,
} from '../../src/protocol/cluster/cluster.js';
import { base64ToBytes } from '../../src/protocol/encoding.js';
import { sealEnvelopeHpke } from '../../src/protocol/envelope/hpke.js';
import { jcsBytes } from '../../src/protocol/jcs.js';
import { decryptShare, provideShare, submitShareFile } from '../../src/cli/cluster.js';
import { attest } from '../../src/cli/trust.js';
import { CryptoHelper } from '../../src/client/index.js';
import { submit, uniqueCredentials, verifiedAttestation } from '../helpers/client.js';
import {
  bytesNeedles,
  dumpPublicSchema,
  findNeedles,
  readAllFiles,
} from '../helpers/security-util.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { inject } from './cluster-helpers.js';

const hasAge = spawnSync('age', ['--version']).status === 0;
const skipAge =
  !hasAge && !process.env.CI ? 'the `age` binary is not installed (apt-get install age)' : false;

describe(
  'cluster: genesis and restore after machine loss',
  {
    skip:
      !process.env.TEST_DATABASE_URL && 'needs TEST_DATABASE_URL (two instances, one PostgreSQL)',
  },
  () => {
    let a: TestService;
    let b: TestService;
    let dbUrl: string;
    let drop: () => Promise<void>;
    const dir = mkdtempSync(join(tmpdir(), 'cloister-cluster-'));
    const password = 'cluster-password-0123';
    let manifest: Manifest;
    const shareFiles: string[] = [];
    const identityFiles: string[] = [];
    let sessionId: string;
    let oldToken: string;
    let jwksA: string;
    let attA: Record<string, unknown>;
    let urlB: string;
    /** Every HTTP body the ceremony produced (genesis answer, quotes), scanned for the root. */
    const bodies: string[] = [];

    before(async () => {
      a = await startTestService('postgres', { AUTH_DISABLED_FOR_DEVELOPMENT: 'true' });
      dbUrl = a.databaseUrl!;
      for (const email of ['op@example.com', 'user@example.com'])
        await inject(a, 'POST', '/auth/register', { email, password });
      await cliSetOperator(a, 'grant', 'op@example.com');
      const op = (
        await inject(a, 'POST', '/auth/login', { email: 'op@example.com', password })
      ).json();
      oldToken = (
        await inject(a, 'POST', '/auth/login', { email: 'user@example.com', password })
      ).json().access_token;
      const { verification } = await verifiedAttestation(a);
      const res = await submit(a.service.app, verification.enclavePubkey!, uniqueCredentials('cl'));
      assert.equal(res.statusCode, 200, res.body);
      sessionId = res.json().session_id;

      const operators = [];
      for (const name of ['op1', 'op2', 'op3']) {
        const identity = await age.generateX25519Identity();
        const path = join(dir, `${name}-key.txt`);
        writeFileSync(path, `# created for the test\n${identity}\n`);
        identityFiles.push(path);
        operators.push({ name, recipient: await age.identityToRecipient(identity) });
      }
      // Before genesis: no operator token, no genesis.
      assert.equal(
        (await inject(a, 'POST', '/cluster/genesis', { operators, threshold: 2 })).statusCode,
        401,
      );
      const g = await inject(
        a,
        'POST',
        '/cluster/genesis',
        { operators, threshold: 2 },
        op.access_token,
      );
      assert.equal(g.statusCode, 200, g.body);
      bodies.push(g.body);
      manifest = ManifestSchema.parse(g.json().manifest);
      for (const s of g.json().shares as { operator: string; file: string }[]) {
        const path = join(dir, `${s.operator}.age`);
        writeFileSync(path, s.file);
        shareFiles.push(path);
      }
      writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
      jwksA = (await inject(a, 'GET', '/.well-known/jwks.json')).body;
      attA = (await verifiedAttestation(a)).attestation;

      // The machine is lost: A stops, its data folder (sealing key, local root) is gone.
      await a.service.stop();
      drop = async () => undefined;
      b = await startTestService(
        'postgres',
        { AUTH_DISABLED_FOR_DEVELOPMENT: 'true' },
        {
          dataDir: mkdtempSync(join(tmpdir(), 'cloister-test-b-')),
          database: { url: dbUrl, drop },
        },
      );
      await b.service.app.listen({ port: 0, host: '127.0.0.1' });
      const addr = b.service.app.server.address();
      urlB = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    });
    after(async () => {
      await b?.stop();
      await a?.stop().catch(() => undefined);
    });

    it('genesis logged the manifest digest and the cluster id; attestation binds the cluster id', async () => {
      assert.equal(attA.cluster_id, manifest.cluster_id);
      const { rows } = await b.service.db.query<{ entry: string; subject: string }>(
        "SELECT entry, subject FROM merkle_logs WHERE event_type = 'cluster.genesis'",
      );
      assert.equal(rows.length, 1);
      assert.equal(rows[0]!.subject, manifest.cluster_id);
      assert.equal(JSON.parse(rows[0]!.entry).digests.payload, manifestDigest(manifest));
      assert.equal(manifest.threshold, 2);
      assert.equal(manifest.operators.length, 3);
    });

    it('a new instance waits for its quorum: readyz, CLUSTER_LOCKED, provisioning quote', async () => {
      const ready = await inject(b, 'GET', '/readyz');
      assert.equal(ready.statusCode, 503);
      assert.equal(ready.json().phase, 'awaiting_quorum');
      const status = await inject(b, 'GET', `/enclave/sessions/${sessionId}`);
      assert.equal(status.statusCode, 503);
      assert.equal(status.json().error.code, 'CLUSTER_LOCKED');
      const quote = await inject(b, 'GET', '/attestation/quote?nonce=abcdefghijklmnop');
      assert.equal(quote.statusCode, 200, quote.body);
      assert.equal(quote.json().phase, 'awaiting_quorum');
      assert.equal(quote.json().cluster_id, manifest.cluster_id);
      assert.equal(quote.json().manifest_digest, manifestDigest(manifest));
    });

    it(
      'an enclave that dies while awaiting its quorum is restarted and awaits again (new key)',
      { timeout: 120_000 },
      async () => {
        const before = (await inject(b, 'GET', '/attestation/quote?nonce=abcdefghijklmnop')).json();
        process.kill(b.service.enclave.pid()!, 'SIGKILL');
        for (;;) {
          await new Promise((r) => setTimeout(r, 100));
          const q = await inject(b, 'GET', '/attestation/quote?nonce=abcdefghijklmnop');
          if (q.statusCode === 200 && q.json().provisioning_key !== before.provisioning_key) break;
        }
        assert.equal((await inject(b, 'GET', '/readyz')).json().phase, 'awaiting_quorum');
      },
    );

    it('one share is not enough; an altered or foreign share is refused by name', async () => {
      const one = await provideShare({
        url: urlB,
        sharePath: shareFiles[0]!,
        identityPath: identityFiles[0]!,
        manifestPath: join(dir, 'manifest.json'),
        trustedSimulatedVendorKeys: [b.vendorKey],
      });
      assert.deepEqual([one.index, one.have, one.threshold], [1, 1, 2]);
      assert.equal(
        (await inject(b, 'GET', `/enclave/sessions/${sessionId}`)).json().error.code,
        'CLUSTER_LOCKED',
      );

      const good = await decryptShare(shareFiles[1]!, identityFiles[1]!);
      const flipped = Buffer.from(good.share, 'base64');
      flipped[0]! ^= 1;
      const sendRaw = async (share: ShareFile) => {
        const q = (await inject(b, 'GET', '/attestation/quote?nonce=abcdefghijklmnop')).json();
        const sealed = await sealEnvelopeHpke(
          'HPKE-Base-X25519-SHA256-A256GCM',
          base64ToBytes(q.provisioning_key),
          jcsBytes(share),
          { info: SHARE_PROVISION_INFO },
        );
        return inject(b, 'POST', '/cluster/shares', {
          manifest_digest: manifestDigest(manifest),
          provisioning_key: q.provisioning_key,
          enc: sealed.enc,
          ciphertext: sealed.ciphertext,
        });
      };
      const altered = await sendRaw({ ...good, share: flipped.toString('base64') });
      assert.equal(altered.statusCode, 422);
      assert.equal(altered.json().error.code, 'CLUSTER_SHARE_ALTERED');
      const foreign = await sendRaw({ ...good, cluster_id: 'ab'.repeat(32) });
      assert.equal(foreign.json().error.code, 'CLUSTER_ID_MISMATCH');
      // The CLI refuses both before sending anything.
      await assert.rejects(
        submitShareFile({
          url: urlB,
          share: { ...good, share: flipped.toString('base64') },
          manifest,
          trust: [b.vendorKey],
        }),
        /does not match the manifest/,
      );
      // A quote from an enclave whose vendor key is not trusted gets nothing.
      await assert.rejects(
        submitShareFile({ url: urlB, share: good, manifest, trust: [] }),
        /provisioning quote refused/,
      );
      assert.equal((await inject(b, 'GET', '/readyz')).json().phase, 'awaiting_quorum');
    });

    it(
      'the threshold restores B (a share decrypted by the real age binary); same keys and users',
      { skip: skipAge },
      async () => {
        const plain = execFileSync('age', ['-d', '-i', identityFiles[1]!, shareFiles[1]!]);
        const share = ShareFileSchema.parse(JSON.parse(plain.toString('utf8')));
        // The database refuses every new checkpoint while the restore completes: the first
        // append of the restore's entries fails, and they must still be logged afterwards.
        const { rows: top } = await b.service.db.query<{ n: string }>(
          'SELECT max(tree_size) AS n FROM log_checkpoints',
        );
        await b.service.db.query(
          `ALTER TABLE log_checkpoints ADD CONSTRAINT test_refuse CHECK (tree_size <= ${Number(top[0]!.n)})`,
        );
        const two = await submitShareFile({ url: urlB, share, manifest, trust: [b.vendorKey] });
        assert.equal(two.have, 2);
        // The append of the restore's entries failed once (refused, or never sent).
        while (!b.logs.some((l) => /log batch (not stored|failed)/.test(l)))
          await new Promise((r) => setTimeout(r, 50));
        await b.service.db.query('ALTER TABLE log_checkpoints DROP CONSTRAINT test_refuse');
        for (;;) {
          if ((await inject(b, 'GET', '/readyz')).statusCode === 200) break;
          await new Promise((r) => setTimeout(r, 50));
        }
        const status = await inject(b, 'GET', `/enclave/sessions/${sessionId}`);
        assert.equal(status.statusCode, 200, status.body);
        assert.equal(status.json().credential, 'ok');
        const login = await inject(b, 'POST', '/auth/login', {
          email: 'user@example.com',
          password,
        });
        assert.equal(login.statusCode, 200, login.body);
        const jwksB = (await inject(b, 'GET', '/.well-known/jwks.json')).body;
        assert.deepEqual(JSON.parse(jwksB), JSON.parse(jwksA));
        await jwtVerify(oldToken, createLocalJWKSet(JSON.parse(jwksB)));
        const attB = (await verifiedAttestation(b)).attestation;
        for (const k of ['enclave_pubkey', 'key_id', 'signing_keys', 'cluster_id'])
          assert.deepEqual(attB[k], attA[k], k);

        // Clients pin the cluster id: SDK expectClusterId, CLI --expect-cluster.
        const trust = { nonce: attB.nonce as string, trustedSimulatedVendorKeys: [b.vendorKey] };
        const pinned = await CryptoHelper.verifyAttestation(attB, b.measurement, {
          ...trust,
          expectClusterId: manifest.cluster_id,
        });
        assert.equal(pinned.valid, true, pinned.reasons.join('; '));
        assert.equal(pinned.clusterId, manifest.cluster_id);
        const other = await CryptoHelper.verifyAttestation(attB, b.measurement, {
          ...trust,
          expectClusterId: 'ab'.repeat(32),
        });
        assert.equal(other.valid, false);
        // A response relabelled with another id no longer matches its report data.
        const relabelled = await CryptoHelper.verifyAttestation(
          { ...attB, cluster_id: 'ab'.repeat(32) },
          b.measurement,
          { ...trust, expectClusterId: 'ab'.repeat(32) },
        );
        assert.equal(relabelled.valid, false);
        const { cluster_id: _dropped, ...unclustered } = attB;
        const missing = await CryptoHelper.verifyAttestation(unclustered, b.measurement, {
          ...trust,
          expectClusterId: manifest.cluster_id,
        });
        assert.equal(missing.valid, false);
        const cliTrust = {
          url: urlB,
          expectMeasurement: [b.measurement],
          trustSimulatedKey: [b.vendorKey],
        };
        const cli = await attest({ ...cliTrust, expectCluster: manifest.cluster_id });
        assert.equal(cli.verification.valid, true, cli.verification.reasons.join('; '));
        const cliOther = await attest({ ...cliTrust, expectCluster: 'ab'.repeat(32) });
        assert.equal(cliOther.verification.valid, false);

        // Share acceptance and the restore are in the transparency log.
        const { rows } = await b.service.db.query<{ type: string }>(
          "SELECT event_type AS type FROM ops_logs WHERE event_type LIKE 'cluster.%' ORDER BY id",
        );
        assert.deepEqual(
          rows.map((r) => r.type),
          ['cluster.genesis', 'cluster.share_accepted', 'cluster.share_accepted'],
        );
        // ... and in the transparency log, although their first append failed (B is ready only
        // once its ready hooks, the restore's append among them, are done).
        const { rows: leaves } = await b.service.db.query<{ type: string }>(
          "SELECT event_type AS type FROM merkle_logs WHERE event_type LIKE 'cluster.%' ORDER BY leaf_index",
        );
        assert.deepEqual(
          leaves.map((r) => r.type),
          [
            'cluster.genesis',
            'cluster.share_accepted',
            'cluster.share_accepted',
            'cluster.restored',
          ],
        );

        // Neither the root nor a share is in any table, log line or file of either instance.
        const shares = await Promise.all(
          [0, 1, 2].map((i) => decryptShare(shareFiles[i]!, identityFiles[i]!)),
        );
        const raw = shares.map((s) => base64ToBytes(s.share));
        const root = await combine(raw.slice(0, 2));
        const needles = [
          ...bytesNeedles('root', root),
          ...raw.flatMap((s, i) => bytesNeedles(`share ${i + 1}`, s.subarray(0, 32))),
        ];
        bodies.push((await inject(b, 'GET', '/cluster/manifest')).body);
        bodies.push((await inject(b, 'GET', '/attestation/quote')).body);
        assert.deepEqual(findNeedles(bodies.join('\n'), needles), []);
        const dump = JSON.stringify(await dumpPublicSchema(b.service.db));
        assert.deepEqual(findNeedles(dump, needles), []);
        assert.deepEqual(findNeedles([...a.logs, ...b.logs].join('\n'), needles), []);
        for (const f of [...readAllFiles(a.dataDir), ...readAllFiles(b.dataDir)])
          assert.deepEqual(findNeedles(f.bytes, needles), [], f.path);
      },
    );

    it(
      'a restart of the restored machine needs no quorum (its local copy of the root)',
      { skip: skipAge },
      async () => {
        await b.service.app.close();
        b = await b.restart();
        assert.equal((await inject(b, 'GET', '/readyz')).statusCode, 200);
        const status = await inject(b, 'GET', `/enclave/sessions/${sessionId}`);
        assert.equal(status.json().credential, 'ok');
      },
    );
  },
);
