/**
 * TEE platforms this enclave build can run on, one constructor each. `resolvePlatform` is the
 * only place that reads the platform name; real-hardware platforms join this table as they are
 * implemented (README "Production path").
 */
import type { EnclaveConfig } from '../config.js';
import type { Platform } from './platform.js';
import { createSimulatedPlatform } from './simulated.js';

type PlatformFactory = (config: EnclaveConfig, codePath: string) => Platform;

const PLATFORMS: Readonly<Record<EnclaveConfig['TEE_PLATFORM'], PlatformFactory>> = Object.freeze({
  simulated: (config, codePath) =>
    createSimulatedPlatform({ dir: config.SIMULATED_PLATFORM_DIR, codePath }),
});

export function resolvePlatform(config: EnclaveConfig, codePath: string): Platform {
  const factory = PLATFORMS[config.TEE_PLATFORM];
  if (!factory) throw new Error(`TEE platform not supported by this build: ${config.TEE_PLATFORM}`);
  return factory(config, codePath);
}
