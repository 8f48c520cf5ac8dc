/**
 * `attestation.get`: platform evidence whose report data binds the current credential key, the
 * signing keys and the caller's nonce (protocol/attestation/report-data.ts).
 */
import { computeReportData } from '../../protocol/attestation/report-data.js';
import { bytesToBase64, bytesToHex } from '../../protocol/encoding.js';
import type { MethodParams, MethodResult } from '../../protocol/rpc/methods.js';
import { readyKeyring, type EnclaveState } from '../state.js';
import { keyRetentionSeconds } from '../auth/config.js';

export async function attestation(
  state: EnclaveState,
  params: MethodParams<'attestation.get'>,
): Promise<MethodResult<'attestation.get'>> {
  const keyring = readyKeyring(state);
  const current = keyring.current();
  const bound = {
    enclave_pubkey: bytesToBase64(current.publicKey),
    key_id: current.id,
    signing_keys: { ...keyring.publicKeys().signing_keys, ...jwtKids(state) },
    nonce: params.nonce,
    ...(state.cluster ? { cluster_id: state.cluster.clusterId } : {}),
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

/** The published JWT keys' thumbprints, bound into the evidence once the auth keyring is loaded. */
function jwtKids(state: EnclaveState): { jwt?: string[] } {
  const keyring = state.keyrings.auth.active;
  if (!keyring) return {};
  const keys = keyring.jwks(state.now(), keyRetentionSeconds(state.auth.config));
  return { jwt: keys.map((k) => k.kid) };
}
