/**
 * src/enclave/methods for the mutation run (docs/mutation-testing.md): rules of the enclave's
 * methods that only the service tests (which spawn the built bundle, never a mutant) reached, or
 * that no test pinned. Through the real dispatcher on in-process enclaves, as the host's RPC
 * client calls them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { testEnclave } from '../helpers/enclave-state.js';
import { code, ok } from './rpc.js';

describe('test.block_event_loop', () => {
  it('does not exist without ENCLAVE_TEST_HOOKS=1 on the simulated platform', async () => {
    const off = testEnclave();
    assert.equal(await code(off, 'test.block_event_loop', { ms: 1 }), 'METHOD_UNKNOWN');
    const on = testEnclave({ env: { ENCLAVE_TEST_HOOKS: '1' } });
    const ms = 30;
    const start = Date.now();
    assert.deepEqual(await ok(on, 'test.block_event_loop', { ms }), {});
    // The loop spins until the deadline has passed (a lower bound, never an upper one).
    assert.ok(Date.now() - start >= ms);
    // The config refuses test hooks on another platform; were one to get through, still none.
    (on.state as { config: unknown }).config = { ...on.state.config, TEE_PLATFORM: 'nitro' };
    assert.equal(await code(on, 'test.block_event_loop', { ms: 1 }), 'METHOD_UNKNOWN');
  });
});
