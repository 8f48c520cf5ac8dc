/**
 * End to end on a fake Gramine tree: the host supervisor passes TEE_PLATFORM and TEE_DEVICE_ROOT
 * from the host config to the enclave process it spawns (a bundle built from this checkout), the enclave comes up on the
 * sgx platform with the recorded quote's MRENCLAVE, seals its keyring with the Gramine keys, and
 * attestation.get returns the platform's quote over SHA-512(JCS(keys, nonce)). A missing
 * device file stops the enclave with a message naming it.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { computeReportData } from '../../../src/protocol/attestation/report-data.js';
import { base64ToBytes, hexToBytes } from '../../../src/protocol/encoding.js';
import { gramineTree, sample } from '../../fakes/tee-devices.js';
import { loadConfig } from '../../../src/host/config.js';
import type { Db } from '../../../src/host/db/database.js';
import { migrate } from '../../../src/host/db/migrate.js';
import { createEnclaveStateRepository } from '../../../src/host/db/repositories/enclave-state.js';
import { createCredentialKeyring } from '../../../src/host/enclave-client/credential-keyring.js';
import { createEnclaveSupervisor } from '../../../src/host/enclave-client/supervisor.js';
import { createLogger } from '../../../src/host/logging.js';
import { createOpsLog } from '../../../src/host/ops-events.js';
import { openTestPglite } from '../../helpers/service.js';

const MRENCLAVE = '33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb';
const MRSIGNER = '815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6';

describe('host → enclave platform selection (sgx-gramine on a fake tree)', () => {
  // Inside the checkout, so that the bundle's external packages resolve from node_modules.
  mkdirSync('.tmp', { recursive: true });
  const out = mkdtempSync(join('.tmp', 'bundle-'));
  const bundle = join(out, 'enclave.mjs');
  const root = gramineTree();
  const logger = createLogger('silent');
  let db: Db;
  let supervisor: ReturnType<typeof createEnclaveSupervisor>;
  before(async () => {
    execFileSync(process.execPath, ['scripts/build-enclave.mjs', '--outdir', out]);
    const dataDir = mkdtempSync(join(out, 'data-'));
    db = await openTestPglite();
    await migrate(db);
    const ops = createOpsLog(logger);
    supervisor = createEnclaveSupervisor({
      config: loadConfig({
        DATA_DIR: dataDir,
        TEE_PLATFORM: 'sgx-gramine',
        TEE_DEVICE_ROOT: root,
        ENCLAVE_BUNDLE: bundle,
        SEALING_POLICY: 'measurement',
      }),
      db,
      ops,
      logger,
    });
    const keyring = createCredentialKeyring({
      db,
      state: createEnclaveStateRepository(db),
      ops,
      sealingPolicy: 'measurement',
    });
    supervisor.onReady((call) => keyring.init(call));
    await supervisor.start();
  });
  after(async () => {
    await supervisor?.stop();
    await db?.close();
    rmSync(out, { recursive: true, force: true });
  });

  it('the spawned enclave runs on sgx with the quote MRENCLAVE', async () => {
    assert.equal(supervisor.measurement(), MRENCLAVE);
    const status = await supervisor.call('enclave.status', {});
    assert.equal(status.platform, 'sgx');
    assert.equal(status.signer, MRSIGNER);
  });

  it('attestation.get returns the platform quote over the report-data rule', async () => {
    const nonce = 'cGxhdGZvcm0tcGFzc3Rocm91Z2g';
    const get = () => supervisor.call('attestation.get', { nonce });
    // The fake quote is static, so the first request fails closed: the quote does not carry the
    // report data the enclave wrote. Patch that field of the recorded quote to what was written.
    await assert.rejects(get());
    const written = readFileSync(join(root, 'dev/attestation/user_report_data'));
    const quote = sample('sgx_quote_v3.bin');
    quote.set(written, 368);
    writeFileSync(join(root, 'dev/attestation/quote'), quote);
    const body = await get();
    assert.equal(body.platform, 'sgx');
    assert.equal(body.image_hash, MRENCLAVE);
    assert.equal(body.nonce, nonce);
    assert.deepEqual(base64ToBytes(body.quote), quote);
    assert.deepEqual(hexToBytes(body.report_data), computeReportData(body));
    assert.deepEqual(new Uint8Array(written), computeReportData(body));
  });

  it('a missing device file stops the enclave with exit 78, naming the file', () => {
    const r = spawnSync(process.execPath, [bundle], {
      env: {
        PATH: process.env.PATH ?? '',
        TEE_PLATFORM: 'sgx-gramine',
        TEE_DEVICE_ROOT: gramineTree({ omit: ['my_target_info'] }),
        ENCLAVE_SOCKET_PATH: join(out, 'unused.sock'),
      },
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(r.status, 78);
    assert.match(r.stderr, /enclave\.platform_error/);
    assert.match(r.stderr, /dev\/attestation\/my_target_info: ENOENT/);
  });
});
