/**
 * The enclave's authentication state, a part of EnclaveState (`state.auth`): the Argon2id hasher
 * with its bounded queue, and the auth settings. The auth keyring itself is the `auth` keyring
 * slot (`state.keyrings.auth`); it is lost on restart, and the host hands the sealed keyring back
 * through `auth.init`.
 */
import { RpcError } from '../../protocol/rpc/errors.js';
import type { EnclaveState } from '../state.js';
import { argon2ParamsFrom, PasswordHasher } from './argon2.js';
import type { AuthKeyring } from './auth-keyring.js';
import { ChallengeStore } from './challenges.js';
import type { AuthEnclaveConfig } from './config.js';
import { OtpStore } from './otp.js';
import { TotpReplay } from './totp.js';

export interface AuthState {
  readonly hasher: PasswordHasher;
  readonly config: AuthEnclaveConfig;
  /** SIWE nonces the enclave made and has not yet seen used (lost on restart). */
  readonly siweNonces: ChallengeStore;
  /** Pending email one-time codes (MACs only) and per-address send counts. */
  readonly otp: OtpStore;
  /** The last accepted TOTP step per account (a code works once). */
  readonly totpReplay: TotpReplay;
  /** WebAuthn challenges (registration: tagged with the account; login: untagged). */
  readonly passkeyChallenges: ChallengeStore;
}

/** Live SIWE nonces at most: beyond, new ones are refused until some expire. */
const MAX_LIVE_NONCES = 100_000;

export function createAuthState(config: AuthEnclaveConfig): AuthState {
  return {
    hasher: new PasswordHasher(
      argon2ParamsFrom(config),
      config.AUTH_ARGON2_CONCURRENCY,
      config.AUTH_ARGON2_QUEUE_MAX,
    ),
    config,
    siweNonces: new ChallengeStore(MAX_LIVE_NONCES),
    otp: new OtpStore(),
    totpReplay: new TotpReplay(),
    passkeyChallenges: new ChallengeStore(MAX_LIVE_NONCES),
  };
}

/** The auth keyring once `auth.init` has loaded or created it; AUTH_NOT_READY before. */
export function readyAuthKeyring(state: EnclaveState): AuthKeyring {
  const k = state.keyrings.auth.active;
  if (!k) throw new RpcError('AUTH_NOT_READY');
  return k;
}
