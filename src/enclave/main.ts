/**
 * Enclave entry point: parse its settings, bring up the platform, listen on its socket, wait in
 * `awaiting_keyring` for the host to hand it a sealed keyring (or ask for a new one).
 * It prints only fixed status lines: no message of any error, which might quote a secret.
 */
import { fileURLToPath } from 'node:url';
import { EnclaveConfigError, parseEnclaveConfig } from './config.js';
import { PlatformError } from './platform/device.js';
import { shareSocketWithGroup } from './platform/files.js';
import { resolvePlatform } from './platform/registry.js';
import { serveEnclave } from './server.js';
import { createEnclaveState } from './state.js';

function fatal(what: string, err: unknown): never {
  const kind = err instanceof Error ? err.constructor.name : typeof err;
  process.stderr.write(`${JSON.stringify({ event: 'enclave.fatal', what, kind })}\n`);
  process.exit(70);
}

/**
 * A spawned enclave must not outlive its host (kill -9, a failed start): it would keep the
 * keyring in memory and the next host would start a second one beside it. When the host dies
 * this process is re-parented, so its parent pid changes; checking that is immune to pid reuse.
 */
function exitWithParent(parentPid: number): void {
  const check = () => {
    if (process.ppid !== parentPid) {
      process.stdout.write(`${JSON.stringify({ event: 'enclave.parent_gone' })}\n`);
      process.exit(0);
    }
  };
  check();
  setInterval(check, 500).unref();
}

/** Waits (at most a second) until `now()` has moved past `second`. */
async function untilSecondAfter(second: number, now: () => number): Promise<void> {
  while (now() <= second) {
    const ms = (second + 1) * 1000 - Date.now();
    await new Promise((r) => setTimeout(r, Math.min(1000, Math.max(1, ms))));
  }
}

process.on('uncaughtException', (err) => fatal('uncaught exception', err));
process.on('unhandledRejection', (err) => fatal('unhandled rejection', err));

try {
  const config = parseEnclaveConfig(process.env, process.execArgv);
  const platform = await resolvePlatform(config, fileURLToPath(import.meta.url));
  const state = createEnclaveState(config, platform);
  // Serve only once the boot second is over: from then on an envelope dated exactly
  // envelope_not_before (boot + skew + 1) is within the skew tolerance (envelope-freshness.ts).
  await untilSecondAfter(state.bootTime, state.now);
  // tdx, sev-snp: the host is another user in the socket's group; others never get a moment.
  if (platform.socketMode !== undefined) process.umask(0o007);
  await serveEnclave(state, config.ENCLAVE_SOCKET_PATH);
  if (platform.socketMode !== undefined) shareSocketWithGroup(config.ENCLAVE_SOCKET_PATH);
  process.stdout.write(
    `${JSON.stringify({ event: 'enclave.listening', platform: platform.name, measurement: platform.measurement, pid: process.pid })}\n`,
  );
  const stop = () => process.exit(0);
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  if (config.ENCLAVE_PARENT_PID !== undefined) exitWithParent(config.ENCLAVE_PARENT_PID);
} catch (err) {
  // Configuration errors name variables only, never values; print them, nothing else.
  // A platform that cannot start says which device file or setting is missing (paths only).
  if (err instanceof PlatformError) {
    process.stderr.write(
      `${JSON.stringify({ event: 'enclave.platform_error', message: err.message })}\n`,
    );
    process.exit(78);
  }
  if (err instanceof EnclaveConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(78);
  }
  fatal('startup', err);
}
