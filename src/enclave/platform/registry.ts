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
import { createNsmSocketTransport } from './nsm.js';
import type { Platform } from './platform.js';
import { loadReleasedKey } from './released-key.js';
import { createSimulatedPlatform } from './simulated.js';

type PlatformFactory = (config: EnclaveConfig, codePath: string) => Platform | Promise<Platform>;

/** Reads the released key, hands it to the platform (which keeps its own copy), wipes ours. */
async function withReleasedKey(
  config: EnclaveConfig,
  make: (key: Uint8Array) => Promise<Platform>,
): Promise<Platform> {
  const key = loadReleasedKey(config.SEALING_KEY_FILE);
  try {
    return await make(key);
  } finally {
    key.fill(0);
  }
}

const PLATFORMS: Readonly<Record<EnclaveConfig['TEE_PLATFORM'], PlatformFactory>> = Object.freeze({
  simulated: (config, codePath) =>
    createSimulatedPlatform({ dir: config.SIMULATED_PLATFORM_DIR, codePath }),
  'sgx-gramine': (config) => createGramineSgxPlatform({ root: config.TEE_DEVICE_ROOT }),
  tdx: (config) =>
    withReleasedKey(config, (sealingRoot) =>
      createConfigfsTsmPlatform({
        kind: 'tdx',
        root: config.TEE_DEVICE_ROOT,
        entry: config.TSM_REPORT_ENTRY,
        sealingRoot,
      }),
    ),
  'sev-snp': (config) =>
    withReleasedKey(config, (sealingRoot) =>
      createConfigfsTsmPlatform({
        kind: 'sev-snp',
        root: config.TEE_DEVICE_ROOT,
        entry: config.TSM_REPORT_ENTRY,
        sealingRoot,
      }),
    ),
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
