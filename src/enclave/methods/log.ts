/**
 * Transparency-log methods: start or resume the log once per process, then append and sign,
 * in one call (`log.append { entries }`) or two (`log.prepare`, outside the host's head lock,
 * then `log.append { prepared }` under it, which only extends the tree and signs).
 */
import { base64ToBytes, bytesToBase64 } from '../../protocol/encoding.js';
import { RpcError } from '../../protocol/rpc/errors.js';
import type { MethodParams, MethodResult } from '../../protocol/rpc/methods.js';
import { EnclaveLog } from '../log/enclave-log.js';
import { readyKeyring, type EnclaveState } from '../state.js';
import { noteRevocations } from './verify-stored.js';

export async function logInit(
  state: EnclaveState,
  params: MethodParams<'log.init'>,
): Promise<MethodResult<'log.init'>> {
  if (state.log) {
    // The host may repeat the call (its own restart) but only with the state held here: a host
    // that presents anything older while this process runs is rolling the log back.
    if (params.checkpoint !== state.log.checkpoint()) throw new RpcError('LOG_STATE_INVALID');
  } else {
    const keyring = readyKeyring(state);
    state.log = await EnclaveLog.open(keyring.logSigningKey(), keyring.logPublicKey(), {
      checkpoint: params.checkpoint,
      frontier: params.frontier.map(base64ToBytes),
    });
  }
  return { origin: state.log.origin, size: state.log.size, checkpoint: state.log.checkpoint() };
}

export async function logAppend(
  state: EnclaveState,
  params: MethodParams<'log.append'>,
): Promise<MethodResult<'log.append'>> {
  if (!state.log) throw new RpcError('LOG_NOT_READY');
  // Used up first: an append that then fails (a refused head) leaves no id to try again.
  const prepared = params.prepared === undefined ? null : state.log.takePrepared(params.prepared);
  if (params.head) {
    state.log.advance({
      checkpoint: params.head.checkpoint,
      frontier: params.head.frontier.map(base64ToBytes),
      proof: params.head.proof.map(base64ToBytes),
    });
  }
  if (prepared) {
    // The host checked these hashes in the prepare answer; the checkpoint's root covers them.
    const { firstIndex, checkpoint } = await state.log.appendHashes(prepared);
    return { first_index: firstIndex, size: state.log.size, checkpoint };
  }
  // The schema lets exactly one of `prepared` and `entries` through.
  noteRevocations(state, params.entries!);
  const { firstIndex, leafHashes, checkpoint } = await state.log.append(params.entries!);
  return {
    first_index: firstIndex,
    size: state.log.size,
    leaf_hashes: leafHashes.map(bytesToBase64),
    checkpoint,
  };
}

export function logPrepare(
  state: EnclaveState,
  params: MethodParams<'log.prepare'>,
): MethodResult<'log.prepare'> {
  if (!state.log) throw new RpcError('LOG_NOT_READY');
  const { id, leafHashes } = state.log.prepare(params.entries);
  noteRevocations(state, params.entries);
  return { id, leaf_hashes: leafHashes.map(bytesToBase64) };
}
