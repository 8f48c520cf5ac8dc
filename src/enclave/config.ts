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

/**
 * Variables Node or OpenSSL read by themselves, which change what this process runs or trusts:
 * code loaded before the bundle or an inspector (`NODE_OPTIONS`, `NODE_PATH`), certificate checks
 * and roots (`NODE_TLS_REJECT_UNAUTHORIZED`, `NODE_EXTRA_CA_CERTS`), TLS secrets written to a
 * file (`SSLKEYLOGFILE`), an OpenSSL configuration, provider or engine.
 */
export const RUNTIME_ENV_REFUSED = [
  'NODE_OPTIONS',
  'NODE_PATH',
  'NODE_TLS_REJECT_UNAUTHORIZED',
  'NODE_EXTRA_CA_CERTS',
  'SSLKEYLOGFILE',
  'OPENSSL_CONF',
  'OPENSSL_MODULES',
  'OPENSSL_ENGINES',
] as const;

/** The only Node flags a hardware enclave runs with: heap sizes (docs/platforms/). */
const RUNTIME_FLAGS_ALLOWED = /^--max-(old|semi)-space-size=\d+$/;

/**
 * On a hardware platform, the runtime must be the one its measurement describes: none of
 * RUNTIME_ENV_REFUSED set, and no Node flag but heap sizes (`--inspect`, `--require`,
 * `--import`, `--tls-keylog`, `--openssl-config` … would open a debugger on the keys, run code
 * before the bundle or weaken TLS). Gramine and Nitro fix argv and environment in the measured
 * manifest or image, and on TDX and SEV-SNP the host may not start the enclave; this check
 * turns a deployment that adds either anyway into a refusal at start. Names only, never values.
 */
function runtimeIssues(platform: string, env: NodeJS.ProcessEnv, execArgv: readonly string[]) {
  if (platform === 'simulated') return [];
  const issues: string[] = [];
  for (const name of RUNTIME_ENV_REFUSED)
    if (env[name] !== undefined)
      issues.push(`${name}: not allowed unless TEE_PLATFORM is simulated`);
  for (const flag of execArgv)
    if (!RUNTIME_FLAGS_ALLOWED.test(flag))
      issues.push(`node ${flag.split('=')[0]}: not allowed unless TEE_PLATFORM is simulated`);
  return issues;
}

/** `execArgv`: the Node flags this process runs with (main.ts passes `process.execArgv`). */
export function parseEnclaveConfig(
  env: NodeJS.ProcessEnv,
  execArgv: readonly string[] = [],
): EnclaveConfig {
  const res = EnclaveEnvSchema.safeParse(env);
  if (!res.success) {
    throw new EnclaveConfigError(res.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const runtime = runtimeIssues(res.data.TEE_PLATFORM, env, execArgv);
  if (runtime.length > 0) throw new EnclaveConfigError(runtime);
  return Object.freeze(res.data);
}
