/**
 * Issue 13 on one machine (PGlite, the default engine): genesis converts the running keyring in
 * place, and later rotations (credential key, JWT key) are wrapped under the cluster root too.
 * A restart on the same data folder unlocks with the machine's own sealed copy of the root, no
 * quorum: the same keys, the old session reads `ok`, the old password still logs in.
 */
import { cliSetOperator } from '../auth/operator-helper.js';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ManifestSchema } from '../../src/protocol/cluster/cluster.js';
import * as age from 'age-encryption';
import { submit, uniqueCredentials, verifiedAttestation } from '../helpers/client.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { cliCommand } from '../cli/run.js';

describe('cluster on one PGlite instance: genesis in place, rotations wrapped, restart', () => {
  let ts: TestService;
  const password = 'cluster-password-0123';
  let sessionId: string;
  let before1: Record<string, unknown>;

  before(async () => {
    ts = await startTestService('pglite');
    await ts.service.app.inject({
      method: 'POST',
      url: '/auth/register',
      payload: { email: 'u@example.com', password },
    });
    const { verification, attestation } = await verifiedAttestation(ts);
    before1 = attestation;
    const res = await submit(ts.service.app, verification.enclavePubkey!, uniqueCredentials('pg'));
    sessionId = res.json().session_id;
  });
  after(async () => {
    await ts?.stop();
  });

  it('keeps every key through genesis, rotations and a restart', async () => {
    const operators = await Promise.all(
      ['op1', 'op2'].map(async (name) => ({
        name,
        recipient: await age.identityToRecipient(await age.generateX25519Identity()),
      })),
    );
    // The ceremony through the CLI, as an operator runs it.
    await cliSetOperator(ts, 'grant', 'u@example.com');
    const token = (
      await ts.service.app.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { email: 'u@example.com', password },
      })
    ).json().access_token;
    const work = mkdtempSync(join(tmpdir(), 'cloister-ceremony-'));
    writeFileSync(join(work, 'ops.json'), JSON.stringify(operators));
    await ts.service.app.listen({ port: 0, host: '127.0.0.1' });
    const addr = ts.service.app.server.address();
    const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    const cli = (args: string[]) =>
      new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [...cliCommand(), ...args], {
          env: { ...process.env, CLOISTER_ACCESS_TOKEN: token },
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('close', (status) => resolve({ status, stdout, stderr }));
      });
    assert.equal((await cli(['cluster', 'init', '--url', url])).status, 2);
    const run = await cli([
      'cluster',
      'init',
      '--url',
      url,
      '--operators',
      join(work, 'ops.json'),
      '--threshold',
      '2',
      '--out',
      work,
      '--trust-simulated-key',
      ts.vendorKey,
      '--expect-measurement',
      ts.measurement,
    ]);
    assert.equal(run.status, 0, run.stderr);
    assert.ok(existsSync(join(work, 'op1.age')) && existsSync(join(work, 'op2.age')));
    const g = {
      manifest: ManifestSchema.parse(JSON.parse(readFileSync(join(work, 'manifest.json'), 'utf8'))),
    };
    assert.match(
      readFileSync(join(work, 'op1.age'), 'utf8'),
      /^-----BEGIN AGE ENCRYPTED FILE-----/,
    );
    const after1 = (await verifiedAttestation(ts)).attestation;
    for (const k of ['enclave_pubkey', 'key_id', 'signing_keys'])
      assert.deepEqual(after1[k], before1[k], k);
    assert.equal(after1.cluster_id, g.manifest.cluster_id);

    await ts.service.rotation.rotateOnce();
    await ts.service.auth.rotateKeys();
    const { rows } = await ts.service.db.query<{ sealed: string }>(
      'SELECT sealed FROM enclave_state ORDER BY generation DESC LIMIT 1',
    );
    const latest = JSON.parse(Buffer.from(rows[0]!.sealed, 'base64').toString('utf8'));
    assert.equal(latest.format, 'cloister-cluster-wrapped/v1');
    assert.equal(latest.cluster_id, g.manifest.cluster_id);
    const rotated = (await verifiedAttestation(ts)).attestation;
    const jwks = (await ts.service.app.inject({ method: 'GET', url: '/.well-known/jwks.json' }))
      .body;

    ts = await ts.restart();
    assert.equal((await ts.service.app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
    const again = (await verifiedAttestation(ts)).attestation;
    for (const k of ['enclave_pubkey', 'key_id', 'signing_keys', 'cluster_id'])
      assert.deepEqual(again[k], rotated[k], k);
    assert.equal(
      (await ts.service.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).body,
      jwks,
    );
    const status = await ts.service.app.inject({
      method: 'GET',
      url: `/enclave/sessions/${sessionId}`,
    });
    assert.equal(status.json().credential, 'ok');
    const login = await ts.service.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email: 'u@example.com', password },
    });
    assert.equal(login.statusCode, 200, login.body);
  });
});
