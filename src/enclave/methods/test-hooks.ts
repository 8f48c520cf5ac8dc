/**
 * Test-only methods. Each answers METHOD_UNKNOWN, as if it did not exist, unless the enclave was
 * started with ENCLAVE_TEST_HOOKS=1 (refused by enclave/config.ts on any platform but
 * `simulated`); the host exposes none of them over HTTP.
 */
import { RpcError } from '../../protocol/rpc/errors.js';
import type { EnclaveState } from '../state.js';

/** Hangs the event loop, as a wedged enclave would, to test the supervisor's watchdog. */
export function blockEventLoop(state: EnclaveState, params: { ms: number }): Record<string, never> {
  if (state.config.ENCLAVE_TEST_HOOKS !== '1' || state.config.TEE_PLATFORM !== 'simulated')
    throw new RpcError('METHOD_UNKNOWN');
  const until = Date.now() + params.ms;
  while (Date.now() < until) {
    // busy on purpose: nothing else runs in this process meanwhile
  }
  return {};
}
