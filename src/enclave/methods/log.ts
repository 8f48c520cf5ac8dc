/** Transparency-log methods: start or resume the log once per process, then append and sign. */
import { base64ToBytes, bytesToBase64 } from '../../protocol/encoding.js';
import { RpcError } from '../../protocol/rpc/errors.js';
import type { MethodParams, MethodResult } from '../../protocol/rpc/methods.js';
import { EnclaveLog } from '../log/enclave-log.js';
import { readyKeyring, type EnclaveState } from '../state.js';

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
  if (params.head) {
    state.log.advance({
      checkpoint: params.head.checkpoint,
      frontier: params.head.frontier.map(base64ToBytes),
      proof: params.head.proof.map(base64ToBytes),
    });
  }
  const { firstIndex, leafHashes, checkpoint } = await state.log.append(params.entries);
  return {
    first_index: firstIndex,
    size: state.log.size,
    leaf_hashes: leafHashes.map(bytesToBase64),
    checkpoint,
  };
}
