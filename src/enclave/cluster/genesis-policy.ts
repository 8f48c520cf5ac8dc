/**
 * The measured genesis policy (docs/protocol/cluster.md, "Genesis policy"). The host relays
 * `cluster.genesis`, so the enclave cannot tell the operators from the host; what it can know is
 * whether it has history. Under `fresh-only` genesis runs only on an enclave that generated every
 * keyring it holds in this process (none unsealed from a stored blob) and whose log started
 * empty: a host running genesis with its own recipients then learns a root that wraps no user's
 * key. `convert` (the default) also converts a deployment in place, trusting whoever calls it.
 *
 * The value is compiled into the bundle (scripts/build-enclave.mjs, esbuild `define`, from
 * CLOISTER_GENESIS_POLICY at build time), so it is part of the measurement that clients and
 * operators pin; no runtime setting reaches it. Run from source (tests), it is `convert`.
 */
import { RpcError } from '../../protocol/rpc/errors.js';
import type { EnclaveState } from '../state.js';

export const GENESIS_POLICIES = ['convert', 'fresh-only'] as const;
export type GenesisPolicy = (typeof GENESIS_POLICIES)[number];

// Replaced by a string literal in the built bundle; undeclared when run from source.
declare const CLOISTER_GENESIS_POLICY: string | undefined;

function compiledPolicy(): GenesisPolicy {
  const value =
    typeof CLOISTER_GENESIS_POLICY === 'undefined' ? 'convert' : CLOISTER_GENESIS_POLICY;
  if (!(GENESIS_POLICIES as readonly string[]).includes(value))
    throw new Error(`unknown genesis policy ${value}`);
  return value as GenesisPolicy;
}

/** The policy this bundle was built with. */
export const BUILD_GENESIS_POLICY: GenesisPolicy = compiledPolicy();

/**
 * Throws CLUSTER_GENESIS_REFUSED unless the policy allows genesis on this enclave now. Under
 * `fresh-only`: no keyring slot has ever loaded a stored blob in this process, and the log was
 * opened with no stored state (size 0). Both are facts of this process the host cannot fake:
 * it can hand over an empty log, but then the keyrings are new too, and nothing stored opens
 * under them.
 */
export function checkGenesisPolicy(state: EnclaveState): void {
  if (state.genesisPolicy === 'convert') return;
  const unsealed = Object.values(state.keyrings).some((slot) => slot.unsealed);
  if (unsealed || !state.log || state.log.startSize !== 0)
    throw new RpcError('CLUSTER_GENESIS_REFUSED');
}
