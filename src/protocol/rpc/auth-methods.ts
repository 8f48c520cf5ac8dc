/**
 * The authentication part of the closed enclave method table (spread into METHODS in
 * methods.ts; docs/protocol/auth.md). `detached: true` marks methods that run Argon2id: the
 * enclave answers them in a frame of their own when they finish, so a slow password hash never
 * holds up the other calls of its frame or of later frames (results are matched by id).
 * `overlapping: true` marks a method whose handler reads and changes enclave state only before
 * its first await (then it signs on the thread pool): the dispatcher starts the frame's next
 * calls while it finishes, so their effects on state still happen in call order.
 */
import { z } from 'zod';
import {
  EmailSchema,
  Es256PublicJwkSchema,
  KidSchema,
  PasswordSchema,
  RoleSchema,
} from '../auth.js';
import { hexBytes } from '../encoding.js';
import { SIWE_MAX_LENGTH } from '../siwe.js';
import { CredentialEnvelopeSchema } from '../envelope/registry.js';
import type { Phase } from './methods.js';

const READY: readonly Phase[] = ['ready'];
const UnixSeconds = z.number().int().nonnegative();
const Sealed = z
  .string()
  .min(1)
  .max(1024 * 1024);
const Jwt = z.string().min(10).max(4096);
export const RefreshTokenSchema = z
  .string()
  .regex(/^rt1\.[A-Za-z0-9_-]{22}\.\d{1,12}\.[A-Za-z0-9_-]{43}$/);
const SealedPassword = z.string().regex(/^ph1\.[A-Za-z0-9+/=]{40,1024}$/);

/** A password as typed (never logged or stored by the host), or inside a credential envelope. */
export const AuthSecretSchema = z.union([
  z.object({ password: PasswordSchema }).strict(),
  z.object({ envelope: CredentialEnvelopeSchema }).strict(),
]);
export type AuthSecret = z.infer<typeof AuthSecretSchema>;

const KeysResult = z
  .object({
    generation: z.number().int().positive(),
    keys: z.array(Es256PublicJwkSchema),
    signing_kid: KidSchema,
  })
  .strict();

const Issued = {
  access_token: Jwt,
  access_expires_at: UnixSeconds,
  refresh_token: RefreshTokenSchema,
  refresh_expires_at: UnixSeconds,
};

/** A pair for a login session: the account, the session, the tokens and the refresh digest. */
const SessionIssued = {
  user_id: z.uuid(),
  session_id: z.uuid(),
  ...Issued,
  refresh_hash: hexBytes(32),
};

/** An EIP-55 Ethereum address (the SIWE login identifier). */
const EthAddress = z.string().regex(/^0x[0-9a-fA-F]{40}$/);
/** The enclave's MAC binding a login method to an account (enclave/auth/method-binding.ts). */
export const MethodBindingSchema = z.string().regex(/^mb1\.[A-Za-z0-9_-]{43}$/);

/** WebAuthn JSON (options, responses): checked by @simplewebauthn in the enclave. */
const WebAuthnJson = z.record(z.string(), z.unknown());
export const CredentialId = z.string().regex(/^[A-Za-z0-9_-]{16,1366}$/);
const PasskeyPublicKey = z.string().regex(/^[A-Za-z0-9_-]{40,2048}$/);
const Counter = z.number().int().nonnegative().max(0xffffffff);
/** A stored passkey as the host hands it to the enclave, with the enclave's binding. */
const PasskeyCredential = z
  .object({
    user_id: z.uuid(),
    credential_id: CredentialId,
    public_key: PasskeyPublicKey,
    counter: Counter,
    binding: MethodBindingSchema,
  })
  .strict();

/** A TOTP secret sealed by the enclave to one account (enclave/auth/totp.ts). */
export const SealedTotp = z.string().regex(/^ts1\.[A-Za-z0-9+/=]{40,200}$/);
export const TotpCode = z.string().regex(/^\d{6}$/);
/** A recovery code as shown (`ABCDE-FGHJK`), any case, dash optional. */
export const RecoveryCode = z.string().regex(/^[A-Za-z0-9]{5}-?[A-Za-z0-9]{5}$/);
export const RecoveryMac = z.string().regex(/^[A-Za-z0-9_-]{43}$/);
/**
 * The 30 s step of the TOTP code a login, step-up or confirmation accepted (null: none): the
 * host stores it with the session, only if newer than the account's stored one, so a code used
 * at one member (or before an enclave restart) is not accepted again at another.
 */
export const TotpStep = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
/** The enclave's MAC over a pending account recovery: the same shape (base64url HMAC-SHA256). */
export const PendingRecoveryMac = RecoveryMac;
/** What the code holder of a time-locked recovery shows to complete it: 128 bits, base64url. */
export const RecoveryCompletionCode = z.string().regex(/^[A-Za-z0-9_-]{22}$/);
/** A mailed code and a new password for the account `user` (reset and recovery). */
const CodeAndNewPassword = {
  email: EmailSchema,
  code: z.string().regex(/^\d{6}$/),
  secret: AuthSecretSchema,
  user: z.object({ user_id: z.uuid(), binding: MethodBindingSchema }).strict(),
};
/** A second factor: a TOTP code, or one of the recovery codes. */
export const SecondFactorSchema = z.union([
  z.object({ totp_code: TotpCode }).strict(),
  z.object({ recovery_code: RecoveryCode }).strict(),
]);
export type SecondFactor = z.infer<typeof SecondFactorSchema>;

/**
 * What a login needs for an account with a confirmed TOTP: its sealed secret (a second factor
 * is then due, whatever the first) and the MACs of its unspent recovery codes.
 */
const SecondFactorDue = {
  totp_sealed: SealedTotp.nullable().optional(),
  recovery_macs: z.array(RecoveryMac).max(10).optional(),
};

/** The account a linked method (an address, an email) belongs to, with the enclave's binding. */
const LinkedUserSchema = z
  .object({
    user_id: z.uuid(),
    binding: MethodBindingSchema,
    roles: z.array(RoleSchema).max(8),
    ...SecondFactorDue,
  })
  .strict();

/** What a one-time code is for: a code made for one purpose never works for another. */
export const OtpPurposeSchema = z.enum([
  'login',
  'reset',
  'confirm',
  'recovery',
  'step_up',
  'link',
]);
export type OtpPurpose = z.infer<typeof OtpPurposeSchema>;

export const AUTH_METHODS = {
  /** Unseal the stored auth keyring, or (`sealed: null`) create one the host must store. */
  'auth.init': {
    params: z.object({ sealed: Sealed.nullable() }).strict(),
    result: KeysResult.extend({ sealed: Sealed.nullable() }).strict(),
    phases: READY,
  },
  /** JWT key rollover, step 1: a sealed auth keyring with a new (pre-published) key. */
  'auth.prepare_rotation': {
    params: z.object({}).strict(),
    result: z
      .object({ sealed: Sealed, generation: z.number().int().positive(), kid: KidSchema })
      .strict(),
    phases: READY,
  },
  /** Step 2, once the host stored it: the enclave switches to exactly that blob. */
  'auth.activate': {
    params: z.object({ generation: z.number().int().positive(), sealed: Sealed }).strict(),
    result: KeysResult,
    phases: READY,
  },
  /** The keys a verifier may meet now (the host's JWKS document). */
  'auth.jwks': { params: z.object({}).strict(), result: KeysResult, phases: READY },
  'auth.register': {
    params: z.object({ email: EmailSchema, secret: AuthSecretSchema }).strict(),
    result: z
      .object({
        user_id: z.uuid(),
        password_sealed: SealedPassword,
        email_binding: MethodBindingSchema,
      })
      .strict(),
    phases: READY,
    detached: true,
  },
  /**
   * Verify a password (against a dummy hash when `user` is null, so an unknown email costs the
   * same), then issue an access token and the first refresh token of a new session.
   */
  'auth.login': {
    params: z
      .object({
        email: EmailSchema,
        secret: AuthSecretSchema,
        user: z
          .object({
            user_id: z.uuid(),
            password_sealed: SealedPassword,
            roles: z.array(RoleSchema).max(8),
            ...SecondFactorDue,
          })
          .strict()
          .nullable(),
        second: SecondFactorSchema.optional(),
      })
      .strict(),
    result: z
      .object({
        ...SessionIssued,
        /** A new sealed hash when the stored one used weaker parameters than configured. */
        password_sealed: SealedPassword.nullable(),
        /** The MAC of the recovery code used as second factor: the host must spend its row. */
        recovery_mac: RecoveryMac.nullable(),
        totp_step: TotpStep.nullable(),
      })
      .strict(),
    phases: READY,
    detached: true,
  },
  /** Rotate a refresh token the enclave issued for (user, session); seal the pair for retries. */
  'auth.refresh': {
    params: z
      .object({
        refresh_token: RefreshTokenSchema,
        user_id: z.uuid(),
        session_id: z.uuid(),
        roles: z.array(RoleSchema).max(8),
      })
      .strict(),
    result: z.object({ ...Issued, refresh_hash: hexBytes(32), sealed_response: Sealed }).strict(),
    phases: READY,
    overlapping: true,
  },
  /** A retry within the grace window: open the sealed pair, only for the token it answered. */
  'auth.refresh_replay': {
    params: z
      .object({
        refresh_token: RefreshTokenSchema,
        user_id: z.uuid(),
        session_id: z.uuid(),
        sealed_response: Sealed,
      })
      .strict(),
    result: z.object(Issued).strict(),
    phases: READY,
  },
  /** A single-use SIWE nonce the enclave remembers until it expires or is used. */
  'auth.siwe_nonce': {
    params: z.object({}).strict(),
    result: z
      .object({ nonce: z.string().regex(/^[0-9a-f]{24}$/), expires_at: UnixSeconds })
      .strict(),
    phases: READY,
  },
  /**
   * Verify a SIWE message and its EIP-191 signature (docs/protocol/auth.md). `user`: the account
   * the host has linked to the message's address, with the enclave's binding of that link;
   * null when none, and then the enclave makes a new account id and its binding.
   */
  'auth.siwe_login': {
    params: z
      .object({
        message: z.string().min(1).max(SIWE_MAX_LENGTH),
        signature: z.string().regex(/^0x[0-9a-fA-F]{130}$/),
        user: LinkedUserSchema.nullable(),
        second: SecondFactorSchema.optional(),
      })
      .strict(),
    result: z
      .object({
        ...SessionIssued,
        address: EthAddress,
        /** Set when `user` was null: the new account's binding, for the host to store. */
        binding: MethodBindingSchema.nullable(),
        recovery_mac: RecoveryMac.nullable(),
        totp_step: TotpStep.nullable(),
      })
      .strict(),
    phases: READY,
  },
  /**
   * Draw a one-time code for `email`, keep its MAC and mail it from the enclave. `dev_mail`:
   * the rendered mail, only on the simulated platform without SMTP_URL (else null).
   */
  'auth.otp_start': {
    params: z
      .object({
        email: EmailSchema,
        purpose: OtpPurposeSchema,
        /** Purpose `link` only: the code is bound to this (enclave-checked) token's account. */
        access_token: Jwt.optional(),
      })
      .strict(),
    result: z
      .object({
        dev_mail: z
          .object({
            from: z.string().max(256),
            to: EmailSchema,
            subject: z.string().max(256),
            text: z.string().max(4096),
          })
          .strict()
          .nullable(),
      })
      .strict(),
    phases: READY,
    detached: true,
  },
  /** Check a code (5 wrong tries lock it); `user` as for auth.siwe_login, linked by email. */
  'auth.otp_verify': {
    params: z
      .object({
        email: EmailSchema,
        code: z.string().regex(/^\d{6}$/),
        user: LinkedUserSchema.nullable(),
        second: SecondFactorSchema.optional(),
      })
      .strict(),
    result: z
      .object({
        ...SessionIssued,
        binding: MethodBindingSchema.nullable(),
        recovery_mac: RecoveryMac.nullable(),
        totp_step: TotpStep.nullable(),
      })
      .strict(),
    phases: READY,
  },
  /**
   * A new password with a `reset` code: checked against the code, the binding of the account's
   * email, the minimum length; hashed with Argon2id and sealed to the account.
   */
  'auth.password_reset': {
    params: z.object(CodeAndNewPassword).strict(),
    result: z.object({ password_sealed: SealedPassword }).strict(),
    phases: READY,
    detached: true,
  },
  /**
   * Account recovery (docs/protocol/auth.md "Account recovery"): a `recovery` code and a new
   * password, checked as for auth.password_reset. Without `second_factor` the new password is
   * sealed as the account's (reset at once) and the other fields are null. With it (the account
   * has TOTP or a passkey), the new password is sealed for this recovery only (it does not open
   * as a password), `unlock_at` = now + AUTH_RECOVERY_DELAY_SECONDS, `expires_at` = unlock_at +
   * 7 days, and a 128-bit `completion_code` is drawn for the code holder; `mac` covers them all
   * with the account's current sealed password (`password_state`, null for none), so the host
   * can neither shorten the wait, swap the password, nor replay the row once the password
   * changed or without the code.
   */
  'auth.recovery_confirm': {
    params: z
      .object({
        ...CodeAndNewPassword,
        second_factor: z.boolean(),
        password_state: SealedPassword.nullable(),
      })
      .strict(),
    result: z
      .object({
        password_sealed: SealedPassword,
        recovery_id: z.uuid(),
        unlock_at: z.number().int().nonnegative().nullable(),
        expires_at: z.number().int().nonnegative().nullable(),
        mac: PendingRecoveryMac.nullable(),
        completion_code: RecoveryCompletionCode.nullable(),
      })
      .strict(),
    phases: READY,
    detached: true,
  },
  /**
   * Complete a time-locked recovery: the MAC (with the code holder's `completion_code` and the
   * account's current sealed password) must be the enclave's, and the enclave's clock within
   * [unlock_at, expires_at). Returns the new password sealed as the account's.
   */
  'auth.recovery_complete': {
    params: z
      .object({
        user_id: z.uuid(),
        recovery_id: z.uuid(),
        unlock_at: z.number().int().nonnegative(),
        expires_at: z.number().int().nonnegative(),
        password_sealed: SealedPassword,
        mac: PendingRecoveryMac,
        password_state: SealedPassword.nullable(),
        completion_code: RecoveryCompletionCode,
      })
      .strict(),
    result: z.object({ password_sealed: SealedPassword }).strict(),
    phases: READY,
  },
  /**
   * Registration confirmation: the `confirm` code for the pending account bound to `email`, and
   * the registration's password (`secret`, an envelope's action `register`), checked against the
   * account's sealed one: the mailbox proves the address, the password which registration it
   * confirms (a later registration of the address mails the same mailbox).
   */
  'auth.confirm_email': {
    params: z
      .object({
        email: EmailSchema,
        code: z.string().regex(/^\d{6}$/),
        secret: AuthSecretSchema,
        user: z
          .object({
            user_id: z.uuid(),
            binding: MethodBindingSchema,
            password_sealed: SealedPassword,
          })
          .strict(),
      })
      .strict(),
    result: z.object({ confirmed: z.literal(true) }).strict(),
    phases: READY,
    detached: true,
  },
  /** Link the SIWE signer's address to the account the (enclave-checked) access token names. */
  'auth.siwe_link': {
    params: z
      .object({
        access_token: Jwt,
        message: z.string().min(1).max(SIWE_MAX_LENGTH),
        signature: z.string().regex(/^0x[0-9a-fA-F]{130}$/),
      })
      .strict(),
    result: z
      .object({ user_id: z.uuid(), address: EthAddress, binding: MethodBindingSchema })
      .strict(),
    phases: READY,
  },
  /**
   * A password for the token's account (checked here): `link` (it has none) or `change`. The
   * account's email and its binding name the account the password logs in to; an envelope must
   * be for this action and that email. Hashed with Argon2id and sealed to the account.
   */
  'auth.password_set': {
    params: z
      .object({
        access_token: Jwt,
        action: z.enum(['link', 'change']),
        email: EmailSchema,
        binding: MethodBindingSchema,
        secret: AuthSecretSchema,
      })
      .strict(),
    result: z.object({ user_id: z.uuid(), password_sealed: SealedPassword }).strict(),
    phases: READY,
    detached: true,
  },
  /** Link an email: the `link` code mailed for the token's account and this address. */
  'auth.email_link': {
    params: z
      .object({ access_token: Jwt, email: EmailSchema, code: z.string().regex(/^\d{6}$/) })
      .strict(),
    result: z
      .object({ user_id: z.uuid(), email: EmailSchema, binding: MethodBindingSchema })
      .strict(),
    phases: READY,
  },
  /** TOTP enrolment, step 1: a new secret sealed to the token's account, and its URI (once). */
  'auth.totp_enroll': {
    params: z.object({ access_token: Jwt, label: z.string().regex(/^[^\s:]{1,128}$/) }).strict(),
    result: z
      .object({ user_id: z.uuid(), totp_sealed: SealedTotp, otpauth_uri: z.string().max(512) })
      .strict(),
    phases: READY,
  },
  /** Step 2: a code from the app proves the secret was stored; recovery codes (shown once). */
  'auth.totp_confirm': {
    params: z.object({ access_token: Jwt, totp_sealed: SealedTotp, code: TotpCode }).strict(),
    result: z
      .object({
        user_id: z.uuid(),
        recovery_codes: z.array(RecoveryCode).length(10),
        recovery_macs: z.array(RecoveryMac).length(10),
        totp_step: TotpStep,
      })
      .strict(),
    phases: READY,
  },
  /**
   * Step-up: a second factor for the session of `access_token` (checked here). A new pair for
   * the same session whose token carries `amr` + `otp`, `mfa` and a fresh `auth_time`.
   */
  'auth.step_up': {
    params: z
      .object({
        access_token: Jwt,
        roles: z.array(RoleSchema).max(8),
        totp_sealed: SealedTotp.nullable(),
        second: SecondFactorSchema,
        /** The MACs of the account's unspent recovery codes: a recovery code must match one. */
        recovery_macs: z.array(RecoveryMac).max(10),
      })
      .strict(),
    result: z
      .object({
        ...SessionIssued,
        recovery_mac: RecoveryMac.nullable(),
        totp_step: TotpStep.nullable(),
      })
      .strict(),
    phases: READY,
  },
  /**
   * Step-up by email code (accounts without TOTP): the `step_up` code mailed to the email the
   * enclave bound to the token's account; the same session gets a pair whose `amr` adds `otp`
   * with a fresh `auth_time` (not `mfa`: the mailbox is not a second factor).
   */
  'auth.step_up_email': {
    params: z
      .object({
        access_token: Jwt,
        roles: z.array(RoleSchema).max(8),
        email: EmailSchema,
        binding: MethodBindingSchema,
        code: z.string().regex(/^\d{6}$/),
      })
      .strict(),
    result: z.object(SessionIssued).strict(),
    phases: READY,
  },
  /** Passkey registration options for the token's account (challenge remembered here). */
  'auth.passkey_register_options': {
    params: z
      .object({
        access_token: Jwt,
        user_name: z.string().min(1).max(128),
        exclude: z.array(CredentialId).max(32),
      })
      .strict(),
    result: z.object({ options: WebAuthnJson }).strict(),
    phases: READY,
  },
  /** Verify the attestation: the credential and the enclave's binding for the host to store. */
  'auth.passkey_register_verify': {
    params: z.object({ access_token: Jwt, response: WebAuthnJson }).strict(),
    result: PasskeyCredential,
    phases: READY,
  },
  'auth.passkey_login_options': {
    params: z.object({}).strict(),
    result: z.object({ options: WebAuthnJson }).strict(),
    phases: READY,
  },
  /** Verify an assertion by the stored credential (binding checked); a pair and the new counter. */
  'auth.passkey_login_verify': {
    params: z
      .object({
        response: WebAuthnJson,
        credential: PasskeyCredential.extend({
          roles: z.array(RoleSchema).max(8),
          ...SecondFactorDue,
        })
          .strict()
          .nullable(),
        /** Needed only when the account has TOTP and the authenticator did not verify the user. */
        second: SecondFactorSchema.optional(),
      })
      .strict(),
    result: z
      .object({
        ...SessionIssued,
        counter: Counter,
        binding: MethodBindingSchema,
        recovery_mac: RecoveryMac.nullable(),
        totp_step: TotpStep.nullable(),
      })
      .strict(),
    phases: READY,
  },
  /** Step-up by passkey, step 1: request options for the token's own passkeys (`allow`). */
  'auth.passkey_step_up_options': {
    params: z.object({ access_token: Jwt, allow: z.array(CredentialId).min(1).max(32) }).strict(),
    result: z.object({ options: WebAuthnJson }).strict(),
    phases: READY,
  },
  /**
   * Step 2: an assertion by one of the token's account's passkeys over a step-up challenge made
   * for that account; a pair for the same session with `amr` + `hwk`, `mfa` and a fresh
   * `auth_time`, and the new counter's binding.
   */
  'auth.passkey_step_up': {
    params: z
      .object({
        access_token: Jwt,
        roles: z.array(RoleSchema).max(8),
        response: WebAuthnJson,
        credential: PasskeyCredential,
      })
      .strict(),
    result: z.object({ ...SessionIssued, counter: Counter, binding: MethodBindingSchema }).strict(),
    phases: READY,
  },
  /** Counters for metrics and for the structural timing test (no secrets). */
  'auth.stats': {
    params: z.object({}).strict(),
    result: z
      .object({
        argon2_hashes: z.number().int().nonnegative(),
        argon2_verifies: z.number().int().nonnegative(),
        running: z.number().int().nonnegative(),
        waiting: z.number().int().nonnegative(),
      })
      .strict(),
    phases: READY,
  },
} as const;
