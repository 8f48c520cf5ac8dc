/**
 * `attestation.get`: platform evidence whose report data binds the current credential key, the
 * signing keys and the caller's nonce (protocol/attestation/report-data.ts).
 */
import { computeReportData } from '../../protocol/attestation/report-data.js';
import { bytesToBase64, bytesToHex } from '../../protocol/encoding.js';
import type { MethodParams, MethodResult } from '../../protocol/rpc/methods.js';
import { readyKeyring, type EnclaveState } from '../state.js';

export async function attestation(
  state: EnclaveState,
  params: MethodParams<'attestation.get'>,
): Promise<MethodResult<'attestation.get'>> {
  const keyring = readyKeyring(state);
  const current = keyring.current();
  const bound = {
    enclave_pubkey: bytesToBase64(current.publicKey),
    key_id: current.id,
    signing_keys: keyring.publicKeys().signing_keys,
    nonce: params.nonce,
  };
  const reportData = computeReportData(bound);
  return {
    quote: bytesToBase64(await state.platform.evidence(reportData)),
    image_hash: state.platform.measurement,
    platform: state.platform.name,
    report_data: bytesToHex(reportData),
    ...bound,
  };
}
