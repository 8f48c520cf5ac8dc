/**
 * The enclave's own few settings, parsed once from its environment and frozen. The host passes
 * only these when it spawns the enclave; host-only settings (DATABASE_URL and the like) never
 * reach this process. On a real TEE these values would be part of the measured launch config.
 */
import { z } from 'zod';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const EnclaveEnvSchema = z.object({
  ENCLAVE_SOCKET_PATH: z
    .string()
    .min(1)
    .default('./data/enclave-external.sock')
    .describe('Unix socket the enclave listens on'),
  TEE_PLATFORM: z.enum(['simulated']).default('simulated').describe('TEE platform implementation'),
  SIMULATED_PLATFORM_DIR: z
    .string()
    .min(1)
    .default('./data/simulated-platform')
    .describe('Folder holding the simulated vendor key and platform secret'),
  ENCLAVE_MAX_TTL_SECONDS: int(300, 365 * 86400)
    .default(604800)
    .describe('Longest session TTL the enclave binds'),
  ENVELOPE_MAX_AGE_SECONDS: int(10, 3600)
    .default(300)
    .describe('Oldest issued_at accepted, seconds'),
  ENVELOPE_MAX_FUTURE_SECONDS: int(0, 600)
    .default(30)
    .describe('Client clock skew tolerated, seconds'),
  REPLAY_CACHE_MAX_ENTRIES: int(1000, 50_000_000).default(2_000_000).describe('Replay cache bound'),
});

export type EnclaveConfig = Readonly<z.infer<typeof EnclaveEnvSchema>>;

export function parseEnclaveConfig(env: NodeJS.ProcessEnv): EnclaveConfig {
  const res = EnclaveEnvSchema.safeParse(env);
  if (!res.success) {
    const lines = res.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid enclave configuration:\n${lines.join('\n')}`);
  }
  return Object.freeze(res.data);
}
