/**
 * The transparency log end to end, verified only with the public protocol functions and the
 * log key from the attestation: checkpoints verify, every entry of a session is included,
 * checkpoints stay consistent, an operation whose entry cannot be stored does not complete, and
 * a host that alters stored leaves or rolls the log back is caught.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { base64ToBytes, bytesToBase64, utf8 } from '../../src/protocol/encoding.js';
import { verifyCheckpointNote } from '../../src/protocol/log/checkpoint.js';
import { leafHash, verifyConsistency, verifyInclusion } from '../../src/protocol/log/merkle.js';
import type { AddressInfo } from 'node:net';
import {
  LogClient,
  LogMonitor,
  fetchAggregatesLogProof,
  verifyEntryInclusion,
  verifyLogCheckpoint,
  type LogTrust,
} from '../../src/client/index.js';
import { logOrigin } from '../../src/protocol/log/origin.js';
import { sessionLogSubject } from '../../src/protocol/log/entry.js';
import { engines, startTestService, type TestService } from '../helpers/service.js';
import { startWitness, type TestWitness } from '../helpers/witness.js';
import { submit, uniqueCredentials, verifiedAttestation } from '../helpers/client.js';
import { cliCommand } from '../cli/run.js';

interface CheckpointBody {
  origin: string;
  size: number;
  root_hash: string;
  checkpoint: string;
}

async function get<T>(app: FastifyInstance, url: string): Promise<T> {
  const res = await app.inject({ method: 'GET', url });
  assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
  return res.json() as T;
}

for (const engine of engines()) {
  describe(`transparency log on ${engine}`, () => {
    let ts: TestService;
    let logKey: { name: string; publicKey: Uint8Array };
    let pub: string;

    async function verifiedCheckpoint(): Promise<CheckpointBody> {
      const cp = await get<CheckpointBody>(ts.service.app, '/api/log/checkpoint');
      const v = verifyCheckpointNote(cp.checkpoint, logKey);
      assert.ok(v.valid, v.reasons.join('; '));
      assert.equal(v.checkpoint!.size, cp.size);
      assert.deepEqual(v.checkpoint!.rootHash, base64ToBytes(cp.root_hash));
      return cp;
    }

    async function submitted(): Promise<string> {
      const res = await submit(ts.service.app, pub, uniqueCredentials('log'));
      assert.equal(res.statusCode, 200, res.body);
      return res.json().session_id as string;
    }

    before(async () => {
      ts = await startTestService(engine);
      const { attestation, verification } = await verifiedAttestation(ts);
      pub = verification.enclavePubkey!;
      const origin = (await get<CheckpointBody>(ts.service.app, '/api/log/checkpoint')).origin;
      logKey = { name: origin, publicKey: base64ToBytes(attestation.signing_keys.log) };
    });
    after(() => ts?.stop());

    it('logs each submission and revocation with a verifiable inclusion proof', async () => {
      const a = await submitted();
      const b = await submitted();
      const revoked = await ts.service.app.inject({
        method: 'POST',
        url: '/enclave/revoke',
        payload: { session_id: a },
      });
      assert.equal(revoked.statusCode, 200);

      const cp = await verifiedCheckpoint();
      const logs = await get<{
        checkpoint: CheckpointBody;
        entries: { index: number; entry: string; leaf_hash: string; proof: string[] }[];
      }>(ts.service.app, `/api/logs/${a}`);
      assert.deepEqual(
        logs.entries.map((e) => JSON.parse(e.entry).type),
        ['credential.submitted', 'session.revoked'],
      );
      const root = base64ToBytes(logs.checkpoint.root_hash);
      for (const e of logs.entries) {
        // The leaf is recomputed from the entry text, never taken from the server.
        const leaf = leafHash(utf8.encode(e.entry));
        assert.deepEqual(leaf, base64ToBytes(e.leaf_hash));
        const proof = e.proof.map(base64ToBytes);
        assert.ok(verifyInclusion(e.index, logs.checkpoint.size, leaf, proof, root));
        // And a proof for someone else's entry does not verify.
        assert.ok(
          !verifyInclusion(e.index, logs.checkpoint.size, leafHash(utf8.encode('x')), proof, root),
        );
      }
      assert.ok(logs.checkpoint.size <= cp.size);

      const entry = JSON.parse(logs.entries[0]!.entry);
      const { rows } = await ts.service.db.query<{ details: { envelopeDigest: string } }>(
        "SELECT details FROM ops_logs WHERE event_type = 'credential.submitted' AND session_id = $1",
        [a],
      );
      assert.equal(entry.digests.envelope, rows[0]!.details.envelopeDigest);
      assert.equal(
        (await get<{ entries: unknown[] }>(ts.service.app, `/api/logs/${b}`)).entries.length,
        1,
      );
    });

    it('serves entries whose hashes rebuild the checkpoint root, and consistent checkpoints', async () => {
      const first = await verifiedCheckpoint();
      await Promise.all([submitted(), submitted(), submitted()]);
      const second = await verifiedCheckpoint();
      assert.ok(second.size > first.size);

      const page = await get<{ entries: { index: number; entry: string }[] }>(
        ts.service.app,
        `/api/log/entries?start=0&end=${second.size}`,
      );
      assert.equal(page.entries.length, second.size);
      const { MerkleTree } = await import('../../src/protocol/log/merkle.js');
      const tree = new MerkleTree();
      for (const e of page.entries) tree.append(leafHash(utf8.encode(e.entry)));
      assert.deepEqual(tree.root(), base64ToBytes(second.root_hash));
      // A session id is a bearer capability: the public log names sessions only by hash.
      const { rows: ids } = await ts.service.db.query<{ id: string }>('SELECT id FROM sessions');
      assert.ok(ids.length >= 3);
      const served = JSON.stringify(page);
      for (const { id } of ids) {
        assert.ok(!served.includes(id), 'a session id is published in the log');
        assert.ok(served.includes(sessionLogSubject(id)), 'a session has no entry under its hash');
      }

      const { proof } = await get<{ proof: string[] }>(
        ts.service.app,
        `/api/log/proof/consistency?from=${first.size}&to=${second.size}`,
      );
      const p = proof.map(base64ToBytes);
      const r1 = base64ToBytes(first.root_hash);
      const r2 = base64ToBytes(second.root_hash);
      assert.ok(verifyConsistency(first.size, second.size, r1, r2, p));
      assert.ok(!verifyConsistency(first.size, second.size, r2, r1, p));

      const incl = await get<{ leaf_hash: string; proof: string[] }>(
        ts.service.app,
        `/api/log/proof/inclusion?index=${first.size}&size=${second.size}`,
      );
      assert.ok(
        verifyInclusion(
          first.size,
          second.size,
          base64ToBytes(incl.leaf_hash),
          incl.proof.map(base64ToBytes),
          r2,
        ),
      );
      const bad = await ts.service.app.inject({
        method: 'GET',
        url: `/api/log/proof/inclusion?index=${second.size + 5}`,
      });
      assert.equal(bad.statusCode, 400);
      assert.equal(bad.json().error.code, 'LOG_RANGE_INVALID');
    });

    it('fails closed: a submission whose entry cannot be stored is not acknowledged and not kept', async () => {
      const before = await verifiedCheckpoint();
      const sessionsBefore = await ts.service.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM sessions',
      );
      // The database refuses any new checkpoint: the batch's transaction cannot commit.
      await ts.service.db.query(
        `ALTER TABLE log_checkpoints ADD CONSTRAINT test_refuse CHECK (tree_size <= ${before.size})`,
      );
      const res = await submit(ts.service.app, pub, uniqueCredentials('refused'));
      assert.equal(res.statusCode, 503, res.body);
      assert.equal(res.json().error.code, 'LOG_UNAVAILABLE');
      assert.ok(Number(res.headers['retry-after']) >= 1);
      const sessionsAfter = await ts.service.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM sessions',
      );
      assert.equal(
        Number(sessionsAfter.rows[0]!.n),
        Number(sessionsBefore.rows[0]!.n),
        'no session without its entry',
      );

      await ts.service.db.query('ALTER TABLE log_checkpoints DROP CONSTRAINT test_refuse');
      // The enclave signed past the stored log, so it restarts from the durable state.
      const deadline = Date.now() + 20_000;
      let ok = false;
      while (!ok && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
        const again = await submit(ts.service.app, pub, uniqueCredentials('after'));
        ok = again.statusCode === 200;
      }
      assert.ok(ok, 'the log recovered');
      const now = await verifiedCheckpoint();
      const { proof } = await get<{ proof: string[] }>(
        ts.service.app,
        `/api/log/proof/consistency?from=${before.size}&to=${now.size}`,
      );
      assert.ok(
        verifyConsistency(
          before.size,
          now.size,
          base64ToBytes(before.root_hash),
          base64ToBytes(now.root_hash),
          proof.map(base64ToBytes),
        ),
        'the recovered log extends the last stored checkpoint',
      );
    });

    it('fails closed: a key rotation whose entry cannot be stored does not happen', async () => {
      const generation = async () =>
        Number(
          (
            await ts.service.db.query<{ g: number }>(
              'SELECT max(generation)::int AS g FROM enclave_state',
            )
          ).rows[0]!.g,
        );
      const { verification: before } = await verifiedAttestation(ts);
      const genBefore = await generation();
      const cp = await verifiedCheckpoint();
      await ts.service.db.query(
        `ALTER TABLE log_checkpoints ADD CONSTRAINT test_refuse CHECK (tree_size <= ${cp.size})`,
      );
      await assert.rejects(ts.service.rotation.rotateOnce());
      await ts.service.db.query('ALTER TABLE log_checkpoints DROP CONSTRAINT test_refuse');
      assert.equal(await generation(), genBefore, 'no sealed keyring stored without its entry');
      const deadline = Date.now() + 20_000;
      while (!(ts.service.enclave.isReady() && ts.service.log.isReady())) {
        assert.ok(Date.now() < deadline, 'the enclave and its log came back');
        await new Promise((r) => setTimeout(r, 100));
      }
      const { verification: still } = await verifiedAttestation(ts);
      assert.equal(still.keyId, before.keyId, 'the key did not change without its entry');

      const keys = await ts.service.rotation.rotateOnce();
      assert.notEqual(keys.current_key_id, before.keyId);
      assert.equal(await generation(), genBefore + 1);
      const { rows } = await ts.service.db.query<{ entry: string }>(
        "SELECT entry FROM merkle_logs WHERE event_type = 'keyring.rotated' ORDER BY leaf_index",
      );
      assert.deepEqual(
        rows.map((r) => JSON.parse(r.entry).subject),
        [keys.current_key_id],
        'exactly one keyring.rotated entry, naming the new key',
      );
      pub = (await verifiedAttestation(ts)).verification.enclavePubkey!; // for the next tests
    });

    it('a host that rolls the log back is caught by anyone holding a later checkpoint', async () => {
      const seen = await verifiedCheckpoint(); // what a monitor or witness holds
      await submitted();
      const later = await verifiedCheckpoint();
      // Roll back: drop the last leaf and checkpoint, restart on the older (genuine) state.
      await ts.service.db.query('DELETE FROM merkle_logs WHERE leaf_index >= $1', [seen.size]);
      await ts.service.db.query('DELETE FROM log_checkpoints WHERE tree_size > $1', [seen.size]);
      ts = await ts.restart();
      await submitted();
      const forked = await verifiedCheckpoint();
      assert.equal(forked.size, later.size, 'same size, different history');
      assert.notDeepEqual(forked.root_hash, later.root_hash);
      // The server can only offer a proof from `seen`; it cannot prove `later` consistent.
      const { proof } = await get<{ proof: string[] }>(
        ts.service.app,
        `/api/log/proof/consistency?from=${seen.size}&to=${forked.size}`,
      );
      assert.ok(
        !verifyConsistency(
          later.size,
          forked.size,
          base64ToBytes(later.root_hash),
          base64ToBytes(forked.root_hash),
          [],
        ),
        'two signed checkpoints of one size with different roots are a fork',
      );
      assert.ok(proof.length > 0);
    });

    it('entry text rewritten with its leaf hash kept: the host refuses the log, monitor and log verify --entries report it', async () => {
      await verifiedCheckpoint();
      const address = await ts.service.app.listen({ port: 0, host: '127.0.0.1' });
      /** Runs `cloister log ...` against `url`; resolves with its exit code and stderr. */
      const cli = (url: string, ...args: string[]) =>
        promisify(execFile)(process.execPath, [
          ...cliCommand(),
          'log',
          ...args,
          '--url',
          url,
          '--expect-measurement',
          ts.measurement,
          '--trust-simulated-key',
          ts.vendorKey,
        ]).then(
          (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
          (e: { code: number; stdout: string; stderr: string }) => e,
        );
      // Before: a fresh monitor re-hashes every served entry and is content; so is the CLI.
      const trust = { logPublicKey: bytesToBase64(logKey.publicKey) };
      assert.equal((await new LogMonitor(new LogClient(address, trust)).poll()).alarm, null);
      const before = await cli(address, 'verify', '--entries');
      assert.equal(before.code, 0, before.stderr);
      assert.match(before.stdout, /^entries valid: all \d+/);

      const { rows } = await ts.service.db.query<{ entry: string }>(
        'SELECT entry FROM merkle_logs WHERE leaf_index = 0',
      );
      const original = rows[0]!.entry;
      const altered = original.replace('credential.submitted', 'session.revoked');
      assert.notEqual(altered, original);
      await ts.service.db.query('UPDATE merkle_logs SET entry = $1 WHERE leaf_index = 0', [
        altered,
      ]);
      ts = await ts.restart();
      // The frontier (built from the kept hashes) would satisfy the enclave: the host refuses
      // the log itself, at load, with a clear error line.
      const refused = ts.logs
        .map((l) => JSON.parse(l))
        .find((l) => l.event === 'log.entry_altered');
      assert.ok(refused, 'no log.entry_altered error line');
      assert.equal(refused.firstIndex, 0);
      assert.equal(refused.code, 'LOG_STATE_INVALID');
      const quote = await ts.service.app.inject({ method: 'GET', url: '/attestation/quote' });
      assert.equal(quote.statusCode, 200, 'the enclave still attests');
      const res = await submit(ts.service.app, pub, uniqueCredentials('rewritten'));
      assert.equal(res.statusCode, 503, res.body);
      assert.equal(res.json().error.code, 'LOG_UNAVAILABLE');

      // Served as it is stored, the altered entry is caught by whoever re-hashes the entries.
      const served = await ts.service.app.listen({ port: 0, host: '127.0.0.1' });
      const report = await new LogMonitor(new LogClient(served, trust)).poll();
      assert.match(report.alarm ?? '', /entry text altered \(entry 0 /);
      const [verify, monitor] = await Promise.all([
        cli(served, 'verify', '--entries'),
        cli(served, 'monitor', '--once'),
      ]);
      assert.equal(verify.code, 1, verify.stderr);
      assert.match(verify.stderr, /do not hash to the root of checkpoint \d+: entry text altered/);
      assert.equal(monitor.code, 3, monitor.stderr);
      assert.match(monitor.stderr, /LOG ALARM: .*entry text altered/);
      // Put the text back for the next test (which alters text and hash together).
      await ts.service.db.query('UPDATE merkle_logs SET entry = $1 WHERE leaf_index = 0', [
        original,
      ]);
    });

    it('a host that alters a stored leaf is refused by the enclave; logging fails closed', async () => {
      const cp = await verifiedCheckpoint();
      const { rows } = await ts.service.db.query<{ entry: string }>(
        'SELECT entry FROM merkle_logs WHERE leaf_index = 0',
      );
      const altered = rows[0]!.entry.replace('credential.submitted', 'session.revoked');
      const alteredHash = Buffer.from(leafHash(utf8.encode(altered))).toString('hex');
      await ts.service.db.query(
        'UPDATE merkle_logs SET entry = $1, leaf_hash = $2 WHERE leaf_index = 0',
        [altered, alteredHash],
      );
      ts = await ts.restart();
      // The enclave attests as before, but refuses to resume a log it cannot verify as its own.
      const quote = await ts.service.app.inject({ method: 'GET', url: '/attestation/quote' });
      assert.equal(quote.statusCode, 200);
      const res = await submit(ts.service.app, pub, uniqueCredentials('tampered'));
      assert.equal(res.statusCode, 503, res.body);
      assert.equal(res.json().error.code, 'LOG_UNAVAILABLE');
      // And a verifier holding the signed checkpoint rejects the altered leaf.
      const proof = (
        await get<{ proof: string[] }>(
          ts.service.app,
          `/api/log/proof/inclusion?index=0&size=${cp.size}`,
        )
      ).proof.map(base64ToBytes);
      assert.ok(
        !verifyInclusion(
          0,
          cp.size,
          leafHash(utf8.encode(altered)),
          proof,
          base64ToBytes(cp.root_hash),
        ),
      );
    });
  });
}

describe('witness cosignatures (C2SP tlog-witness)', () => {
  let ts: TestService;
  let witness: TestWitness;
  let trust: LogTrust;
  let pub: string;
  let logKey: { name: string; publicKey: Uint8Array } | undefined;

  const submitOne = async () => {
    const res = await submit(ts.service.app, pub, uniqueCredentials('witnessed'));
    assert.equal(res.statusCode, 200, res.body);
    return res.json().session_id as string;
  };
  const witnessed = async () =>
    (await get<CheckpointBody>(ts.service.app, '/api/log/checkpoint?witnessed=true')).checkpoint;

  before(async () => {
    witness = await startWitness('witness.test/w1', () => (logKey ? [logKey] : []));
    ts = await startTestService('pglite', {
      LOG_WITNESSES: `${witness.vkey} ${witness.url}`,
      LOG_WITNESS_INTERVAL_SECONDS: '3600',
    });
    const { attestation, verification } = await verifiedAttestation(ts);
    pub = verification.enclavePubkey!;
    const publicKey = base64ToBytes(attestation.signing_keys.log);
    logKey = { name: logOrigin(publicKey), publicKey };
    trust = {
      logPublicKey: attestation.signing_keys.log,
      witnesses: [
        { name: witness.name, publicKey: Buffer.from(witness.publicKey).toString('base64') },
      ],
      witnessThreshold: 1,
    };
  });
  after(async () => {
    await ts?.stop();
    await witness?.close();
  });

  it('serves checkpoints the witness cosigned, verifiable under a witness policy', async () => {
    const none = await ts.service.app.inject({
      method: 'GET',
      url: '/api/log/checkpoint?witnessed=true',
    });
    assert.equal(none.json().error.code, 'LOG_NOT_WITNESSED');
    const sid = await submitOne();
    await ts.service.witnesses.runOnce();
    const v = verifyLogCheckpoint(await witnessed(), trust);
    assert.ok(v.valid, v.valid ? '' : v.reasons.join('; '));
    assert.deepEqual(v.checkpoint.witnessed, [witness.name]);
    // Without the cosignature, the same policy refuses the bare checkpoint of a newer size.
    await submitOne();
    const bare = (await get<CheckpointBody>(ts.service.app, '/api/log/checkpoint')).checkpoint;
    assert.equal(verifyLogCheckpoint(bare, trust).valid, false);
    // A second, unknown witness required: refused.
    const stricter = {
      ...trust,
      witnesses: [...trust.witnesses!, { name: 'other.test/w', publicKey: trust.logPublicKey }],
      witnessThreshold: 2,
    };
    assert.equal(verifyLogCheckpoint(await witnessed(), stricter).valid, false);

    // The witness follows the log with consistency proofs.
    await ts.service.witnesses.runOnce();
    const second = verifyLogCheckpoint(await witnessed(), trust);
    assert.ok(second.valid && second.checkpoint.size === ts.service.log.latest()!.size);
    assert.equal(witness.state.get(logKey!.name)!.size, ts.service.log.latest()!.size);

    // The SDK's client proves a session's entries against the witnessed checkpoint.
    const address = await ts.service.app.listen({ port: 0, host: '127.0.0.1' });
    const client = new LogClient(address, trust);
    const { entries } = await client.sessionEntries(sid);
    assert.equal(entries[0]!.entry.type, 'credential.submitted');
  });

  it('a proof fetched for a verifier with a witness policy is in the latest cosigned checkpoint', async () => {
    const address = `http://127.0.0.1:${(ts.service.app.server.address() as AddressInfo).port}`;
    const cosigned = witness.state.get(logKey!.name)!.size;
    // The newest checkpoint is not cosigned yet (as on any busy log).
    await submitOne();
    assert.ok(ts.service.log.latest()!.size > cosigned);
    // What `cloister verify aggregates --witness …` fetches for the result at leaf 0.
    const proof = await fetchAggregatesLogProof(address, 0, fetch, { witnessed: true });
    const v = verifyLogCheckpoint(proof.checkpoint, trust);
    assert.ok(v.valid, v.valid ? '' : v.reasons.join('; '));
    assert.equal(v.checkpoint.size, cosigned);
    assert.ok(verifyEntryInclusion(proof.entry, 0, proof.proof, v.checkpoint));
  });

  it('a rolled-back log gets no cosignature, and a monitor raises the alarm', async () => {
    const address = `http://127.0.0.1:${(ts.service.app.server.address() as AddressInfo).port}`;
    const monitor = new LogMonitor(new LogClient(address, { logPublicKey: trust.logPublicKey }));
    assert.equal((await monitor.poll()).alarm, null);
    const cosigned = witness.state.get(logKey!.name)!.size;
    await ts.service.db.query('DELETE FROM log_cosignatures');
    await ts.service.db.query('DELETE FROM merkle_logs WHERE leaf_index >= $1', [cosigned - 1]);
    await ts.service.db.query('DELETE FROM log_checkpoints WHERE tree_size >= $1', [cosigned]);
    ts = await ts.restart();
    await submitOne();
    await ts.service.witnesses.runOnce();
    const res = await ts.service.app.inject({
      method: 'GET',
      url: '/api/log/checkpoint?witnessed=true',
    });
    assert.equal(res.statusCode, 404, 'the witness must not cosign a fork');
    assert.equal(witness.state.get(logKey!.name)!.size, cosigned);

    const address2 = await ts.service.app.listen({ port: 0, host: '127.0.0.1' });
    const report = await new LogMonitor(
      new LogClient(address2, { logPublicKey: trust.logPublicKey }),
      monitor.last,
    ).poll();
    assert.match(report.alarm ?? '', /not consistent|shrank/);
  });
});
