/**
 * The enclave's own few settings, parsed once from its environment and frozen. The host passes
 * only these when it spawns the enclave; host-only settings (DATABASE_URL and the like) never
 * reach this process. The variables and their cross-field rules are the contract in
 * protocol/enclave-env.ts, which the host parses too. On a real TEE these values would be part
 * of the measured launch config.
 */
import { z } from 'zod';
import {
  ENCLAVE_SHARED_ENV,
  ENCLAVE_SPAWN_ENV,
  enclaveEnvIssues,
  envInt,
} from '../protocol/enclave-env.js';

export { TEE_PLATFORMS } from '../protocol/enclave-env.js';

/** Read by this process only: the host never passes them. */
const ENCLAVE_PROCESS_ENV = {
  UV_THREADPOOL_SIZE: envInt(1, 1024)
    .default(4)
    .describe(
      "libuv's thread pool, read by libuv itself; a token signature goes there only while a thread is free",
    ),
};

const EnclaveEnvSchema = z
  .object({ ...ENCLAVE_SPAWN_ENV, ...ENCLAVE_SHARED_ENV, ...ENCLAVE_PROCESS_ENV })
  .superRefine((c, ctx) => {
    for (const issue of enclaveEnvIssues(c, { sealingKeyRequired: true })) {
      ctx.addIssue({ code: 'custom', path: [issue.variable], message: issue.message });
    }
    if (c.EGRESS_MODE === 'tunnel' && !c.EGRESS_PROXY_SOCKET) {
      ctx.addIssue({
        code: 'custom',
        path: ['EGRESS_PROXY_SOCKET'],
        message: 'required when EGRESS_MODE is tunnel',
      });
    }
    // A hook that hangs the enclave has no place beside real keys.
    if (c.ENCLAVE_TEST_HOOKS === '1' && c.TEE_PLATFORM !== 'simulated') {
      ctx.addIssue({
        code: 'custom',
        path: ['ENCLAVE_TEST_HOOKS'],
        message: 'only allowed when TEE_PLATFORM is simulated',
      });
    }
  });

export type EnclaveConfig = Readonly<z.output<typeof EnclaveEnvSchema>>;

/** A bad setting: names the variables, never their values (main.ts prints it, exits 78). */
export class EnclaveConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(`invalid enclave configuration:\n${issues.map((i) => `  ${i}`).join('\n')}`);
    this.name = 'EnclaveConfigError';
  }
}

export function parseEnclaveConfig(env: NodeJS.ProcessEnv): EnclaveConfig {
  const res = EnclaveEnvSchema.safeParse(env);
  if (!res.success) {
    throw new EnclaveConfigError(res.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  return Object.freeze(res.data);
}
