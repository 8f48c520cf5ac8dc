/**
 * TEE platforms this enclave build can run on, one constructor each, chosen by the one setting
 * TEE_PLATFORM. `resolvePlatform` is the only place that reads the platform name; it resolves
 * once at start, and everything below receives the resolved `Platform`. Hardware platforms
 * read their devices under TEE_DEVICE_ROOT (docs/platforms/).
 */
import type { EnclaveConfig } from '../config.js';
import { createConfigfsTsmPlatform } from './configfs-tsm.js';
import { createGramineSgxPlatform } from './gramine-sgx.js';
import { createNitroPlatform } from './nitro.js';
import { assertIsolated } from './isolation.js';
import { createNsmSocketTransport } from './nsm.js';
import type { Platform } from './platform.js';
import { loadReleasedKey } from './released-key.js';
import { createSimulatedPlatform } from './simulated.js';

type PlatformFactory = (config: EnclaveConfig, codePath: string) => Platform | Promise<Platform>;

/**
 * Reads the released key, hands it to the platform (which keeps its own copy), wipes ours.
 * `owner`: the uid the key file must belong to (the enclave's, on tdx and sev-snp).
 */
async function withReleasedKey(
  config: EnclaveConfig,
  make: (key: Uint8Array) => Promise<Platform>,
  owner?: number,
): Promise<Platform> {
  const key = loadReleasedKey(config.SEALING_KEY_FILE, owner);
  try {
    return await make(key);
  } finally {
    key.fill(0);
  }
}

/**
 * TDX and SEV-SNP: host and enclave share the VM, so the enclave first checks that the kernel
 * keeps the host out (isolation.ts) and that its key file is its own.
 */
async function configfsTsm(config: EnclaveConfig, kind: 'tdx' | 'sev-snp'): Promise<Platform> {
  const uid = await assertIsolated({
    root: config.TEE_DEVICE_ROOT,
    platform: kind,
    parentPid: config.ENCLAVE_PARENT_PID,
  });
  return withReleasedKey(
    config,
    (sealingRoot) =>
      createConfigfsTsmPlatform({
        kind,
        root: config.TEE_DEVICE_ROOT,
        entry: config.TSM_REPORT_ENTRY,
        sealingRoot,
        owner: uid,
      }),
    uid,
  );
}

const PLATFORMS: Readonly<Record<EnclaveConfig['TEE_PLATFORM'], PlatformFactory>> = Object.freeze({
  simulated: (config, codePath) =>
    createSimulatedPlatform({ dir: config.SIMULATED_PLATFORM_DIR, codePath }),
  'sgx-gramine': (config) => createGramineSgxPlatform({ root: config.TEE_DEVICE_ROOT }),
  tdx: (config) => configfsTsm(config, 'tdx'),
  'sev-snp': (config) => configfsTsm(config, 'sev-snp'),
  nitro: (config) =>
    withReleasedKey(config, (sealingRoot) =>
      createNitroPlatform({
        transport: createNsmSocketTransport(config.NSM_HELPER_SOCKET),
        sealingRoot,
      }),
    ),
});

export async function resolvePlatform(config: EnclaveConfig, codePath: string): Promise<Platform> {
  const factory = PLATFORMS[config.TEE_PLATFORM];
  if (!factory) throw new Error(`TEE platform not supported by this build: ${config.TEE_PLATFORM}`);
  return factory(config, codePath);
}
