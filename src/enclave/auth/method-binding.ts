/**
 * Login methods bound to accounts by the enclave. The host stores which account an Ethereum
 * address (or, later, an email or passkey) logs into, but it cannot be trusted with that link:
 * a host that rewrote it could log a signer into someone else's account. So the enclave MACs
 * (kind, identifier, user id) when it creates a link and checks the MAC at every login.
 * Format: `mb1.` ‖ base64url(HMAC-SHA256), key = HKDF-SHA256(platform sealing key,
 * salt "cloister/auth/method-binding/v1"), as stable across restarts as the password seal.
 */
import { createHmac, hkdfSync } from 'node:crypto';
import { bytesEqual } from '../../protocol/encoding.js';
import type { SealPolicy } from '../../protocol/rpc/methods.js';
import type { Platform } from '../platform/platform.js';

export type MethodKind = 'siwe' | 'email';

function mac(platform: Platform, policy: SealPolicy, kind: MethodKind, id: string, user: string) {
  const root = platform.sealingKey(policy);
  const key = new Uint8Array(hkdfSync('sha256', root, 'cloister/auth/method-binding/v1', '', 32));
  root.fill(0);
  try {
    // One field per line; none of them can hold a newline (schemas check their shapes).
    return createHmac('sha256', key).update(`${kind}\n${id}\n${user}`).digest();
  } finally {
    key.fill(0);
  }
}

export function bindMethod(
  platform: Platform,
  policy: SealPolicy,
  kind: MethodKind,
  identifier: string,
  userId: string,
): string {
  return `mb1.${mac(platform, policy, kind, identifier, userId).toString('base64url')}`;
}

/** Constant-time check that the enclave made `binding` for exactly this link. */
export function checkMethodBinding(
  platform: Platform,
  policy: SealPolicy,
  kind: MethodKind,
  identifier: string,
  userId: string,
  binding: string,
): boolean {
  const given = Buffer.from(binding.slice(4), 'base64url');
  return (
    binding.startsWith('mb1.') && bytesEqual(given, mac(platform, policy, kind, identifier, userId))
  );
}
