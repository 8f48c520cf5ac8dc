/**
 * Login methods bound to accounts by the enclave. The host stores which account an Ethereum
 * address, an email or a passkey logs into, but it cannot be trusted with that link: a host that
 * rewrote it could log a signer into someone else's account. So the enclave MACs (kind,
 * identifier, user id[, extra]) when it creates a link and checks the MAC at every login.
 * Format: `mb1.` ‖ base64url(HMAC-SHA256), key = HKDF-SHA256(the auth keyring's binding key,
 * salt "cloister/auth/method-binding/v1"). The binding key travels with the auth keyring (sealed
 * to the platform, or wrapped under the cluster root), so every instance that holds the keyring
 * verifies the bindings any of them made.
 */
import { createHmac, hkdfSync } from 'node:crypto';
import { bytesEqual } from '../../protocol/encoding.js';
import type { AuthKeyring } from './auth-keyring.js';

export type MethodKind = 'siwe' | 'email' | 'passkey' | 'totp';

/** A key derived from the keyring's binding key for one use (salt = its context string). */
export function derivedKey(keyring: Pick<AuthKeyring, 'bindingKey'>, salt: string): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', keyring.bindingKey, salt, '', 32));
}

function mac(
  keyring: Pick<AuthKeyring, 'bindingKey'>,
  kind: MethodKind,
  id: string,
  user: string,
  extra: string,
) {
  const key = derivedKey(keyring, 'cloister/auth/method-binding/v1');
  try {
    // One field per line; none of them can hold a newline (schemas check their shapes; `extra`
    // is base64url or digits).
    const extraLine = extra === '' ? '' : `\n${extra}`;
    return createHmac('sha256', key).update(`${kind}\n${id}\n${user}${extraLine}`).digest();
  } finally {
    key.fill(0);
  }
}

/** `extra` binds what else the enclave vouches for (a passkey's public key and counter). */
export function bindMethod(
  keyring: Pick<AuthKeyring, 'bindingKey'>,
  kind: MethodKind,
  identifier: string,
  userId: string,
  extra = '',
): string {
  return `mb1.${mac(keyring, kind, identifier, userId, extra).toString('base64url')}`;
}

/** Constant-time check that the enclave made `binding` for exactly this link. */
export function checkMethodBinding(
  keyring: Pick<AuthKeyring, 'bindingKey'>,
  kind: MethodKind,
  identifier: string,
  userId: string,
  binding: string,
  extra = '',
): boolean {
  const given = Buffer.from(binding.slice(4), 'base64url');
  return (
    binding.startsWith('mb1.') && bytesEqual(given, mac(keyring, kind, identifier, userId, extra))
  );
}
