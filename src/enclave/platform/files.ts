/**
 * The enclave's file access outside the TEE platforms themselves: its RPC socket file and the
 * egress CA bundle. `node:fs` is imported only under enclave/platform/ (scripts/check-zones.mjs
 * and eslint.config.js enforce it), so everything the enclave reads from or writes to the
 * untrusted file system is in this folder.
 */
import { chmodSync, readFileSync, rmSync } from 'node:fs';

/** Removes a stale socket file before listening (none is fine). */
export function removeSocketFile(path: string): void {
  rmSync(path, { force: true });
}

/** Only the owner (the host's user) may connect to the enclave's socket. */
export function restrictSocketToOwner(path: string): void {
  chmodSync(path, 0o600);
}

/**
 * On tdx and sev-snp the host runs as another user (platform/isolation.ts): it connects through
 * the socket's group (the folder's group if that folder is set-group-id, else the enclave's).
 * Others still may not.
 */
export function shareSocketWithGroup(path: string): void {
  chmodSync(path, 0o660);
}

/** A PEM bundle the operator configured (EGRESS_CA_FILE); public data, not a secret. */
export function readPemFile(path: string): string {
  return readFileSync(path, 'utf8');
}
