/** The token pair a login answers with, and the reason code audit events give for a failure. */
import { EnclaveCallError } from '../enclave-client/rpc-client.js';
import { HostError } from '../errors.js';

/** The error code a failed call answers with (the audit events' reason). */
export function reasonOf(err: unknown): string {
  if (err instanceof HostError) return err.code;
  if (err instanceof EnclaveCallError) return err.code;
  return 'INTERNAL';
}

export interface TokenPair {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  refresh_token: string;
  refresh_expires_in: number;
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);

export function pair(r: {
  access_token: string;
  access_expires_at: number;
  refresh_token: string;
  refresh_expires_at: number;
}): TokenPair {
  const now = nowSeconds();
  return {
    access_token: r.access_token,
    token_type: 'Bearer',
    expires_in: Math.max(0, r.access_expires_at - now),
    refresh_token: r.refresh_token,
    refresh_expires_in: Math.max(0, r.refresh_expires_at - now),
  };
}
