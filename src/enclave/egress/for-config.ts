/**
 * The enclave's one egress transport, chosen by its configuration: `direct` (simulated
 * platform) or `tunnel` (through the host's CONNECT proxy on EGRESS_PROXY_SOCKET). The enclave
 * builds it once, on first use (`state.egress`), and shares it with every session and job, so
 * connections (and the exchanges' per-IP limits) are pooled in one place.
 */
import type { EnclaveConfig } from '../config.js';
import { readPemFile } from '../platform/files.js';
import type { HttpTransport } from '../exchanges/types.js';
import { createDirectTransport } from './direct.js';
import { createTunnelTransport } from './tunnel.js';

export type EgressConfig = Pick<
  EnclaveConfig,
  'EGRESS_MODE' | 'EGRESS_PROXY_SOCKET' | 'EGRESS_CA_FILE'
>;

export function createEgressTransport(config: EgressConfig): HttpTransport {
  const caPem =
    config.EGRESS_CA_FILE !== undefined ? readPemFile(config.EGRESS_CA_FILE) : undefined;
  const ca = caPem !== undefined ? { caPem } : {};
  if (config.EGRESS_MODE === 'tunnel') {
    if (config.EGRESS_PROXY_SOCKET === undefined)
      throw new Error('EGRESS_PROXY_SOCKET is required in tunnel mode');
    return createTunnelTransport({ proxy: { socketPath: config.EGRESS_PROXY_SOCKET }, ...ca });
  }
  return createDirectTransport(ca);
}
