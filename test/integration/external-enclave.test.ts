/**
 * Connect mode: the host attaches to an enclave that is already listening (ENCLAVE_SOCKET)
 * instead of spawning one. When that enclave restarts, the host reconnects and hands it the
 * sealed keyring again; stored envelopes stay decryptable.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  ensureEnclaveBundle,
  startExternalEnclave,
  startTestService,
  type TestService,
} from '../helpers/service.js';
import { submit, uniqueCredentials, verifiedAttestation } from '../helpers/client.js';

async function until(check: () => Promise<boolean>, ms = 15000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('condition not reached in time');
}

describe('host attached to a running enclave', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cloister-ext-'));
  const socket = join(dir, 'enclave.sock');
  const platformDir = join(dir, 'platform');
  let enclave: ChildProcess;
  let ts: TestService;

  before(async () => {
    ensureEnclaveBundle();
    enclave = await startExternalEnclave(socket, platformDir);
    ts = await startTestService('pglite', { ENCLAVE_SOCKET: socket });
  });
  after(async () => {
    await ts?.stop();
    enclave?.kill('SIGKILL');
  });

  it('serves through it, survives its restart, and re-unseals the same keyring', async () => {
    assert.equal(ts.service.enclave.pid(), null, 'the host must not spawn its own enclave');
    const vendorKey = (await import('node:fs'))
      .readFileSync(join(platformDir, 'vendor.pub'), 'utf8')
      .trim();
    const tsv = { ...ts, vendorKey };
    const { verification } = await verifiedAttestation(tsv);
    const first = await submit(ts.service.app, verification.enclavePubkey!, uniqueCredentials());
    assert.equal(first.statusCode, 200, first.body);

    enclave.kill('SIGKILL');
    await until(
      async () =>
        (await ts.service.app.inject({ method: 'GET', url: '/readyz' })).statusCode === 503,
    );
    const down = await ts.service.app.inject({ method: 'GET', url: '/attestation/quote' });
    assert.equal(down.statusCode, 503);
    assert.equal(down.json().error.code, 'ENCLAVE_UNAVAILABLE');
    assert.ok(Number(down.headers['retry-after']) >= 1);

    enclave = await startExternalEnclave(socket, platformDir);
    await until(
      async () =>
        (await ts.service.app.inject({ method: 'GET', url: '/readyz' })).statusCode === 200,
    );
    const { verification: again } = await verifiedAttestation(tsv);
    assert.equal(again.enclavePubkey, verification.enclavePubkey);
    const status = await ts.service.app.inject({
      method: 'GET',
      url: `/enclave/sessions/${first.json().session_id}`,
    });
    assert.equal(status.json().credential, 'ok');
  });
});
