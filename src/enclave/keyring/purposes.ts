/**
 * The table of keyring purposes: each is sealed on its own (its own blob, generation and
 * rotation) through the same lifecycle (keyring-slot.ts) and the same sealer. Their plaintext
 * layouts are strict and tagged so that no purpose's blob reads as another's
 * (docs/protocol/sealed-state.md, "Keyring purposes"). A new purpose (e.g. a wallet master key)
 * is a row here, its keyring class and its data schema.
 */
import { AuthKeyring } from '../auth/auth-keyring.js';
import { WalletKeyring } from '../wallet/wallet-keyring.js';
import { Keyring } from './keyring.js';
import { KeyringSlot, type KeyringPurpose } from './keyring-slot.js';

export const KEYRING_PURPOSES = {
  /** Credential keys, result and log signing keys, binding key (keyring.* methods). */
  credential: { name: 'credential', deserialize: (b) => Keyring.deserialize(b) },
  /** JWT signing keys, refresh and response keys (auth.* methods). */
  auth: { name: 'auth', deserialize: (b) => AuthKeyring.deserialize(b) },
  /** Wallet master key (server-share DEKs) and wallet-state MAC key (wallet.* methods). */
  wallet: { name: 'wallet', deserialize: (b) => WalletKeyring.deserialize(b) },
} as const satisfies {
  credential: KeyringPurpose<Keyring>;
  auth: KeyringPurpose<AuthKeyring>;
  wallet: KeyringPurpose<WalletKeyring>;
};

export type KeyringPurposeName = keyof typeof KEYRING_PURPOSES;

export type KeyringSlots = {
  readonly [P in KeyringPurposeName]: KeyringSlot<
    ReturnType<(typeof KEYRING_PURPOSES)[P]['deserialize']>
  >;
};

export function createKeyringSlots(): KeyringSlots {
  return {
    credential: new KeyringSlot(KEYRING_PURPOSES.credential),
    auth: new KeyringSlot(KEYRING_PURPOSES.auth),
    wallet: new KeyringSlot(KEYRING_PURPOSES.wallet),
  };
}
