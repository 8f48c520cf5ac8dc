/**
 * The seed's client API, kept working: `CryptoHelper.verifyAttestation(attestation,
 * expectedImageHash, options)` and `CryptoHelper.encryptCredentials(credentials, enclavePubkey)`.
 * Isomorphic: @noble/* and @hpke/* only, no `node:` import, so it runs in browsers as in Node.
 */
import { randomBytes } from '@noble/hashes/utils.js';
import { aggregatesSubject } from '../protocol/aggregates.js';
import { CredentialPlaintextSchema, type Exchange } from '../protocol/credentials.js';
import { base64ToBytes, bytesToBase64url, utf8 } from '../protocol/encoding.js';
import { sealEnvelopeHpke, type HpkeAlg, type HpkeEnvelope } from '../protocol/envelope/hpke.js';
import { sealEnvelopeV1, type EnvelopeV1 } from '../protocol/envelope/v1.js';
import { ClientError } from './errors.js';
import { sendWithFreshEnvelope } from './fresh-envelope.js';
import { noblePrimitives } from './noble-primitives.js';
import {
  verifyAttestationResponse,
  type AttestationVerification,
} from './verify/verify-attestation.js';
import type { VerificationPolicy } from './verify/types.js';

export interface ExchangeCredentials {
  exchange: Exchange;
  apiKey: string;
  apiSecret: string;
  passphrase?: string;
}

export interface EncryptOptions {
  /** The key id from a verified attestation; the enclave then uses exactly that key. */
  keyId?: string;
  /** Seconds since the epoch; defaults to now. */
  issuedAt?: number;
  /**
   * The session lifetime you will send as `metadata.ttl`: sealed into the envelope, so the
   * enclave binds no longer a lifetime whatever `metadata.ttl` the host forwards.
   */
  ttl?: number;
  /**
   * The `metadata.label` you will send: sealed in, so the enclave refuses the submission if the
   * host forwards another label (`ENVELOPE_LABEL_MISMATCH`).
   */
  label?: string;
  /**
   * The Cloister user id that will own the session (your access token's `sub`): sealed in as
   * the aggregates subject, so a signed result over this credential can name no other user
   * (the enclave refuses such a job with `CREDENTIAL_SUBJECT_MISMATCH`).
   */
  userId?: string;
}

export type VerifyOptions = Omit<VerificationPolicy, 'expectedMeasurements'>;

function plaintextFor(
  credentials: ExchangeCredentials,
  { issuedAt, ttl, label, userId }: EncryptOptions,
): Uint8Array {
  const parsed = CredentialPlaintextSchema.safeParse({
    ...credentials,
    issued_at: issuedAt ?? Math.floor(Date.now() / 1000),
    ...(ttl !== undefined ? { ttl } : {}),
    ...(label !== undefined ? { label } : {}),
    ...(userId !== undefined ? { subject: aggregatesSubject({ userId }) } : {}),
  });
  if (!parsed.success) {
    // Name the fields only: the values are the secrets.
    const fields = [...new Set(parsed.error.issues.map((i) => i.path.join('.')))].join(', ');
    throw new ClientError('INPUT_INVALID', `invalid credentials: ${fields}`);
  }
  return utf8.encode(JSON.stringify(parsed.data));
}

function recipientKey(enclavePubkey: string): Uint8Array {
  try {
    const key = base64ToBytes(enclavePubkey);
    if (key.length === 32) return key;
  } catch {
    // fall through
  }
  throw new ClientError('INPUT_INVALID', 'enclavePubkey must be base64 of 32 bytes');
}

export class CryptoHelper {
  /**
   * Verifies attestation evidence. `expectedImageHash` is the measurement you reproduced from
   * the source (or a list of acceptable ones); simulated evidence is refused unless
   * `options.trustedSimulatedVendorKeys` names its vendor key. Never throws on bad evidence:
   * check `valid` and read `reasons`.
   */
  static async verifyAttestation(
    attestation: unknown,
    expectedImageHash: string | readonly string[],
    options: VerifyOptions = {},
  ): Promise<AttestationVerification> {
    const expectedMeasurements =
      typeof expectedImageHash === 'string' ? [expectedImageHash] : expectedImageHash;
    return verifyAttestationResponse(attestation, { ...options, expectedMeasurements });
  }

  /** As verifyAttestation, but throws ClientError('ATTESTATION_INVALID') unless valid. */
  static async requireValidAttestation(
    attestation: unknown,
    expectedImageHash: string | readonly string[],
    options: VerifyOptions = {},
  ): Promise<AttestationVerification> {
    const v = await CryptoHelper.verifyAttestation(attestation, expectedImageHash, options);
    if (!v.valid)
      throw new ClientError(
        'ATTESTATION_INVALID',
        `attestation refused: ${v.reasons.join('; ')}`,
        v.reasons,
      );
    return v;
  }

  /** A fresh random nonce for GET /attestation/quote?nonce=… (32 bytes, base64url). */
  static newNonce(): string {
    return bytesToBase64url(randomBytes(32));
  }

  /** Credential envelope v1 (X25519 + HKDF-SHA256 + AES-256-GCM), the seed's format. */
  static async encryptCredentials(
    credentials: ExchangeCredentials,
    enclavePubkey: string,
    options: EncryptOptions = {},
  ): Promise<EnvelopeV1> {
    const key = recipientKey(enclavePubkey);
    const plaintext = plaintextFor(credentials, options);
    try {
      return sealEnvelopeV1(
        noblePrimitives,
        key,
        plaintext,
        options.keyId ? { keyId: options.keyId } : {},
      );
    } finally {
      plaintext.fill(0);
    }
  }

  /**
   * encryptCredentials, handed to `send` (which posts `{ ...envelope, metadata }` to
   * /enclave/submit_key); a refusal by a just-restarted enclave (ENVELOPE_BEFORE_START) is
   * sealed again once with its `not_before` and resent (fresh-envelope.ts).
   */
  static sendCredentials<T>(
    credentials: ExchangeCredentials,
    enclavePubkey: string,
    options: Omit<EncryptOptions, 'issuedAt'>,
    send: (envelope: EnvelopeV1) => Promise<T>,
  ): Promise<T> {
    return sendWithFreshEnvelope(
      (issuedAt) =>
        CryptoHelper.encryptCredentials(credentials, enclavePubkey, { ...options, issuedAt }),
      send,
    );
  }

  /** The same credentials as an RFC 9180 HPKE envelope (base mode, X25519, AES-128/256-GCM). */
  static async encryptCredentialsHpke(
    credentials: ExchangeCredentials,
    enclavePubkey: string,
    options: EncryptOptions & { alg?: HpkeAlg } = {},
  ): Promise<HpkeEnvelope> {
    const key = recipientKey(enclavePubkey);
    const plaintext = plaintextFor(credentials, options);
    try {
      return await sealEnvelopeHpke(
        options.alg ?? 'HPKE-Base-X25519-SHA256-A256GCM',
        key,
        plaintext,
        options.keyId ? { keyId: options.keyId } : {},
      );
    } finally {
      plaintext.fill(0);
    }
  }
}
