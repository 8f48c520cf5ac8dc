/**
 * One setting selects the platform (TEE_PLATFORM, enclave and host), hardware platforms read
 * their devices under TEE_DEVICE_ROOT, platforms without hardware sealing need SEALING_KEY_FILE,
 * production refuses simulated evidence unless ALLOW_SIMULATED_IN_PRODUCTION=true, and
 * attestation.get hands the report-data rule's 64 bytes to whatever platform is running.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { TEE_PLATFORMS, parseEnclaveConfig } from '../../../src/enclave/config.js';
import { attestation } from '../../../src/enclave/methods/attestation.js';
import { generate } from '../../../src/enclave/methods/keyring.js';
import { resolvePlatform } from '../../../src/enclave/platform/registry.js';
import { createEnclaveState } from '../../../src/enclave/state.js';
import { ConfigError, loadConfig } from '../../../src/host/config.js';
import { computeReportData } from '../../../src/protocol/attestation/report-data.js';
import { base64ToBytes, hexToBytes } from '../../../src/protocol/encoding.js';
import {
  FAKE_TSM_ENTRY,
  gramineTree,
  releasedKeyFile,
  sample,
  tsmTree,
} from '../../fakes/tee-devices.js';

const KEY = new Uint8Array(32).fill(0x77);

function hostIssues(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (e) {
    if (e instanceof ConfigError) return e.issues;
    throw e;
  }
}

describe('enclave platform selection', () => {
  it('host and enclave accept the same TEE_PLATFORM values', () => {
    for (const name of TEE_PLATFORMS) {
      const env = { TEE_PLATFORM: name, SEALING_KEY_FILE: '/run/key' };
      assert.equal(parseEnclaveConfig(env).TEE_PLATFORM, name);
      // On tdx and sev-snp the host only connects (the enclave is its own user).
      assert.equal(loadConfig({ ...env, ENCLAVE_SOCKET: '/run/e.sock' }).enclave.platform, name);
    }
    assert.throws(() => parseEnclaveConfig({ TEE_PLATFORM: 'sgx' }), /TEE_PLATFORM/);
    assert.match(hostIssues({ TEE_PLATFORM: 'tpm' })[0]!, /^TEE_PLATFORM:/);
  });

  for (const name of ['tdx', 'sev-snp', 'nitro']) {
    it(`${name} refuses to start without SEALING_KEY_FILE, naming it`, () => {
      assert.throws(
        () => parseEnclaveConfig({ TEE_PLATFORM: name }),
        new RegExp(`SEALING_KEY_FILE: required when TEE_PLATFORM is ${name}`),
      );
      assert.deepEqual(
        hostIssues({ TEE_PLATFORM: name }),
        name === 'nitro'
          ? [`SEALING_KEY_FILE: required when TEE_PLATFORM is ${name}`]
          : [
              `ENCLAVE_SOCKET: required with TEE_PLATFORM=${name}: the enclave runs as its own user and the host connects to its socket (docs/platforms/tdx.md, "Deployment")`,
            ],
      );
      // A host that connects to an enclave launched elsewhere (Nitro) does not pass the key.
      assert.deepEqual(hostIssues({ TEE_PLATFORM: name, ENCLAVE_SOCKET: '/run/e.sock' }), []);
    });
  }

  it('sgx-gramine resolves to the sgx platform under TEE_DEVICE_ROOT', async () => {
    const root = gramineTree();
    const p = await resolvePlatform(
      parseEnclaveConfig({ TEE_PLATFORM: 'sgx-gramine', TEE_DEVICE_ROOT: root }),
      'package.json',
    );
    assert.equal(p.name, 'sgx');
  });

  it('tdx resolves with the released key, and refuses a key file others can read', async () => {
    const { root } = tsmTree({ provider: 'tdx_guest', outblob: sample('tdx_quote_v4.bin') });
    const env = { TEE_PLATFORM: 'tdx', TEE_DEVICE_ROOT: root, TSM_REPORT_ENTRY: FAKE_TSM_ENTRY };
    const p = await resolvePlatform(
      parseEnclaveConfig({ ...env, SEALING_KEY_FILE: releasedKeyFile(KEY) }),
      'package.json',
    );
    assert.equal(p.name, 'tdx');
    const loose = releasedKeyFile(KEY, 0o644);
    await assert.rejects(
      resolvePlatform(parseEnclaveConfig({ ...env, SEALING_KEY_FILE: loose }), 'package.json'),
      /SEALING_KEY_FILE .*readable by group or others/,
    );
    await assert.rejects(
      resolvePlatform(
        parseEnclaveConfig({ ...env, SEALING_KEY_FILE: join(root, 'absent') }),
        'package.json',
      ),
      /SEALING_KEY_FILE .*absent: ENOENT/,
    );
  });

  it('a released key is 32 raw bytes or 64 hex digits, nothing else', async () => {
    const { root } = tsmTree({
      provider: 'sev_guest',
      outblob: sample('snp_milan_virtee_report.bin'),
    });
    const env = {
      TEE_PLATFORM: 'sev-snp',
      TEE_DEVICE_ROOT: root,
      TSM_REPORT_ENTRY: FAKE_TSM_ENTRY,
    };
    const hexFile = releasedKeyFile(KEY);
    writeFileSync(hexFile, `${Buffer.from(KEY).toString('hex')}\n`);
    const viaHex = await resolvePlatform(
      parseEnclaveConfig({ ...env, SEALING_KEY_FILE: hexFile }),
      'package.json',
    );
    const viaRaw = await resolvePlatform(
      parseEnclaveConfig({ ...env, SEALING_KEY_FILE: releasedKeyFile(KEY) }),
      'package.json',
    );
    assert.deepEqual(viaHex.sealingKey('signer'), viaRaw.sealingKey('signer'));
    await assert.rejects(
      resolvePlatform(
        parseEnclaveConfig({ ...env, SEALING_KEY_FILE: releasedKeyFile(new Uint8Array(16)) }),
        'package.json',
      ),
      /expected 32 bytes or 64 hex digits/,
    );
  });
});

describe('production mode', () => {
  it('refuses simulated evidence, naming ALLOW_SIMULATED_IN_PRODUCTION', () => {
    const issues = hostIssues({ CLOISTER_ENV: 'production' });
    assert.equal(issues.length, 1);
    assert.match(issues[0]!, /^TEE_PLATFORM: .*CLOISTER_ENV=production/);
    assert.match(issues[0]!, /ALLOW_SIMULATED_IN_PRODUCTION=true/);
  });

  it('starts on simulated only when explicitly allowed, or on a hardware platform', () => {
    const allowed = loadConfig({
      CLOISTER_ENV: 'production',
      ALLOW_SIMULATED_IN_PRODUCTION: 'true',
    });
    assert.equal(allowed.enclave.platform, 'simulated');
    const hw = loadConfig({ CLOISTER_ENV: 'production', TEE_PLATFORM: 'sgx-gramine' });
    assert.equal(hw.enclave.production, true);
    assert.deepEqual(hostIssues({}), []); // development default: simulated is fine
    assert.match(
      hostIssues({ ALLOW_SIMULATED_IN_PRODUCTION: 'yes' })[0]!,
      /^ALLOW_SIMULATED_IN_PRODUCTION:/,
    );
  });
});

describe('attestation.get on a hardware platform', () => {
  it('asks the platform for evidence over SHA-512(JCS(keys, nonce)) and returns it', async () => {
    const root = gramineTree();
    const platform = await resolvePlatform(
      parseEnclaveConfig({ TEE_PLATFORM: 'sgx-gramine', TEE_DEVICE_ROOT: root }),
      'package.json',
    );
    const state = createEnclaveState(parseEnclaveConfig({}), platform);
    await generate(state, { policy: 'measurement' });
    const nonce = 'bm9uY2Utbm9uY2Utbm9uY2U';
    // The fake quote is static: it must carry the report data the method will ask for, so
    // patch the sample's report_data field (bytes 368..431) to it.
    const first = await attestation(state, { nonce }).catch((e: Error) => e);
    assert.match(String(first), /does not carry the report data written/);
    const written = new Uint8Array(
      (await import('node:fs')).readFileSync(join(root, 'dev/attestation/user_report_data')),
    );
    const quote = sample('sgx_quote_v3.bin');
    quote.set(written, 368);
    writeFileSync(join(root, 'dev/attestation/quote'), quote);
    const res = await attestation(state, { nonce });
    assert.equal(res.platform, 'sgx');
    assert.equal(res.image_hash, platform.measurement);
    assert.deepEqual(base64ToBytes(res.quote), quote);
    const expected = computeReportData(res);
    assert.deepEqual(hexToBytes(res.report_data), expected);
    assert.deepEqual(written, expected);
  });
});
