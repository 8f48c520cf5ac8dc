/** The enclave's handler for each method of the closed table in protocol/rpc/methods.ts. */
import type { z } from 'zod';
import type { METHODS, MethodName, MethodResult } from '../../protocol/rpc/methods.js';
import type { EnclaveState } from '../state.js';
import { aggregatesCancel, aggregatesPoll, aggregatesStart } from './aggregates.js';
import { attestation } from './attestation.js';
import {
  clusterAcceptForward,
  clusterAwaitQuorum,
  clusterForward,
  clusterGenesis,
  clusterQuote,
  clusterReshare,
  clusterSubmitShare,
  clusterUnlock,
} from './cluster.js';
import { OTP_HANDLERS } from './auth-otp.js';
import { TOTP_HANDLERS } from './auth-totp.js';
import { PASSKEY_HANDLERS } from './auth-passkey.js';
import { SIWE_HANDLERS } from './auth-siwe.js';
import { AUTH_HANDLERS } from './auth.js';
import { activate, generate, prepareRotation, reload, unsealKeyring } from './keyring.js';
import { logAppend, logInit, logPrepare } from './log.js';
import { status } from './status.js';
import { submitCredential } from './submit-credential.js';
import { blockEventLoop } from './test-hooks.js';
import { verifyStored } from './verify-stored.js';
import { WALLET_HANDLERS } from './wallet.js';

export type Handler<M extends MethodName> = (
  state: EnclaveState,
  params: z.output<(typeof METHODS)[M]['params']>,
) => MethodResult<M> | Promise<MethodResult<M>>;

// A mapped type: adding a method to METHODS without a handler fails to compile.
export const HANDLERS: { readonly [M in MethodName]: Handler<M> } = Object.freeze({
  'enclave.status': status,
  'keyring.generate': generate,
  'keyring.unseal': unsealKeyring,
  'keyring.prepare_rotation': prepareRotation,
  'keyring.activate': activate,
  'keyring.reload': reload,
  'attestation.get': attestation,
  'credential.submit': submitCredential,
  'credential.verify_stored': verifyStored,
  'log.init': logInit,
  'log.prepare': logPrepare,
  'log.append': logAppend,
  'aggregates.start': aggregatesStart,
  'aggregates.poll': aggregatesPoll,
  'aggregates.cancel': aggregatesCancel,
  ...AUTH_HANDLERS,
  'cluster.genesis': clusterGenesis,
  'cluster.unlock': clusterUnlock,
  'cluster.await_quorum': clusterAwaitQuorum,
  'cluster.quote': clusterQuote,
  'cluster.submit_share': clusterSubmitShare,
  'cluster.forward': clusterForward,
  'cluster.accept_forward': clusterAcceptForward,
  'cluster.reshare': clusterReshare,
  'test.block_event_loop': blockEventLoop,
  ...WALLET_HANDLERS,
  ...SIWE_HANDLERS,
  ...OTP_HANDLERS,
  ...TOTP_HANDLERS,
  ...PASSKEY_HANDLERS,
});
