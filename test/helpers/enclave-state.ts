/**
 * An in-process enclave state on a real simulated platform in a temp folder, with a settable
 * clock (by default past the boot's envelope_not_before: see `bootAt`).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEnclaveConfig } from '../../src/enclave/config.js';
import { createSimulatedPlatform } from '../../src/enclave/platform/simulated.js';
import { createEnclaveState, type EnclaveState } from '../../src/enclave/state.js';
import type { GenesisPolicy } from '../../src/enclave/cluster/genesis-policy.js';

export interface TestEnclave {
  state: EnclaveState;
  dir: string;
  clock: { now: number };
}

export function testEnclave(
  opts: {
    dir?: string;
    codePath?: string;
    env?: Record<string, string>;
    /** As if built with CLOISTER_GENESIS_POLICY (source runs default to `convert`). */
    genesisPolicy?: GenesisPolicy;
    /**
     * The clock at boot. By default the enclave booted ENVELOPE_MAX_FUTURE_SECONDS + 1 s before
     * the returned clock (1_800_000_000), so an envelope dated `clock.now` is accepted; with
     * `bootAt` the clock is left at the boot second (a process that just started).
     */
    bootAt?: number;
  } = {},
): TestEnclave {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'cloister-enclave-'));
  const config = parseEnclaveConfig({
    ENCLAVE_SOCKET_PATH: join(dir, 'e.sock'),
    SIMULATED_PLATFORM_DIR: dir,
    ...opts.env,
  });
  const settled = 1_800_000_000;
  const clock = { now: opts.bootAt ?? settled - config.ENVELOPE_MAX_FUTURE_SECONDS - 1 };
  const platform = createSimulatedPlatform({
    dir,
    codePath: opts.codePath ?? 'package.json',
    now: () => clock.now,
  });
  const state = createEnclaveState(config, platform, () => clock.now, opts.genesisPolicy);
  if (opts.bootAt === undefined) clock.now = settled;
  return { state, dir, clock };
}
